/** What the diagnosis concludes: findings ordered by impact, each with checkable evidence. */

export type Severity = 'critical' | 'warning' | 'info';

export interface Evidence {
  /** What was measured, e.g. "host CPU in fadvise64 > lru_add_drain_all". */
  metric: string;
  value: number;
  unit: 'fraction' | 'dentries' | 'bytes' | 'periods' | 'correlation' | 'count' | 'calls/s';
  /** The same metric in the baseline run, when there is one. */
  baseline: number | null;
  /** The container the metric belongs to, when it is per container. */
  container: string | null;
}

export interface Victim {
  container: string;
  name: string;
  /** Why it counts as a victim: in-path, lock-wait, pressure, correlated, shared-storm. */
  reasons: string[];
}

export type Finding = {
  /** Signature id, or null for a generic finding or a cannot-answer verdict. */
  signature: string | null;
  kind: 'signature' | 'generic' | 'cannot-answer';
  title: string;
  severity: Severity;
  /** Sort key: the share of host CPU (or the counter value) behind the finding. */
  impact: number;
  antagonist: { container: string; name: string; process: string | null } | null;
  victims: Victim[];
  /** Every container with the problem drives it: each is both victim and antagonist. */
  sharedStorm: boolean;
  syscall: string | null;
  callSite: { function: string; module: string } | null;
  callSiteNote: string | null;
  kernelPath: string[];
  resource: string | null;
  evidence: Evidence[];
  fix: string;
  references: string[];
};

/** A finding, with the host it was made on when several hosts were analysed together. */
export type HostFinding = Finding & { host?: string };

export const severityRank: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };

export function worstSeverity(findings: Finding[]): Severity | 'none' {
  let worst: Severity | 'none' = 'none';
  for (const f of findings) {
    if (worst === 'none' || severityRank[f.severity] > severityRank[worst]) worst = f.severity;
  }
  return worst;
}
