/**
 * Findings that come from counters alone (cpu.stat throttling, CPU pressure): the profile shows
 * no kernel path for them, the snapshots around the recording do.
 */
import type { Signature } from '../signatures/catalog.ts';
import type { AnalysisResult } from './analyze.ts';
import { isContainer } from './containers.ts';
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
    const hit: { identity: { id: string; name: string }; value: number }[] = [];
    for (const [id, metrics] of counters.byContainer) {
      const v = metrics.get(rule.metric);
      const c = byId.get(id);
      if (v === undefined || v < rule.min || !c || !isContainer(c.identity)) continue;
      hit.push({ identity: c.identity, value: v });
    }
    if (hit.length > 0) out.push(counterFinding(s, rule.metric, rule.unit, hit, analysis));
  }
  return out;
}

/** One finding per signature; every container over the threshold is a victim. */
function counterFinding(
  s: Signature,
  metric: string,
  unit: string,
  hit: { identity: { id: string; name: string }; value: number }[],
  analysis: AnalysisResult,
): Finding {
  hit.sort((a, b) => b.value - a.value);
  const value = hit[0].value;
  const ids = new Set(hit.map((h) => h.identity.id));
  // Not a neighbour (own limit): no antagonist. Otherwise the container using most CPU besides the victims.
  const busiest = analysis.containers.filter((c) => isContainer(c.identity));
  const other = s.neighbour
    ? (busiest.find((c) => !ids.has(c.identity.id)) ??
      busiest.find((c) => c.identity.id !== hit[0].identity.id))
    : undefined;
  return {
    signature: s.id,
    kind: 'signature',
    title: `${s.title} (${hit.map((h) => h.identity.name).join(', ')})`,
    severity: value >= s.threshold.critical ? 'critical' : 'warning',
    impact: value,
    antagonist: other
      ? { container: other.identity.id, name: other.identity.name, process: other.processes[0]?.comm ?? null }
      : null,
    victims: hit.map((h) => ({
      container: h.identity.id,
      name: h.identity.name,
      reasons: [s.neighbour ? 'pressure' : 'own-limit'],
    })),
    sharedStorm: false,
    syscall: null,
    callSite: null,
    callSiteNote: 'a counter finding: the profile has no call site for it',
    kernelPath: [],
    resource: s.resource,
    evidence: hit.map((h) => ({
      metric: `${metric} (${unit}), ${h.identity.name}`,
      value: h.value,
      unit: 'fraction' as const,
      baseline: null,
      container: h.identity.id,
    })),
    fix: s.fix,
    references: s.references,
  };
}
