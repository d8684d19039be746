/**
 * Load that is not the workload under study. A lab run or the demo knows its own containers; a
 * system-wide recording also sees everything else on the host (other containers, processes outside
 * any container), and that load changes both the latencies measured and what the diagnosis sees.
 */
import type { AnalysisResult } from './analyze.ts';

export interface ForeignLoad {
  name: string;
  /** Fraction of the recording's CPU time (user + kernel) this container was busy. */
  busyShare: number;
}

/**
 * 5% of the host's CPU time: below that, other work does not move a median latency measurably
 * (the lab's run-to-run spread of a median is 2-3% on a quiet host).
 */
export const FOREIGN_LOAD_MIN_SHARE = 0.05;

/** Containers other than `own` busy for at least `minShare` of the recording, busiest first. */
export function foreignLoadOf(
  result: AnalysisResult,
  own: ReadonlySet<string>,
  minShare = FOREIGN_LOAD_MIN_SHARE,
): ForeignLoad[] {
  return result.containers
    .filter((c) => !own.has(c.identity.name))
    .map((c) => ({ name: c.identity.name, busyShare: c.userShare + c.kernelShare }))
    .filter((c) => c.busyShare >= minShare)
    .sort((a, b) => b.busyShare - a.busyShare);
}
