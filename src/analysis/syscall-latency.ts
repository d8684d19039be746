/**
 * The victim's side: per container and syscall, calls/s, errors/s by errno and latency (mean, p50,
 * p99) from the in-kernel histograms of syscall-latency.json, and with a baseline their change.
 * Input types are structural (what the collector wrote, validated where it was read).
 */
import type { ContainerIdentity } from './containers.ts';
import { errnoName } from './errno-names.ts';

/** What syscall-latency.json holds, as analysis needs it. */
export interface LatencyCountsLike {
  status: 'recorded' | 'unavailable' | 'failed';
  reason: string | null;
  windowSeconds: number | null;
  budget: { maxCallsPerCpuSecond: number; exhausted: boolean };
  cgroups: {
    id: number;
    path: string | null;
    syscalls: {
      name: string;
      calls: number;
      totalNs: number;
      histogram: [number, number][];
      errors: { errno: number; count: number }[];
    }[];
  }[];
}

export interface SyscallErrors {
  errno: number;
  /** ENOENT, EAGAIN, ... or `errno <n>`. */
  name: string;
  count: number;
  perSecond: number;
}

export interface SyscallLatencyRow {
  syscall: string;
  calls: number;
  callsPerSecond: number;
  errorsPerSecond: number;
  errors: SyscallErrors[];
  meanUs: number;
  p50Us: number;
  p99Us: number;
  /** [low ns, high ns, calls] per non-empty bucket, for the latency distribution. */
  histogram: [number, number, number][];
}

export interface ContainerLatency {
  id: string;
  name: string;
  /** Busiest first (by calls). */
  syscalls: SyscallLatencyRow[];
}

export interface LatencySummary {
  status: 'recorded' | 'unavailable' | 'failed';
  /** Why nothing was measured (status unavailable or failed). */
  reason: string | null;
  windowSeconds: number;
  /** The tracer stopped before the window ended: its figures cover its own shorter window. */
  budgetExhausted: boolean;
  containers: ContainerLatency[];
}

/** Syscalls kept per container, by calls: the JSON and HTML stay bounded on busy hosts. */
const TOP_SYSCALLS = 25;

/** Bucket b's bounds in ns (same layout as store/syscall-latency-file.ts). */
function bounds(b: number): [number, number] {
  if (b < 4) return [b, b + 1];
  const p = Math.floor(b / 4);
  const s = b % 4;
  return [(4 + s) * 2 ** (p - 2), (5 + s) * 2 ** (p - 2)];
}

/** The q-quantile (0..1) in ns, interpolated linearly inside its bucket. */
export function quantileNs(histogram: readonly (readonly [number, number])[], q: number): number {
  const total = histogram.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (const [b, n] of [...histogram].sort((x, y) => x[0] - y[0])) {
    if (seen + n >= rank) {
      const [low, high] = bounds(b);
      return low + ((rank - seen) / n) * (high - low);
    }
    seen += n;
  }
  const last = histogram.reduce((a, [b]) => Math.max(a, b), 0);
  return bounds(last)[1];
}

type Acc = { calls: number; totalNs: number; hist: Map<number, number>; errors: Map<number, number> };

export function summarizeLatency(
  file: LatencyCountsLike,
  containerOf: (cgroupPath: string) => ContainerIdentity,
  nameOf: (i: ContainerIdentity) => ContainerIdentity = (i) => i,
): LatencySummary {
  const seconds = file.windowSeconds ?? 0;
  const perSecond = (n: number) => (seconds > 0 ? n / seconds : 0);
  const byContainer = new Map<string, { identity: ContainerIdentity; syscalls: Map<string, Acc> }>();
  for (const cg of file.cgroups) {
    if (cg.path === null) continue;
    const identity = nameOf(containerOf(cg.path));
    let c = byContainer.get(identity.id);
    if (!c) {
      c = { identity, syscalls: new Map() };
      byContainer.set(identity.id, c);
    }
    for (const s of cg.syscalls) {
      let a = c.syscalls.get(s.name);
      if (!a) {
        a = { calls: 0, totalNs: 0, hist: new Map(), errors: new Map() };
        c.syscalls.set(s.name, a);
      }
      a.calls += s.calls;
      a.totalNs += s.totalNs;
      for (const [b, n] of s.histogram) a.hist.set(b, (a.hist.get(b) ?? 0) + n);
      for (const e of s.errors) a.errors.set(e.errno, (a.errors.get(e.errno) ?? 0) + e.count);
    }
  }
  const containers: ContainerLatency[] = [];
  for (const [id, c] of byContainer) {
    const rows = [...c.syscalls].map(([syscall, a]) => rowOf(syscall, a, perSecond));
    rows.sort((x, y) => y.calls - x.calls || x.syscall.localeCompare(y.syscall));
    containers.push({ id, name: c.identity.name, syscalls: rows.slice(0, TOP_SYSCALLS) });
  }
  const calls = (c: ContainerLatency) => c.syscalls.reduce((a, s) => a + s.calls, 0);
  containers.sort((a, b) => calls(b) - calls(a) || a.id.localeCompare(b.id));
  return {
    status: file.status,
    reason: file.reason,
    windowSeconds: seconds,
    budgetExhausted: file.budget.exhausted,
    containers,
  };
}

function rowOf(syscall: string, a: Acc, perSecond: (n: number) => number): SyscallLatencyRow {
  const hist = [...a.hist].sort((x, y) => x[0] - y[0]);
  const errors = [...a.errors]
    .map(([errno, count]) => ({ errno, name: errnoName(errno), count, perSecond: perSecond(count) }))
    .sort((x, y) => y.count - x.count || x.errno - y.errno);
  return {
    syscall,
    calls: a.calls,
    callsPerSecond: perSecond(a.calls),
    errorsPerSecond: perSecond(errors.reduce((s, e) => s + e.count, 0)),
    errors,
    meanUs: a.calls > 0 ? a.totalNs / a.calls / 1000 : 0,
    p50Us: quantileNs(hist, 0.5) / 1000,
    p99Us: quantileNs(hist, 0.99) / 1000,
    histogram: hist.map(([b, n]) => [...bounds(b), n] as [number, number, number]),
  };
}

/** One container's syscall row, or null. */
export function latencyOf(
  s: LatencySummary | null,
  container: string,
  syscall: string,
): SyscallLatencyRow | null {
  return s?.containers.find((c) => c.id === container)?.syscalls.find((r) => r.syscall === syscall) ?? null;
}

export interface LatencyChange {
  syscall: string;
  baseline: SyscallLatencyRow;
  target: SyscallLatencyRow;
  /** target / baseline - 1; null when the baseline figure is 0. */
  p50Change: number | null;
  p99Change: number | null;
  callsChange: number | null;
  errorsPerSecondDelta: number;
}

export interface ContainerLatencyChange {
  id: string;
  name: string;
  baselineId: string;
  syscalls: LatencyChange[];
}

/**
 * Calls needed on both sides before a quantile change is reported: a p99 of fewer than 100 calls
 * is one or two calls (noise), 200 calls put the p99 on at least two.
 */
export const MIN_CALLS_FOR_CHANGE = 200;

const ratio = (t: number, b: number): number | null => (b > 0 ? t / b - 1 : null);

/** Per matched container (target id -> baseline id), the change of every syscall both runs have. */
export function diffLatency(
  base: LatencySummary,
  target: LatencySummary,
  baselineOf: ReadonlyMap<string, string>,
): ContainerLatencyChange[] {
  const out: ContainerLatencyChange[] = [];
  for (const t of target.containers) {
    const baseId = baselineOf.get(t.id) ?? (base.containers.some((c) => c.id === t.id) ? t.id : null);
    const b = baseId === null ? undefined : base.containers.find((c) => c.id === baseId);
    if (!b || baseId === null) continue;
    const syscalls: LatencyChange[] = [];
    for (const tr of t.syscalls) {
      const br = b.syscalls.find((r) => r.syscall === tr.syscall);
      if (!br || br.calls < MIN_CALLS_FOR_CHANGE || tr.calls < MIN_CALLS_FOR_CHANGE) continue;
      syscalls.push({
        syscall: tr.syscall,
        baseline: br,
        target: tr,
        p50Change: ratio(tr.p50Us, br.p50Us),
        p99Change: ratio(tr.p99Us, br.p99Us),
        callsChange: ratio(tr.callsPerSecond, br.callsPerSecond),
        errorsPerSecondDelta: tr.errorsPerSecond - br.errorsPerSecond,
      });
    }
    if (syscalls.length > 0) out.push({ id: t.id, name: t.name, baselineId: baseId, syscalls });
  }
  return out;
}
