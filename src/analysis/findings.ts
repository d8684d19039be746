/** What the diagnosis concludes: findings ordered by impact, each with checkable evidence. */

export type Severity = 'critical' | 'warning' | 'info';

export interface Evidence {
  /** What was measured, e.g. "host CPU in fadvise64 > lru_add_drain_all". */
  metric: string;
  value: number;
  unit:
    | 'fraction'
    | 'dentries'
    | 'bytes'
    | 'periods'
    | 'correlation'
    | 'count'
    | 'calls/s'
    | 'CPUs'
    | 'ratio';
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
  /** What it suffered, measured (analysis/victim-harm.ts); absent before that step ran. */
  harm?: VictimHarm;
}

/** A victim's measured harm: syscall latency (eBPF), runnable and blocked time, and their change. */
export interface VictimHarm {
  /** e.g. "newfstatat p99 +180%, runnable +0.40 tasks"; empty when nothing was measured. */
  summary: string;
  /** null without a baseline or without measurements; else whether anything degraded beyond noise. */
  degraded: boolean | null;
  /** Largest relative growth of p50 or p99 latency of its syscalls (1.8 = +180%); null: none measured. */
  worstLatencyChange: number | null;
  syscalls: {
    syscall: string;
    callsPerSecond: number;
    errorsPerSecond: number;
    p50Us: number;
    p99Us: number;
    p50Change: number | null;
    p99Change: number | null;
  }[];
}

/** How far the blame can be trusted: see src/analysis/README.md, "Blame: evidence and confidence". */
export type Confidence = 'high' | 'medium' | 'low';

/**
 * What a finding's blame rests on: a known signature matched; the antagonist's time in the path
 * grew against a baseline; other containers share the kernel path (on-CPU or blocked); their
 * kernel, runnable or blocked time rises in the windows where the antagonist is busy; they waited
 * runnable while it ran on their CPUs; pressure counters (PSI, cpu.stat) show the stall.
 */
export type Basis =
  | 'signature'
  | 'growth-vs-baseline'
  | 'shared-path'
  | 'time-correlation'
  | 'preemption'
  | 'pressure';

export const confidenceRank: Record<Confidence, number> = { high: 3, medium: 2, low: 1 };

/**
 * Runnable waits from context switches, for blame by preemption: per victim container id, per
 * culprit (a container id as ContainerIndex gives it, the victim itself for self-preemption, or
 * KERNEL_CULPRIT for kernel threads and interrupts), the seconds the victim's tasks spent
 * runnable while the culprit ran on their CPU.
 */
export interface PreemptionMatrix {
  windowSeconds: number;
  waits: Map<string, Map<string, number>>;
}

export const KERNEL_CULPRIT = '(kernel)';

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
  /** In a shared storm, every driver, the antagonist first (absent or empty otherwise). */
  drivers?: { container: string; name: string }[];
  syscall: string | null;
  /** `file` and `line`: where in the function the call is (debug info), when resolved. */
  callSite: { function: string; module: string; file?: string; line?: number } | null;
  callSiteNote: string | null;
  kernelPath: string[];
  resource: string | null;
  evidence: Evidence[];
  fix: string;
  references: string[];
  confidence: Confidence;
  /** What the blame rests on; empty when the finding blames no one. */
  basis: Basis[];
  /**
   * What the severity rests on: measured-harm (the victims' degradation against a baseline) or
   * antagonist-share (no baseline: estimated from the antagonist's share). Absent: not assessed.
   */
  severityBasis?: 'measured-harm' | 'antagonist-share';
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

/**
 * The order findings are shown in: cannot-answer verdicts first (they qualify everything else),
 * then by severity, then confidence, then harm (impact).
 */
export function sortFindings<F extends Finding>(findings: F[]): F[] {
  const first = (f: Finding) => (f.kind === 'cannot-answer' ? 0 : 1);
  return findings.sort(
    (a, b) =>
      first(a) - first(b) ||
      severityRank[b.severity] - severityRank[a.severity] ||
      confidenceRank[b.confidence] - confidenceRank[a.confidence] ||
      b.impact - a.impact,
  );
}

/** A finding that blames no one and points at no path: a verdict ("cannot answer", "no harm shown"). */
export function verdictFinding(
  v: Pick<Finding, 'kind' | 'title' | 'impact' | 'fix' | 'confidence'>,
): Finding {
  return {
    ...v,
    signature: null,
    severity: 'info',
    antagonist: null,
    victims: [],
    sharedStorm: false,
    syscall: null,
    callSite: null,
    callSiteNote: null,
    kernelPath: [],
    resource: null,
    evidence: [],
    references: [],
    basis: [],
  };
}
