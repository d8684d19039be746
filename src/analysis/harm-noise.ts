/**
 * Is a victim's latency change harm, or noise? Judged against what the two runs themselves show,
 * so that a busy host (its own load slowing every syscall between two recordings) is not read as a
 * neighbour's harm:
 *  - sampling: the target's quantile must lie above the baseline's with the rank uncertainty of
 *    each side's call count taken out (3 binomial standard deviations of the rank, read from the
 *    histograms), so a p99 of a few hundred calls does not move on one or two slow calls;
 *  - resolution: the rise must be at least the tracer's floor in these runs (the lowest p50 of any
 *    busy syscall: the tracepoints' own cost sits inside every measured duration and moves with the
 *    host's load), so sub-floor shifts of sub-microsecond calls are not harm;
 *  - magnitude: a rise of DEGRADED_LATENCY (25%) or more.
 * Not used for latency: the host's drift as the median change of other containers' syscalls. Tried
 * on the fadvise-logger pair (three unfixed copies beside the victim on 2 vCPUs): every container's
 * syscalls slowed (median p50 +16%, p99 +27% over 11 rows), so the drift cancelled the copies' real
 * harm to the victim: a neighbour that slows everyone must not hide behind its own effect. Runnable
 * time has a drift (runnableDrift) because there the finding's culprits' share can be taken out.
 */
import type { PreemptionMatrix, PreemptionVictim } from './preemption-matrix.ts';
import type { LatencyChange, LatencySummary, SyscallLatencyRow } from './syscall-latency.ts';
import { MIN_CALLS_FOR_CHANGE } from './syscall-latency.ts';

/**
 * A latency quantile that rose by 25% or more, beyond noise, counts as degraded: the lab's
 * victims move several-fold (fadvise, fsync) when harmed and by under 10% between repeated
 * unharmed phases on a quiet host (src/lab/README.md); 25% is also one histogram bucket or more.
 */
export const DEGRADED_LATENCY = 0.25;
/** Binomial standard deviations of the quantile's rank taken as sampling noise (3: ~0.1% false). */
const RANK_SIGMAS = 3;
/**
 * Control rows needed before the host's drift is estimated from them: with fewer, one busy
 * neighbour's rows would be the whole estimate.
 */
const MIN_CONTROLS = 3;

export interface LatencyNoise {
  /** The tracer's floor in these runs (us): the larger of the two runs' lowest busy p50. */
  floorUs: number;
}

/**
 * The latency noise of a baseline/target pair: `runs` are both runs' summaries (every container).
 * Rows that wait by design measure idle time, not the tracer's floor.
 */
export function latencyNoise(
  runs: readonly (LatencySummary | null)[],
  waiting: ReadonlySet<string>,
): LatencyNoise {
  return { floorUs: Math.max(0, ...runs.map((r) => (r ? runFloor(r, waiting) : 0))) };
}

/** The lowest p50 of any busy syscall in a run (us): what the tracer measures for a near-empty call. */
function runFloor(run: LatencySummary, waiting: ReadonlySet<string>): number {
  let floor = Number.POSITIVE_INFINITY;
  for (const c of run.containers) {
    for (const r of c.syscalls) {
      if (waiting.has(r.syscall) || r.calls < MIN_CALLS_FOR_CHANGE || r.p50Us <= 0) continue;
      floor = Math.min(floor, r.p50Us);
    }
  }
  return Number.isFinite(floor) ? floor : 0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The quantile (us) at rank fraction q, interpolated inside its bucket (row.histogram is in ns). */
export function quantileOfRow(row: SyscallLatencyRow, q: number): number {
  const total = row.histogram.reduce((a, [, , n]) => a + n, 0);
  if (total === 0) return 0;
  const rank = Math.min(1, Math.max(0, q)) * total;
  let seen = 0;
  for (const [low, high, n] of row.histogram) {
    if (seen + n >= rank) return (low + ((rank - seen) / n) * (high - low)) / 1000;
    seen += n;
  }
  return row.histogram[row.histogram.length - 1][1] / 1000;
}

/** q's rank fraction moved by `sigmas` binomial standard deviations for n calls. */
function shifted(q: number, n: number, sigmas: number): number {
  return q + sigmas * Math.sqrt((q * (1 - q)) / Math.max(1, n));
}

export interface JudgedChange {
  /** The relative change (target / baseline - 1). */
  change: number;
  /** At least DEGRADED_LATENCY, beyond sampling noise and the tracer's floor. */
  degraded: boolean;
  /** Why it is not degraded, for the evidence; null when degraded. */
  within: 'sampling' | 'floor' | 'small' | null;
}

/** Judges one quantile's change of one syscall against the runs' noise. */
export function judgeQuantile(ch: LatencyChange, q: 0.5 | 0.99, noise: LatencyNoise): JudgedChange | null {
  const change = q === 0.5 ? ch.p50Change : ch.p99Change;
  if (change === null) return null;
  const base = q === 0.5 ? ch.baseline.p50Us : ch.baseline.p99Us;
  const target = q === 0.5 ? ch.target.p50Us : ch.target.p99Us;
  const verdict = (within: JudgedChange['within']): JudgedChange => ({
    change,
    degraded: within === null,
    within,
  });
  if (change < DEGRADED_LATENCY) return verdict('small');
  const baseHigh = quantileOfRow(ch.baseline, shifted(q, ch.baseline.calls, RANK_SIGMAS));
  const targetLow = quantileOfRow(ch.target, shifted(q, ch.target.calls, -RANK_SIGMAS));
  if (targetLow <= baseHigh) return verdict('sampling');
  if (target - base < noise.floorUs) return verdict('floor');
  return verdict(null);
}

/**
 * Runnable time is noise too on a shared host: when the host's own load rises, every task waits
 * longer for a CPU. A victim's runnable growth is harm only when its share of wanted CPU time spent
 * waiting grew by this much (10 points) more than the controls' did.
 */
export const RUNNABLE_SHARE_MARGIN = 0.1;
/** A control must have wanted this much CPU (tasks on CPU or runnable, per second) to say anything. */
const MIN_WANTED_TASKS = 0.02;

export interface RunnableDrift {
  /** Median growth of the controls' waiting share (waits for the finding's culprits left out). */
  drift: number;
  controls: number;
}

/**
 * The host's runnable drift between two runs, from the preemption matrices: for every waiting row
 * outside the finding (containers and the host's own processes) present in both runs, how much its
 * share of wanted CPU time spent waiting grew, counting waits for anyone but `culprits` (the
 * finding's culprits and containers new since the baseline: their waits are the change under
 * judgement, not the host's drift). Null with too few controls.
 */
export function runnableDrift(
  target: PreemptionMatrix,
  base: PreemptionMatrix,
  baselineOf: (targetId: string) => string,
  involved: ReadonlySet<string>,
  culprits: ReadonlySet<string>,
): RunnableDrift | null {
  const baseCulprits = new Set([...culprits].map(baselineOf));
  const growth: number[] = [];
  for (const t of target.victims) {
    if (involved.has(t.id)) continue;
    const b = base.victims.find((x) => x.id === baselineOf(t.id) && x.host === t.host);
    if (!b) continue;
    const ts = waitingShare(t, culprits, target.windowSeconds);
    const bs = waitingShare(b, baseCulprits, base.windowSeconds);
    if (ts !== null && bs !== null) growth.push(ts - bs);
  }
  return growth.length >= MIN_CONTROLS ? { drift: median(growth), controls: growth.length } : null;
}

function waitingShare(v: PreemptionVictim, skip: ReadonlySet<string>, window: number): number | null {
  const wanted = v.runnableSeconds + v.onCpuSeconds;
  if (window <= 0 || wanted < MIN_WANTED_TASKS * window) return null;
  const skipped = v.waits.filter((w) => skip.has(w.culprit)).reduce((a, w) => a + w.seconds, 0);
  return (v.runnableSeconds - skipped) / wanted;
}

/** The victim's waiting share in both runs (null when either run lacks it). */
export function victimShareGrowth(
  target: PreemptionMatrix,
  base: PreemptionMatrix,
  victim: string,
  baselineOf: (targetId: string) => string,
): number | null {
  const t = target.victims.find((x) => x.id === victim);
  const b = base.victims.find((x) => x.id === baselineOf(victim));
  if (!t || !b) return null;
  return t.runnableShare - b.runnableShare;
}
