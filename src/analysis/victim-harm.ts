/**
 * The victim's side of a finding: what each named victim suffered, measured (its syscall latency
 * and errors from the eBPF counts, its runnable and blocked time from context switches), and with a
 * baseline whether it got worse. Applied after the diagnosis, separate from how the antagonist is
 * chosen:
 *  - each victim carries `harm` (e.g. "newfstatat p99 +180%, runnable +0.40 tasks");
 *  - with a baseline, a container named a victim whose latency, runnable and blocked time did not
 *    degrade is dropped from the victims, and the severity comes from the worst measured
 *    degradation (`severityBasis: 'measured-harm'`); without one the severity stays the
 *    antagonist-share estimate and says so (`severityBasis: 'antagonist-share'`);
 *  - the antagonist's failing calls become evidence (an ENOENT storm behind negative dentries).
 */
import { signatures } from '../signatures/catalog.ts';
import type { CounterSet } from './counters.ts';
import { levelFindings } from './diagnose-levels.ts';
import type { OffCpuContainerDelta } from './diff.ts';
import {
  type Evidence,
  type Finding,
  type Severity,
  sortFindings,
  type Victim,
  type VictimHarm,
} from './findings.ts';
import {
  DEGRADED_LATENCY,
  type JudgedChange,
  judgeQuantile,
  type LatencyNoise,
  latencyNoise,
  RUNNABLE_SHARE_MARGIN,
  type RunnableDrift,
  runnableDrift,
  victimShareGrowth,
} from './harm-noise.ts';
import type { PreemptionMatrix } from './preemption-matrix.ts';
import {
  type ContainerLatencyChange,
  type LatencySummary,
  latencyOf,
  MIN_CALLS_FOR_CHANGE,
  type SyscallLatencyRow,
} from './syscall-latency.ts';

/** Doubling (+100%) of a victim's p99 or p50 makes the finding critical. */
export const CRITICAL_LATENCY = 1;
/**
 * Runnable or blocked time that grew by 0.05 tasks (50 ms per second) and by 25% counts as
 * degraded: below that a single scheduler tick per second moves it.
 */
const DEGRADED_TASKS = 0.05;
/** The antagonist's calls of the finding's syscall failing at this fraction or more are evidence. */
const ERROR_EVIDENCE_FRACTION = 0.01;
/** CPU contention (run queues, preemption): its harm is runnable time and slower calls, not blocking. */
const RUNQUEUE = 'runqueue-contention';
/** Syscalls that wait by design (their latency is idle time, not harm). */
const WAITING = new Set([
  'epoll_wait',
  'epoll_pwait',
  'epoll_pwait2',
  'futex',
  'nanosleep',
  'clock_nanosleep',
  'poll',
  'ppoll',
  'select',
  'pselect6',
  'wait4',
  'waitid',
  'rt_sigtimedwait',
  'rt_sigsuspend',
  'pause',
  'io_getevents',
  'io_uring_enter',
  'accept',
  'accept4',
  'recvfrom',
  'recvmsg',
]);

export interface VictimSideInput {
  latency: LatencySummary | null;
  /** With a baseline: its latency summary (for the tracer's floor in both runs). */
  baselineLatency?: LatencySummary | null;
  /** With a baseline: the latency change per matched container (target ids). */
  latencyChange?: ContainerLatencyChange[] | null;
  /** With a baseline: runnable/blocked change per container (target ids), when both runs have switches. */
  offCpuChange?: OffCpuContainerDelta[] | null;
  /** A baseline exists (diff, doctor --baseline). */
  hasBaseline: boolean;
  /**
   * With a baseline: target containers matched to one in the baseline. A container the baseline
   * does not have is not a victim of the change (it was not there to degrade).
   */
  matched?: ReadonlySet<string>;
  /**
   * The target's runnable waits by culprit (from context switches). With it, a victim's runnable
   * growth counts as harm from a finding only when the finding's antagonist held its CPU.
   */
  preemption?: PreemptionMatrix | null;
  /** The baseline's matrix and the pairing (target id -> baseline id), for the host's runnable drift. */
  baselinePreemption?: PreemptionMatrix | null;
  baselineOf?: ReadonlyMap<string, string>;
}

/**
 * The diagnosis's last step: findings from levels (negative dentries already there), then every
 * finding's victims with their measured harm and the severity that follows.
 */
export function victimSide(
  findings: Finding[],
  input: VictimSideInput & { counters?: CounterSet | null },
): Finding[] {
  const levels = levelFindings(signatures(), input.counters ?? undefined, findings, input.latency);
  // Severities may have changed with the measured harm: order again (severity, confidence, impact).
  return sortFindings(applyVictimSide([...findings, ...levels], input));
}

export function applyVictimSide(findings: Finding[], input: VictimSideInput): Finding[] {
  return findings.map((f) => (f.kind === 'cannot-answer' ? f : withVictimSide(f, input)));
}

function withVictimSide(f: Finding, input: VictimSideInput): Finding {
  const involved = new Set([
    ...f.victims.map((v) => v.container),
    ...(f.antagonist ? [f.antagonist.container] : []),
    ...(f.drivers ?? []).map((d) => d.container),
  ]);
  const runs = [input.latency, input.baselineLatency ?? null];
  const noise = latencyNoise(runs, WAITING);
  const drift = hostRunnableDrift(f, input, involved);
  const judged = f.victims.map((v) => judgeVictim(v, f, input, { latency: noise, runnable: drift }));
  const victims = judged.map((j) => j.victim);
  // The failing calls go right after the headline evidence: a terminal shows the first six.
  const evidence = [...f.evidence.slice(0, 1), ...errorEvidence(f, input.latency), ...f.evidence.slice(1)];
  if (!input.hasBaseline || victims.every((v) => v.harm.degraded === null)) {
    return { ...f, victims, evidence, severityBasis: 'antagonist-share' };
  }
  const kept = judged.filter((j) => j.victim.harm.degraded !== false);
  const cleared = judged.filter((j) => j.victim.harm.degraded === false);
  for (const { victim: v, within } of cleared) {
    evidence.push({
      metric:
        v.harm.summary === 'new since the baseline'
          ? `not a victim of the change: ${v.name} is new since the baseline`
          : `not harmed: ${v.name}'s syscall latency, runnable and blocked time did not degrade against the baseline${withinText(within, v.harm.summary, noise)}`,
      value: v.harm.worstLatencyChange ?? 0,
      unit: 'fraction',
      baseline: null,
      container: v.container,
    });
  }
  return {
    ...f,
    victims: kept.map((j) => j.victim),
    evidence,
    severity: severityFromHarm(kept),
    severityBasis: 'measured-harm',
  };
}

/** Severity from the worst degradation left after noise (a runnable-only degradation is a warning). */
function severityFromHarm(victims: JudgedVictim[]): Severity {
  const degraded = victims.filter((j) => j.victim.harm.degraded === true);
  if (degraded.length === 0) return 'info';
  const worst = Math.max(...degraded.map((j) => j.worstNet ?? 0));
  return worst >= CRITICAL_LATENCY ? 'critical' : 'warning';
}

/** Why a victim whose latency rose is still not harmed, for its evidence line. */
function withinText(within: JudgedVictim['within'], summary: string, noise: LatencyNoise): string {
  const what = summary ? ` (${summary})` : '';
  switch (within) {
    case 'sampling':
      return `${what}: within the sampling noise of its call counts`;
    case 'floor':
      return `${what}: a rise below the tracer's floor in these runs (${noise.floorUs.toFixed(2)} us)`;
    case 'runnable':
      return `${what}: its runnable time grew no more than the host's own drift, or by others than this finding's culprits`;
    default:
      return '';
  }
}

/** The syscalls that speak for a victim: the finding's first, then where it spends most time in calls. */
function victimRows(
  latency: LatencySummary | null,
  container: string,
  syscall: string | null,
): SyscallLatencyRow[] {
  const c = latency?.containers.find((x) => x.id === container);
  if (!c) return [];
  const own = syscall ? c.syscalls.filter((r) => r.syscall === syscall) : [];
  const rest = c.syscalls
    .filter((r) => r.syscall !== syscall && !WAITING.has(r.syscall) && r.calls >= MIN_CALLS_FOR_CHANGE)
    .sort((a, b) => b.calls * b.meanUs - a.calls * a.meanUs)
    .slice(0, 3);
  return [...own, ...rest];
}

interface JudgedVictim {
  victim: Victim & { harm: VictimHarm };
  /** The worst latency change among quantiles judged degraded. */
  worstNet: number | null;
  /** Why its latency rise is not harm (the first reason met), or null. */
  within: JudgedChange['within'] | 'runnable';
}

/** A victim's harm for one finding: latency judged against the runs' noise, runnable against the culprit. */
function judgeVictim(
  v: Victim,
  f: Finding,
  input: VictimSideInput,
  noises: { latency: LatencyNoise; runnable: RunnableDrift | null },
): JudgedVictim {
  const noise = noises.latency;
  if (input.hasBaseline && input.matched && !input.matched.has(v.container)) {
    // Not in the baseline: nothing it could have degraded from, so not a victim of a change.
    const harm = {
      summary: 'new since the baseline',
      degraded: false,
      worstLatencyChange: null,
      syscalls: [],
    };
    return { victim: { ...v, harm }, worstNet: null, within: null };
  }
  const rows = victimRows(input.latency, v.container, f.syscall);
  const change = input.latencyChange?.find((c) => c.id === v.container);
  const off = input.offCpuChange?.find((c) => c.id === v.container);
  const parts: string[] = [];
  const syscalls: VictimHarm['syscalls'] = [];
  let worst: number | null = null;
  let worstNet: number | null = null; // the worst change judged degraded
  let within: JudgedVictim['within'] = null;
  const degradedSyscalls = new Set<string>();
  for (const r of rows) {
    const ch = change?.syscalls.find((s) => s.syscall === r.syscall);
    const p99 = ch?.p99Change ?? null;
    const p50 = ch?.p50Change ?? null;
    syscalls.push({
      syscall: r.syscall,
      callsPerSecond: r.callsPerSecond,
      errorsPerSecond: r.errorsPerSecond,
      p50Us: r.p50Us,
      p99Us: r.p99Us,
      p50Change: p50,
      p99Change: p99,
    });
    const grew = Math.max(p99 ?? Number.NEGATIVE_INFINITY, p50 ?? Number.NEGATIVE_INFINITY);
    if (Number.isFinite(grew)) worst = worst === null ? grew : Math.max(worst, grew);
    // CPU contention's harm is runnable time, measured by the switches and attributed to who held
    // the CPU; slower syscalls under it are that waiting seen again (preemption inside a call), and
    // on a shared host every call slows with the host's own load, with no culprit to attribute to.
    const judge = ch && f.signature !== RUNQUEUE;
    for (const j of judge ? [judgeQuantile(ch, 0.5, noise), judgeQuantile(ch, 0.99, noise)] : []) {
      if (j?.degraded) {
        worstNet = Math.max(worstNet ?? 0, j.change);
        degradedSyscalls.add(r.syscall);
      } else if (j && j.within !== 'small') within ??= j.within;
    }
  }
  if (input.hasBaseline) parts.push(...changeText(syscalls, degradedSyscalls));
  else if (syscalls.length > 0) parts.push(levelText(syscalls[0]));
  const runnableCounts = runnableBeyondNoise(v, f, input, noises.runnable);
  const blockedCounts = f.signature !== RUNQUEUE;
  const offDegraded = off
    ? offCpuText(off, parts, { runnable: runnableCounts, blocked: blockedCounts })
    : false;
  if (!runnableCounts && worstNet === null) within ??= 'runnable';
  const harm = {
    summary: parts.join(', '),
    // For CPU contention the runnable time measured in both runs is the measurement that decides.
    degraded: degradedOf(
      input.hasBaseline,
      f.signature !== RUNQUEUE ? worst : off ? 0 : null,
      worstNet !== null,
      offDegraded,
    ),
    worstLatencyChange: worst,
    syscalls,
  };
  return { victim: { ...v, harm }, worstNet, within: worstNet === null ? within : null };
}

/** The finding's culprits: its antagonist and drivers (empty when it blames no container). */
function culpritsOf(f: Finding): Set<string> {
  if (!f.antagonist || f.sharedStorm) return new Set();
  return new Set([f.antagonist.container, ...(f.drivers ?? []).map((d) => d.container)]);
}

function hostRunnableDrift(f: Finding, input: VictimSideInput, involved: Set<string>): RunnableDrift | null {
  if (!input.preemption || !input.baselinePreemption) return null;
  const baselineOf = (id: string) => input.baselineOf?.get(id) ?? id;
  // Waits for the finding's culprits, or for containers new since the baseline (the change itself),
  // are not the host's drift.
  const fresh = input.preemption.culprits
    .filter((c) => c.container && input.matched && !input.matched.has(c.id))
    .map((c) => c.id);
  const skip = new Set([...culpritsOf(f), ...fresh]);
  return runnableDrift(input.preemption, input.baselinePreemption, baselineOf, involved, skip);
}

/**
 * Runnable growth is harm from this finding only when its culprits held the victim's CPU for it
 * (when the switches say who did) and the victim's waiting share grew beyond the host's drift.
 */
function runnableBeyondNoise(
  v: Victim,
  f: Finding,
  input: VictimSideInput,
  drift: RunnableDrift | null,
): boolean {
  const byCulprit = culpritShare(v, f, input.preemption);
  if (byCulprit !== null && byCulprit < DEGRADED_TASKS) return false;
  if (!drift || !input.preemption || !input.baselinePreemption) {
    // Nothing to compare the growth with: it is this finding's harm only when the finding names
    // who caused it. A finding with no one to blame (a host-wide run-queue reading) cannot turn
    // the host's own load into a victim.
    return f.antagonist !== null || f.sharedStorm || (f.drivers?.length ?? 0) > 0;
  }
  const baselineOf = (id: string) => input.baselineOf?.get(id) ?? id;
  const growth = victimShareGrowth(input.preemption, input.baselinePreemption, v.container, baselineOf);
  return growth === null || growth - Math.max(0, drift.drift) >= RUNNABLE_SHARE_MARGIN;
}

/**
 * The victim's runnable time (tasks) while the finding's antagonist or drivers held its CPU, from
 * the target's context switches; null when the switches do not say (no matrix, or no one blamed).
 */
function culpritShare(v: Victim, f: Finding, m: PreemptionMatrix | null | undefined): number | null {
  if (!m || m.windowSeconds <= 0 || !f.antagonist || f.sharedStorm) return null;
  const culprits = new Set([f.antagonist.container, ...(f.drivers ?? []).map((d) => d.container)]);
  const row = m.victims.find((x) => x.id === v.container);
  if (!row) return 0;
  const seconds = row.waits.filter((w) => culprits.has(w.culprit)).reduce((a, w) => a + w.seconds, 0);
  return seconds / m.windowSeconds;
}

/**
 * `worst`: the measurement that can say "not degraded" (null: none). Not degraded needs the latency
 * measured (on-CPU harm such as longer lookups shows only there);
 * runnable or blocked growth alone is enough to say degraded.
 */
function degradedOf(
  hasBaseline: boolean,
  worst: number | null,
  latencyDegraded: boolean,
  offDegraded: boolean,
): boolean | null {
  if (!hasBaseline) return null;
  if (latencyDegraded || offDegraded) return true;
  return worst === null ? null : false;
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${Math.round(x * 100)}%`;

/** The two changes that say most: those judged degraded first (largest first), then the rest in order. */
function changeText(rows: VictimHarm['syscalls'], degraded: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const rise = (r: VictimHarm['syscalls'][number]) => Math.max(r.p50Change ?? -1, r.p99Change ?? -1);
  const first = rows.filter((r) => degraded.has(r.syscall)).sort((a, b) => rise(b) - rise(a));
  for (const r of [...first, ...rows.filter((x) => !degraded.has(x.syscall))]) {
    if (r.p99Change === null && r.p50Change === null) continue;
    const which =
      (r.p99Change ?? Number.NEGATIVE_INFINITY) >= (r.p50Change ?? Number.NEGATIVE_INFINITY)
        ? `p99 ${pct(r.p99Change ?? 0)}`
        : `p50 ${pct(r.p50Change ?? 0)}`;
    out.push(`${r.syscall} ${which}`);
    if (out.length >= 2) break;
  }
  return out;
}

function levelText(r: VictimHarm['syscalls'][number]): string {
  return `${r.syscall} p50 ${fmtUs(r.p50Us)} p99 ${fmtUs(r.p99Us)} at ${fmtRate(r.callsPerSecond)} calls/s`;
}

/**
 * Adds runnable/blocked growth to the text; true when either degraded, false when measured and not.
 * `counts.runnable`: false when the runnable growth is the host's noise or someone else's doing
 * (runnableBeyondNoise); `counts.blocked`: false for CPU findings (waiting for a CPU is not
 * blocking: a victim's blocked growth, in I/O say, is not what run-queue contention does to it).
 */
function offCpuText(
  off: OffCpuContainerDelta,
  parts: string[],
  counts: { runnable: boolean; blocked: boolean },
): boolean {
  // Blocked time in calls that wait by design (sleep, poll, futex waits) is idle, not harm.
  const waiting = off.syscalls.filter((x) => WAITING.has(x.name)).reduce((a, x) => a + x.change.delta, 0);
  const blocked = {
    ...off.blocked,
    delta: off.blocked.delta - waiting,
    target: off.blocked.target - waiting,
  };
  let degraded = false;
  for (const [what, d] of [
    ['runnable', off.runnable],
    ['blocked', blocked],
  ] as const) {
    if (!counts[what]) continue;
    if (d.delta >= DEGRADED_TASKS && d.target >= d.baseline * (1 + DEGRADED_LATENCY)) {
      degraded = true;
      parts.push(`${what} +${d.delta.toFixed(2)} tasks`);
    }
  }
  return degraded;
}

function fmtUs(us: number): string {
  if (us >= 1000) return `${(us / 1000).toFixed(us >= 10_000 ? 0 : 1)} ms`;
  return `${us >= 100 ? Math.round(us) : us.toFixed(1)} us`;
}

function fmtRate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return `${Math.round(n)}`;
}

/**
 * The antagonist's failing calls of the finding's syscall (and, for path lookups, of its other
 * path syscalls): a neighbour whose stat() calls fail with ENOENT by the hundred thousand is
 * probing names that do not exist, which is what fills the dcache with negative dentries.
 */
function errorEvidence(f: Finding, latency: LatencySummary | null): Evidence[] {
  if (!f.antagonist || latency === null) return [];
  const c = latency.containers.find((x) => x.id === f.antagonist?.container);
  if (!c) return [];
  const rows = c.syscalls.filter(
    (r) => r.syscall === f.syscall || (f.signature === 'negative-dentries' && PATH_SYSCALLS.has(r.syscall)),
  );
  const out: Evidence[] = [];
  for (const r of rows) {
    const top = r.errors[0];
    if (!top || r.calls === 0 || top.count / r.calls < ERROR_EVIDENCE_FRACTION) continue;
    out.push({
      metric: `${r.syscall} calls failing with ${top.name}, ${c.name} (${Math.round((100 * top.count) / r.calls)}% of its ${r.syscall} calls)`,
      value: top.perSecond,
      unit: 'calls/s',
      baseline: null,
      container: c.id,
    });
  }
  return out;
}

/** Syscalls that resolve a path name (each failed lookup can leave a negative dentry). */
const PATH_SYSCALLS = new Set([
  'stat',
  'lstat',
  'newfstatat',
  'statx',
  'access',
  'faccessat',
  'faccessat2',
  'open',
  'openat',
  'openat2',
  'readlink',
  'readlinkat',
  'execve',
]);

/** A victim's latency row for a syscall (for reports that show the finding's syscall per victim). */
export function victimLatency(
  latency: LatencySummary | null,
  v: Victim,
  syscall: string,
): SyscallLatencyRow | null {
  return latencyOf(latency, v.container, syscall);
}
