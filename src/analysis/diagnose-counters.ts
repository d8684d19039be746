/**
 * Findings that come from counters alone (cpu.stat throttling, CPU pressure): the profile shows
 * no kernel path for them, the snapshots around the recording do.
 */
import type { Signature } from '../signatures/catalog.ts';
import type { AnalysisResult } from './analyze.ts';
import { isContainer } from './container-index.ts';
import type { CounterSet } from './counters.ts';
import type { Finding } from './findings.ts';

export function counterFindings(
  catalog: Signature[],
  counters: CounterSet,
  analysis: AnalysisResult,
): Finding[] {
  const out: Finding[] = [];
  const byId = new Map(analysis.containers.map((c) => [c.identity.id, c]));
  for (const s of catalog) {
    if (s.match.kernelFrames.length > 0) continue;
    const rule = s.counters.find((r) => r.role === 'required');
    if (!rule) continue;
    for (const [id, metrics] of counters.byContainer) {
      const v = metrics.get(rule.metric);
      const c = byId.get(id);
      if (v === undefined || v < rule.min || !c || !isContainer(c.identity)) continue;
      out.push(counterFinding(s, rule.metric, rule.unit, v, c.identity, analysis));
    }
  }
  return out;
}

function counterFinding(
  s: Signature,
  metric: string,
  unit: string,
  value: number,
  victim: { id: string; name: string },
  analysis: AnalysisResult,
): Finding {
  // Not a neighbour (own limit): no antagonist. Otherwise the container using most CPU besides the victim.
  const other = s.neighbour
    ? analysis.containers.find((c) => c.identity.id !== victim.id && isContainer(c.identity))
    : undefined;
  return {
    signature: s.id,
    kind: 'signature',
    title: `${s.title} (${victim.name})`,
    severity: value >= s.threshold.critical ? 'critical' : 'warning',
    impact: value,
    antagonist: other
      ? { container: other.identity.id, name: other.identity.name, process: other.processes[0]?.comm ?? null }
      : null,
    victims: [{ container: victim.id, name: victim.name, reasons: [s.neighbour ? 'pressure' : 'own-limit'] }],
    sharedStorm: false,
    syscall: null,
    callSite: null,
    callSiteNote: 'a counter finding: the profile has no call site for it',
    kernelPath: [],
    resource: s.resource,
    evidence: [
      { metric: `${metric} (${unit})`, value, unit: 'fraction', baseline: null, container: victim.id },
    ],
    fix: s.fix,
    references: s.references,
  };
}
