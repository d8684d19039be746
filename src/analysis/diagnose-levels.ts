/**
 * Findings from levels, not changes: a host already carrying millions of negative dentries slows
 * every path lookup even when the window shows no growth (the neighbour that made them may have
 * exited; nothing frees them but memory pressure, a drop_caches or removing their directory).
 */
import type { Signature } from '../signatures/catalog.ts';
import type { CounterSet } from './counters.ts';
import type { Finding } from './findings.ts';
import type { LatencySummary } from './syscall-latency.ts';

/**
 * 1 million negative dentries: the lab's negative-dentries scenario measures +14-16% per request
 * for every path lookup at 3-4.5 million (src/lab/README.md); a host's own steady state (package
 * managers, PATH searches) stays in the tens of thousands.
 */
export const NEGATIVE_DENTRY_LEVEL = 1_000_000;
/** A container failing this many path lookups per second with ENOENT is a likely source. */
const ENOENT_SOURCE_PER_SECOND = 1000;

export function levelFindings(
  catalog: Signature[],
  counters: CounterSet | undefined,
  findings: Finding[],
  latency: LatencySummary | null,
): Finding[] {
  const level = counters?.host.get('dentry.negative.level');
  if (level === undefined || level < NEGATIVE_DENTRY_LEVEL) return [];
  if (findings.some((f) => f.signature === 'negative-dentries')) return [];
  const sig = catalog.find((s) => s.id === 'negative-dentries');
  if (!sig) return [];
  const source = enoentSource(latency);
  const millions = (level / 1e6).toFixed(1);
  return [
    {
      signature: sig.id,
      kind: 'signature',
      title: `The host carries ${millions} million negative dentries: every container's path lookups walk longer dcache chains (a level; it did not need to grow in this window)`,
      severity: 'warning',
      impact: 0,
      antagonist: source ? { container: source.id, name: source.name, process: null } : null,
      victims: [],
      sharedStorm: false,
      syscall: source?.syscall ?? null,
      callSite: null,
      callSiteNote: 'a level finding: the dentries may come from a process that has exited',
      kernelPath: [],
      resource: sig.resource,
      evidence: [
        {
          metric: 'negative dentries on the host (/proc/sys/fs/dentry-state nr_negative)',
          value: level,
          unit: 'dentries',
          baseline: null,
          container: null,
        },
        ...(source
          ? [
              {
                metric: `${source.syscall} calls failing with ENOENT, ${source.name}`,
                value: source.perSecond,
                unit: 'calls/s' as const,
                baseline: null,
                container: source.id,
              },
            ]
          : []),
      ],
      fix: `${sig.fix} Without a live source, the level itself is the problem: drop the negative dentries now (echo 2 > /proc/sys/vm/drop_caches) or remove the directory that was probed (rmdir prunes its dentries).`,
      references: sig.references,
      // A level names no culprit for sure: the ENOENT storm is a likely source, not proof.
      confidence: source ? 'low' : 'medium',
      basis: source ? ['signature'] : [],
    },
  ];
}

function enoentSource(latency: LatencySummary | null) {
  let best: { id: string; name: string; syscall: string; perSecond: number } | null = null;
  for (const c of latency?.containers ?? []) {
    for (const r of c.syscalls) {
      const enoent = r.errors.find((e) => e.errno === 2);
      if (
        enoent &&
        enoent.perSecond >= ENOENT_SOURCE_PER_SECOND &&
        (!best || enoent.perSecond > best.perSecond)
      )
        best = { id: c.id, name: c.name, syscall: r.syscall, perSecond: enoent.perSecond };
    }
  }
  return best;
}
