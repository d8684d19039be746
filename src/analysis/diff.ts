/**
 * `diff`: what grew and what shrank between a baseline run and a target run, per container
 * (user/kernel/idle), syscall, call site, kernel path and kernel counter, ranked by the size of
 * the change.
 *
 * Normalisation (without it everything looks worse when load rises):
 *   shares (default): every figure is a fraction of its own run's total weight, so a run twice as
 *     long or twice as busy compares equal if the mix is the same;
 *   rate: figures are per second of recording: CPUs busy (cpu-clock/task-clock weights are
 *     nanoseconds) or events per second; needs both runs' durations.
 * Off-CPU time (when both runs recorded context switches) is always per second of each run's
 * recording: the average number of a container's tasks blocked or waiting for a CPU, a figure
 * that load alone does not scale the way a share does.
 */
import type { AnalysisInput } from './analysis-input.ts';
import type { AnalysisResult } from './analyze.ts';
import type { CounterSet } from './counters.ts';
import { type ContainerPairing, type ExplicitMatch, matchContainers } from './match-containers.ts';
import type { OffCpuContainer, OffCpuSummary } from './off-cpu.ts';
import type { ContainerLatencyChange } from './syscall-latency.ts';
import type { CallSiteSummary, SourceLine } from './syscalls.ts';

export type Normalization = 'shares' | 'rate';

export interface Delta {
  baseline: number;
  target: number;
  delta: number;
}

export interface ContainerDelta {
  id: string;
  name: string;
  status: 'matched' | 'new' | 'gone';
  matchedBy: string | null;
  baselineId: string | null;
  total: Delta;
  user: Delta;
  kernel: Delta;
  idle: Delta;
}

export interface SyscallDelta {
  name: string;
  total: Delta;
  containers: { id: string; name: string; change: Delta }[];
}

export interface CallSiteDelta {
  syscall: string;
  status: string;
  function: string | null;
  module: string | null;
  wrapper: string | null;
  change: Delta;
  /** The target's file:line of the call site, when debug info locates it (pipeline/diff.ts). */
  source?: SourceLine;
}

export interface PathDelta {
  syscall: string;
  frames: string[];
  change: Delta;
}

export interface CounterDelta {
  metric: string;
  container: string | null;
  change: Delta;
}

/** Off-CPU change of one container: average tasks off-CPU (task-seconds per second). */
export interface OffCpuContainerDelta {
  id: string;
  name: string;
  blocked: Delta;
  runnable: Delta;
  /** Blocked time by syscall, same unit (each run's top three syscalls per container). */
  syscalls: { name: string; change: Delta }[];
}

export interface DiffResult {
  normalize: Normalization;
  /** share: fraction of the run's total weight; cpus: CPUs busy on average; per-second: events/s. */
  unit: 'share' | 'cpus' | 'per-second';
  baseline: AnalysisInput;
  target: AnalysisInput;
  pairing: ContainerPairing;
  split: { user: Delta; kernel: Delta; idle: Delta };
  containers: ContainerDelta[];
  syscalls: SyscallDelta[];
  callSites: CallSiteDelta[];
  kernelPaths: PathDelta[];
  counters: CounterDelta[];
  /** null unless both runs recorded context switches. */
  offCpu: { containers: OffCpuContainerDelta[] } | null;
  /** Syscall latency change per matched container, when both runs measured it (set beside the diff). */
  syscallLatency?: ContainerLatencyChange[] | null;
  /** What the comparison itself cannot answer (e.g. call sites under different unwinding). */
  warnings: string[];
}

export interface DiffOptions {
  /** Default 'shares'. */
  normalize?: Normalization;
  /** Pairs that override automatic container matching. */
  match?: ExplicitMatch[];
  /** Entries listed per table. Default 20. */
  top?: number;
}

/** Thrown when the runs cannot be compared as asked (e.g. rate without durations). */
export class DiffError extends Error {
  override name = 'DiffError';
}

function scaleOf(i: AnalysisInput, n: Normalization): number {
  if (n === 'shares') return 1;
  if (i.durationSeconds === null || !(i.durationSeconds > 0)) {
    throw new DiffError(
      `${i.source}: rate normalisation needs the recording's duration, which this input does not carry`,
    );
  }
  return (i.totalWeight * (i.weightUnit === 'ns' ? 1e-9 : 1)) / i.durationSeconds;
}

const d = (baseline: number, target: number): Delta => ({ baseline, target, delta: target - baseline });
const bySize =
  <T>(f: (x: T) => Delta) =>
  (a: T, b: T) =>
    Math.abs(f(b).delta) - Math.abs(f(a).delta);

export function diffAnalyses(
  base: AnalysisResult,
  target: AnalysisResult,
  baseCounters: CounterSet | null,
  targetCounters: CounterSet | null,
  opts: DiffOptions = {},
): DiffResult {
  const normalize = opts.normalize ?? 'shares';
  const top = opts.top ?? 20;
  const sb = scaleOf(base.input, normalize);
  const st = scaleOf(target.input, normalize);
  const pairing = matchContainers(base.containers, target.containers, opts.match);
  const targetIdOf = new Map([...pairing.baselineOf].map(([t, b]) => [b, t]));
  const idInTarget = (baseId: string) => targetIdOf.get(baseId) ?? baseId;
  const names = new Map<string, string>();
  for (const c of base.containers) names.set(idInTarget(c.identity.id), c.identity.name);
  for (const c of target.containers) names.set(c.identity.id, c.identity.name);
  return {
    normalize,
    unit: normalize === 'shares' ? 'share' : target.input.weightUnit === 'ns' ? 'cpus' : 'per-second',
    baseline: base.input,
    target: target.input,
    pairing,
    split: {
      user: d(base.split.user * sb, target.split.user * st),
      kernel: d(base.split.kernel * sb, target.split.kernel * st),
      idle: d(base.split.idle * sb, target.split.idle * st),
    },
    containers: containerDeltas(base, target, pairing, sb, st),
    syscalls: syscallDeltas(base, target, idInTarget, names, sb, st).slice(0, top),
    callSites: callSiteDeltas(base, target, sb, st, comparableUnwinding(base, target)).slice(0, top),
    kernelPaths: pathDeltas(base, target, sb, st).slice(0, top),
    counters: counterDeltas(baseCounters, targetCounters, idInTarget),
    offCpu:
      base.offCpu && target.offCpu
        ? { containers: offCpuDeltas(base.offCpu, target.offCpu, idInTarget, names).slice(0, top) }
        : null,
    warnings: comparableUnwinding(base, target) ? [] : [unwindingWarning(base, target)],
  };
}

/**
 * Frame-pointer stacks lose the caller of a libc syscall wrapper and DWARF stacks keep it, so the
 * same code shows as "lost" in one run and as a named function in the other: comparing the two
 * would invent changes. Runs unwound differently compare only call sites both can name.
 */
function comparableUnwinding(base: AnalysisResult, target: AnalysisResult): boolean {
  const modes = new Set([base.input.callGraph, target.input.callGraph]);
  return !(modes.has('fp') && modes.has('dwarf'));
}

function unwindingWarning(base: AnalysisResult, target: AnalysisResult): string {
  return `the baseline was recorded with ${base.input.callGraph} call graphs and the target with ${target.input.callGraph}: call sites are compared only where both runs name the function; record both the same way to compare all`;
}

/**
 * Per container, blocked and runnable tasks on average and blocked time by syscall, from the
 * containers each run's summary lists (its top ten by off-CPU time).
 */
function offCpuDeltas(
  base: OffCpuSummary,
  target: OffCpuSummary,
  idInTarget: (id: string) => string,
  names: Map<string, string>,
): OffCpuContainerDelta[] {
  const acc = new Map<string, OffCpuContainerDelta>();
  const entry = (id: string, name: string) => {
    let e = acc.get(id);
    if (!e) {
      e = { id, name: names.get(id) ?? name, blocked: d(0, 0), runnable: d(0, 0), syscalls: [] };
      acc.set(id, e);
    }
    return e;
  };
  const add = (side: 'baseline' | 'target', s: OffCpuSummary, mapId: (id: string) => string) => {
    for (const kind of ['blocked', 'runnable'] as const) {
      for (const c of s[kind]) {
        const e = entry(mapId(c.id), c.name);
        e[kind][side] += c.perSecond;
        if (kind === 'blocked') addSyscalls(e, side, c);
      }
    }
  };
  add('baseline', base, idInTarget);
  add('target', target, (id) => id);
  const out = [...acc.values()];
  for (const e of out) {
    e.blocked.delta = e.blocked.target - e.blocked.baseline;
    e.runnable.delta = e.runnable.target - e.runnable.baseline;
    for (const x of e.syscalls) x.change.delta = x.change.target - x.change.baseline;
    e.syscalls.sort(bySize((x) => x.change));
  }
  return out.sort(
    (a, b) =>
      Math.abs(b.blocked.delta) +
      Math.abs(b.runnable.delta) -
      (Math.abs(a.blocked.delta) + Math.abs(a.runnable.delta)),
  );
}

function addSyscalls(e: OffCpuContainerDelta, side: 'baseline' | 'target', c: OffCpuContainer): void {
  // seconds -> tasks on average: the container's own perSecond / seconds is 1 / its window.
  const perSecondOfSecond = c.seconds > 0 ? c.perSecond / c.seconds : 0;
  for (const s of c.syscalls) {
    let x = e.syscalls.find((y) => y.name === s.name);
    if (!x) {
      x = { name: s.name, change: d(0, 0) };
      e.syscalls.push(x);
    }
    x.change[side] += s.seconds * perSecondOfSecond;
  }
}

function containerDeltas(
  base: AnalysisResult,
  target: AnalysisResult,
  pairing: ContainerPairing,
  sb: number,
  st: number,
): ContainerDelta[] {
  const baseById = new Map(base.containers.map((c) => [c.identity.id, c]));
  const out: ContainerDelta[] = target.containers.map((t) => {
    const bid = pairing.baselineOf.get(t.identity.id) ?? null;
    const b = bid === null ? undefined : baseById.get(bid);
    return {
      id: t.identity.id,
      name: t.identity.name,
      status: b ? 'matched' : 'new',
      matchedBy: pairing.how.get(t.identity.id) ?? null,
      baselineId: bid,
      total: d((b?.share ?? 0) * sb, t.share * st),
      user: d((b?.userShare ?? 0) * sb, t.userShare * st),
      kernel: d((b?.kernelShare ?? 0) * sb, t.kernelShare * st),
      idle: d((b?.idleShare ?? 0) * sb, t.idleShare * st),
    };
  });
  for (const id of pairing.gone) {
    const b = baseById.get(id)!;
    out.push({
      id,
      name: b.identity.name,
      status: 'gone',
      matchedBy: null,
      baselineId: id,
      total: d(b.share * sb, 0),
      user: d(b.userShare * sb, 0),
      kernel: d(b.kernelShare * sb, 0),
      idle: d(b.idleShare * sb, 0),
    });
  }
  return out.sort(
    (a, b) =>
      Math.abs(b.kernel.delta) - Math.abs(a.kernel.delta) ||
      Math.abs(b.total.delta) - Math.abs(a.total.delta),
  );
}

function syscallDeltas(
  base: AnalysisResult,
  target: AnalysisResult,
  idInTarget: (id: string) => string,
  names: Map<string, string>,
  sb: number,
  st: number,
): SyscallDelta[] {
  const acc = new Map<string, { b: number; t: number; containers: Map<string, { b: number; t: number }> }>();
  const add = (
    side: 'b' | 't',
    name: string,
    share: number,
    containers: { id: string; share: number }[],
    scale: number,
    mapId: (id: string) => string,
  ) => {
    let e = acc.get(name);
    if (!e) {
      e = { b: 0, t: 0, containers: new Map() };
      acc.set(name, e);
    }
    e[side] += share * scale;
    for (const c of containers) {
      const id = mapId(c.id);
      const ce = e.containers.get(id) ?? { b: 0, t: 0 };
      ce[side] += c.share * scale;
      e.containers.set(id, ce);
    }
  };
  for (const s of base.syscalls) add('b', s.name, s.share, s.containers, sb, idInTarget);
  for (const s of target.syscalls) add('t', s.name, s.share, s.containers, st, (id) => id);
  return [...acc]
    .map(([name, e]) => ({
      name,
      total: d(e.b, e.t),
      containers: [...e.containers]
        .map(([id, c]) => ({ id, name: names.get(id) ?? id, change: d(c.b, c.t) }))
        .sort(bySize((x) => x.change)),
    }))
    .sort(bySize((x) => x.total));
}

function siteKey(syscall: string, c: CallSiteSummary): string {
  const fn = c.status === 'found' ? c.function : '';
  const mod = c.status === 'found' || c.status === 'unknown' ? c.module : '';
  return [syscall, c.status, fn, mod, c.wrapper ?? ''].join('\u0000');
}

function callSiteDeltas(
  base: AnalysisResult,
  target: AnalysisResult,
  sb: number,
  st: number,
  comparable: boolean,
): CallSiteDelta[] {
  const acc = new Map<string, CallSiteDelta>();
  const seen = { baseline: new Set<string>(), target: new Set<string>() };
  const add = (side: 'baseline' | 'target', syscall: string, c: CallSiteSummary, scale: number) => {
    const key = siteKey(syscall, c);
    seen[side].add(key);
    let e = acc.get(key);
    if (!e) {
      e = {
        syscall,
        status: c.status,
        function: c.status === 'found' ? c.function : null,
        module: c.status === 'found' || c.status === 'unknown' ? c.module : null,
        wrapper: c.wrapper,
        change: d(0, 0),
      };
      acc.set(key, e);
    }
    e.change[side] += c.share * scale;
    e.change.delta = e.change.target - e.change.baseline;
  };
  for (const s of base.syscalls) for (const c of s.callSites) add('baseline', s.name, c, sb);
  for (const s of target.syscalls) for (const c of s.callSites) add('target', s.name, c, st);
  const both = ([key, e]: [string, CallSiteDelta]) =>
    e.status === 'found' && seen.baseline.has(key) && seen.target.has(key);
  const kept = comparable ? [...acc.values()] : [...acc].filter(both).map(([, e]) => e);
  return kept.sort(bySize((x) => x.change));
}

function pathDeltas(base: AnalysisResult, target: AnalysisResult, sb: number, st: number): PathDelta[] {
  const acc = new Map<string, PathDelta>();
  const add = (
    side: 'baseline' | 'target',
    syscall: string,
    frames: string[],
    share: number,
    scale: number,
  ) => {
    const key = `${syscall}\u0000${frames.join('\n')}`;
    let e = acc.get(key);
    if (!e) {
      e = { syscall, frames, change: d(0, 0) };
      acc.set(key, e);
    }
    e.change[side] += share * scale;
    e.change.delta = e.change.target - e.change.baseline;
  };
  for (const s of base.syscalls)
    for (const k of s.kernelPaths) add('baseline', s.name, k.frames, k.share, sb);
  for (const s of target.syscalls)
    for (const k of s.kernelPaths) add('target', s.name, k.frames, k.share, st);
  return [...acc.values()].sort(bySize((x) => x.change));
}

function counterDeltas(
  base: CounterSet | null,
  target: CounterSet | null,
  idInTarget: (id: string) => string,
): CounterDelta[] {
  if (!base || !target) return [];
  const out: CounterDelta[] = [];
  for (const [metric, t] of target.host) {
    const b = base.host.get(metric);
    if (b !== undefined) out.push({ metric, container: null, change: d(b, t) });
  }
  const baseByTargetId = new Map([...base.byContainer].map(([id, m]) => [idInTarget(id), m]));
  for (const [id, metrics] of target.byContainer) {
    const bm = baseByTargetId.get(id);
    if (!bm) continue;
    for (const [metric, t] of metrics) {
      const b = bm.get(metric);
      if (b !== undefined && (b !== 0 || t !== 0)) out.push({ metric, container: id, change: d(b, t) });
    }
  }
  return out;
}
