/**
 * The evidence table of a signature finding: the path's share of host CPU (with the baseline's),
 * the signature's required frames, each container's share in the path, and the counters the
 * signature names, with their units.
 */
import type { Signature } from '../signatures/catalog.ts';
import { type CounterSet, metricValue } from './counters.ts';
import type { Evidence } from './findings.ts';
import type { ContainerMatch, SignatureMatch } from './signature-match.ts';

export type Names = Map<string, { id: string; name: string; runtime: string }>;

export interface BaselineMatch {
  /** Baseline matched weight as a share of the baseline's total. */
  share: number;
  /** Per target container id: the baseline share of its matched container. */
  byContainer: Map<string, number>;
}

export function evidenceOf(
  s: Signature,
  m: SignatureMatch,
  total: number,
  pool: [string, ContainerMatch][],
  names: Names,
  counters: CounterSet | undefined,
  base: BaselineMatch | undefined,
  baseCounters: CounterSet | undefined,
): Evidence[] {
  const frames = s.match.kernelFrames.slice(0, 3).join(', ');
  const ev: Evidence[] = [
    {
      metric: `share of host CPU with ${frames}… on the stack`,
      value: m.weight / total,
      unit: 'fraction',
      baseline: base ? base.share : null,
      container: null,
    },
  ];
  m.signature.needsAnyOf?.forEach((n, k) => {
    if (!('frames' in n)) return;
    // Containers whose exceptWith frames show the same frames as ordinary work are not counted.
    const unless = n.exceptWith ? `, not counting containers that also run ${n.exceptWith.frames[0]}` : '';
    ev.push({
      metric: `share of host CPU with ${n.frames.join(', ')} on the stack${unless}`,
      value: m.needWeights[k] / total,
      unit: 'fraction',
      baseline: null,
      container: null,
    });
  });
  for (const [id, c] of pool.slice(0, 6)) {
    ev.push({
      metric: `share of host CPU in the path, ${names.get(id)?.name ?? id}`,
      value: c.weight / total,
      unit: 'fraction',
      baseline: base ? (base.byContainer.get(id) ?? 0) : null,
      container: id,
    });
    if (c.userFrame > 0 && s.match.userFrames) {
      ev.push({
        metric: `of which with ${s.match.userFrames[0]} on the stack`,
        value: c.userFrame / total,
        unit: 'fraction',
        baseline: null,
        container: id,
      });
    }
  }
  for (const rule of s.counters) {
    const v = counters ? metricValue(counters, rule.metric) : null;
    const b = baseCounters ? metricValue(baseCounters, rule.metric) : null;
    if (v)
      ev.push({
        metric: `${rule.metric} (${rule.unit})`,
        value: v.value,
        unit: unitOf(rule.metric),
        baseline: b?.value ?? null,
        container: v.container,
      });
  }
  return ev;
}

function unitOf(metric: string): Evidence['unit'] {
  if (metric.startsWith('dentry.')) return 'dentries';
  if (metric.endsWith('.bytes.delta')) return 'bytes';
  return 'fraction';
}
