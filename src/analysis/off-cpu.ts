/**
 * Off-CPU time from context switches recorded beside the profile: on-CPU samples miss a task that
 * sleeps on a kernel mutex or waits for a journal commit. Each switch-out (the task's stack where
 * it stopped) is paired with the same task's next switch-in; the time between is blocked time
 * (sleeping or uninterruptible) or runnable time (preempted, waiting for a CPU). The result is a
 * profile of its own, weights in nanoseconds, over the same string/frame/stack tables, so the
 * usual analysis (containers, syscalls, kernel paths) applies to it.
 */
import type { Profile, SampleTable, SwitchTable } from '../model/profile.ts';
import { SwitchState } from '../model/profile.ts';
import { waitKindOf } from './categories.ts';
import { type OffCpuWaits, WaitClassifier, waitTotals } from './off-cpu-waits.ts';
import type { PreemptionMatrix } from './preemption-matrix.ts';
import type { LabelledContainer } from './sample-labels.ts';

export interface OffCpuProfiles {
  /** Sleeping and uninterruptible time, by the stack the task stopped in. */
  blocked: Profile;
  /** Runnable time: preempted tasks waiting for a CPU. */
  runnable: Profile;
  /** SwitchState at switch-out of each `blocked` sample (sleeping or uninterruptible). */
  blockedState: Uint8Array;
  /** Seconds between the first and the last switch (the longest host's, for several hosts). */
  windowSeconds: number;
  /** The same, per host label ('' for single-host input). */
  windowByHost: Map<string, number>;
  switches: number;
  /** Switches out of a task (not the idle task). */
  switchOuts: number;
  /**
   * Switch-outs followed by the same task's next switch-out with no switch-in between: the input
   * misses switches there (sampled, lost, or not traced), and the wait before is not counted.
   */
  unmatchedSwitchOuts: number;
}

interface Columns {
  stack: number[];
  time: number[];
  weight: number[];
  pid: number[];
  tid: number[];
  cpu: number[];
  comm: number[];
  cgroup: number[];
  host: number[];
}

const empty = (): Columns => ({
  stack: [],
  time: [],
  weight: [],
  pid: [],
  tid: [],
  cpu: [],
  comm: [],
  cgroup: [],
  host: [],
});

function emit(c: Columns, sw: SwitchTable, i: number, ns: number): void {
  c.stack.push(sw.stack[i]);
  c.time.push(sw.timeNs[i] / 1e9);
  c.weight.push(ns);
  c.pid.push(sw.prevPid[i]);
  c.tid.push(sw.prevTid[i]);
  c.cpu.push(sw.cpu[i]);
  c.comm.push(sw.comm[i]);
  c.cgroup.push(sw.cgroup[i]);
  c.host.push(sw.host[i]);
}

function table(c: Columns): SampleTable {
  return {
    length: c.stack.length,
    stack: Int32Array.from(c.stack),
    time: Float64Array.from(c.time),
    weight: Float64Array.from(c.weight),
    pid: Int32Array.from(c.pid),
    tid: Int32Array.from(c.tid),
    cpu: Int32Array.from(c.cpu),
    comm: Int32Array.from(c.comm),
    cgroup: Int32Array.from(c.cgroup),
    host: Int32Array.from(c.host),
  };
}

/**
 * null when the profile carries no context switches. Task ids and clocks belong to one kernel, so
 * the switches of each host (several hosts' inputs analysed together) are paired among themselves.
 */
export function offCpuProfiles(p: Profile): OffCpuProfiles | null {
  const sw = p.switches;
  if (!sw || sw.length === 0) return null;
  const byHost = switchRowsByHost(sw);
  const blocked = empty();
  const runnable = empty();
  const blockedState: number[] = [];
  const windowByHost = new Map<string, number>();
  let switchOuts = 0;
  let unmatchedSwitchOuts = 0;
  for (const [host, rows] of byHost) {
    const counts = pairSwitches(sw, rows, blocked, runnable, blockedState);
    switchOuts += counts.switchOuts;
    unmatchedSwitchOuts += counts.unmatched;
    windowByHost.set(p.strings[host], (sw.timeNs[rows[rows.length - 1]] - sw.timeNs[rows[0]]) / 1e9);
  }
  const windowSeconds = Math.max(...windowByHost.values());
  const make = (c: Columns, event: string): Profile => ({
    strings: p.strings,
    frames: p.frames,
    stacks: p.stacks,
    samples: table(c),
    meta: {
      ...p.meta,
      event,
      events: [{ name: event, samples: c.stack.length }],
      warnings: [],
      oddities: {},
      durationSeconds: windowSeconds,
    },
  });
  return {
    blocked: make(blocked, 'off-cpu (blocked)'),
    runnable: make(runnable, 'off-cpu (runnable)'),
    blockedState: Uint8Array.from(blockedState),
    windowSeconds,
    windowByHost,
    switches: sw.length,
    switchOuts,
    unmatchedSwitchOuts,
  };
}

/** Pairs one host's switches (`rows`, in time order) into blocked and runnable intervals. */
function pairSwitches(
  sw: SwitchTable,
  rows: number[],
  blocked: Columns,
  runnable: Columns,
  blockedState: number[],
): { switchOuts: number; unmatched: number } {
  return forEachOffCpuInterval(sw, rows, (out, _in, until) => {
    const ns = until - sw.timeNs[out];
    // Exiting, stopped and idle kernel threads ('other' states) are not waiting for anything.
    const state = sw.prevState[out];
    if (!(ns > 0) || state === SwitchState.other) return;
    if (state === SwitchState.runnable) emit(runnable, sw, out, ns);
    else {
      emit(blocked, sw, out, ns);
      blockedState.push(state);
    }
  });
}

/** Row indexes of the switch table per host label, each list in time order. */
export function switchRowsByHost(sw: SwitchTable): Map<number, number[]> {
  const order = Array.from({ length: sw.length }, (_, i) => i).sort((a, b) => sw.timeNs[a] - sw.timeNs[b]);
  const byHost = new Map<number, number[]>();
  for (const i of order) {
    const rows = byHost.get(sw.host[i]);
    if (rows === undefined) byHost.set(sw.host[i], [i]);
    else rows.push(i);
  }
  return byHost;
}

/**
 * Walks one host's switches (`rows`, in time order) and calls `interval(out, in, untilNs)` for
 * every time a task was off-CPU: `out` is its switch-out row, `in` the row that switched it back
 * in (-1 when the recording ended first; `untilNs` is then the last switch's time).
 */
export function forEachOffCpuInterval(
  sw: SwitchTable,
  rows: number[],
  interval: (out: number, into: number, untilNs: number) => void,
): { switchOuts: number; unmatched: number } {
  let switchOuts = 0;
  let unmatched = 0;
  /** tid -> index of its switch-out still waiting for the matching switch-in. */
  const pending = new Map<number, number>();
  for (const i of rows) {
    const next = sw.nextTid[i];
    const out = next > 0 ? pending.get(next) : undefined;
    if (out !== undefined) {
      interval(out, i, sw.timeNs[i]);
      pending.delete(next);
    }
    // The idle task (tid 0) is not waiting for anything.
    const prev = sw.prevTid[i];
    if (prev > 0) {
      switchOuts++;
      // Out again without having come back in: the switch-in between is missing from the input.
      if (pending.has(prev)) unmatched++;
      pending.set(prev, i);
    }
  }
  const end = sw.timeNs[rows[rows.length - 1]];
  // Tasks still off-CPU when the recording stopped were off-CPU for the rest of it.
  for (const out of pending.values()) interval(out, -1, end);
  return { switchOuts, unmatched };
}

export interface OffCpuContainer {
  id: string;
  name: string;
  host: string | null;
  /** Seconds of task time off-CPU (several tasks can be off-CPU at once). */
  seconds: number;
  /** seconds / the recording window: average number of this container's tasks off-CPU. */
  perSecond: number;
  syscalls: { name: string; seconds: number }[];
  /** Where the tasks waited: the last kernel frames before `schedule`. */
  waitPaths: { frames: string[]; seconds: number }[];
  /** Of `seconds` (blocked lists only): involuntary and voluntary waits (off-cpu-waits.ts). */
  involuntarySeconds?: number;
  voluntarySeconds?: number;
}

export interface OffCpuSummary {
  windowSeconds: number;
  switches: number;
  switchOuts: number;
  unmatchedSwitchOuts: number;
  blocked: OffCpuContainer[];
  runnable: OffCpuContainer[];
  /** Blocked involuntarily (uninterruptible, lock waits, full buffers), by container: what reports lead with. */
  involuntary: OffCpuContainer[];
  /** Blocked by choice (sleep, poll, waiting for work), by container. */
  voluntary: OffCpuContainer[];
  /** Host-wide totals of the split, by reason. */
  waits: OffCpuWaits;
  /** Who held the CPU while each container's tasks waited runnable (preemption.ts). */
  preemption: PreemptionMatrix | null;
}

/** Wait paths keep the frames that name the wait: the scheduler's own frames are dropped. */
const schedulerFrame =
  /^(?:__schedule|schedule|schedule_\w+|io_schedule\w*|preempt_schedule\w*|__cond_resched|finish_task_switch.*)$/;

export function summarizeOffCpu(
  o: OffCpuProfiles,
  containerOf: (p: Profile, sample: number) => LabelledContainer,
  attributionOf: (p: Profile, stack: number) => { syscall: string | null; kernelPath: string[] },
  top = 10,
  preemption: PreemptionMatrix | null = null,
): OffCpuSummary {
  const waits = new WaitClassifier(o.blocked, (stack) => attributionOf(o.blocked, stack));
  const b = o.blocked.samples;
  const reasons = Array.from({ length: b.length }, (_, i) => waits.reasonOf(o.blockedState[i], b.stack[i]));
  const involuntary = (i: number) => waitKindOf[reasons[i]] === 'involuntary';
  const ranked = (p: Profile, keep?: (i: number) => boolean) =>
    perContainer(p, o.windowByHost, containerOf, attributionOf, keep).slice(0, top);
  const per = (p: Profile, keep?: (i: number) => boolean): OffCpuContainer[] =>
    ranked(p, keep).map(({ key: _key, ...c }) => c);
  const split = new Map<string, { inv: number; vol: number }>();
  for (let i = 0; i < b.length; i++) {
    const key = containerOf(o.blocked, i).key;
    const e = split.get(key) ?? { inv: 0, vol: 0 };
    if (involuntary(i)) e.inv += b.weight[i] / 1e9;
    else e.vol += b.weight[i] / 1e9;
    split.set(key, e);
  }
  const runnableNs = o.runnable.samples.weight.reduce((s, w) => s + w, 0);
  return {
    windowSeconds: o.windowSeconds,
    switches: o.switches,
    switchOuts: o.switchOuts,
    unmatchedSwitchOuts: o.unmatchedSwitchOuts,
    blocked: ranked(o.blocked).map(({ key, ...c }) => {
      const e = split.get(key);
      return { ...c, involuntarySeconds: e?.inv ?? 0, voluntarySeconds: e?.vol ?? 0 };
    }),
    runnable: per(o.runnable),
    involuntary: per(o.blocked, involuntary),
    voluntary: per(o.blocked, (i) => !involuntary(i)),
    waits: waitTotals(reasons, b.weight, runnableNs),
    preemption,
  };
}

function perContainer(
  p: Profile,
  windowByHost: Map<string, number>,
  containerOf: (p: Profile, sample: number) => LabelledContainer,
  attributionOf: (p: Profile, stack: number) => { syscall: string | null; kernelPath: string[] },
  keep?: (sample: number) => boolean,
): (OffCpuContainer & { key: string })[] {
  const acc = new Map<string, { c: OffCpuContainer; sys: Map<string, number>; paths: Map<string, number> }>();
  const s = p.samples;
  for (let i = 0; i < s.length; i++) {
    if (keep !== undefined && !keep(i)) continue;
    const label = containerOf(p, i);
    const id = label.identity;
    const hostName = label.host || null;
    let a = acc.get(label.key);
    if (!a) {
      a = {
        c: {
          id: id.id,
          name: id.name,
          host: hostName,
          seconds: 0,
          perSecond: 0,
          syscalls: [],
          waitPaths: [],
        },
        sys: new Map(),
        paths: new Map(),
      };
      acc.set(label.key, a);
    }
    const sec = s.weight[i] / 1e9;
    a.c.seconds += sec;
    if (s.stack[i] === -1) continue;
    const at = attributionOf(p, s.stack[i]);
    if (at.syscall) a.sys.set(at.syscall, (a.sys.get(at.syscall) ?? 0) + sec);
    const path = at.kernelPath
      .filter((f) => !schedulerFrame.test(f))
      .slice(-4)
      .join('\n');
    if (path) a.paths.set(path, (a.paths.get(path) ?? 0) + sec);
  }
  const rank = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1]).slice(0, 3);
  return [...acc]
    .map(([key, { c, sys, paths }]) => {
      // Per second of the container's own host: hosts' recordings need not be equally long.
      const window = windowByHost.get(c.host ?? '') ?? 0;
      return {
        ...c,
        key,
        perSecond: window > 0 ? c.seconds / window : 0,
        syscalls: rank(sys).map(([name, seconds]) => ({ name, seconds })),
        waitPaths: rank(paths).map(([k, seconds]) => ({ frames: k.split('\n'), seconds })),
      };
    })
    .sort((a, b) => b.seconds - a.seconds);
}
