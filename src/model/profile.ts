export type FrameIndex = number;
export type StackIndex = number;

/** Where a frame's code lives. Stored as a Uint8 code in the frame table. */
export const FrameKind = { user: 0, kernel: 1, jit: 2, unknown: 3 } as const;
export type FrameKindCode = (typeof FrameKind)[keyof typeof FrameKind];
export const frameKindNames = ['user', 'kernel', 'jit', 'unknown'] as const;

export interface FrameTable {
  readonly length: number;
  /** Function name with the `+0x<offset>` suffix removed. */
  readonly name: Int32Array;
  /** DSO / module path as perf printed it (`[kernel.kallsyms]`, `/usr/lib/.../libc.so.6`). */
  readonly module: Int32Array;
  readonly kind: Uint8Array;
  /** 1 when perf printed the frame as `(inlined)`; `module` is then the enclosing frame's. */
  readonly inlined: Uint8Array;
  /** Instruction address as printed (hex string index), or -1 when addresses were not kept. */
  readonly address: Int32Array;
}

/** Stack prefix tree: node i is frame[i] called from prefix[i] (-1 = root). prefix[i] < i. */
export interface StackTable {
  readonly length: number;
  readonly prefix: Int32Array;
  readonly frame: Int32Array;
  readonly depth: Int32Array;
  /**
   * The address of the call made by the nearest frame above this node that has one (user code):
   * for a user frame, where its caller called it; for kernel frames below user code, where the
   * innermost user frame entered the kernel. As ProfileMeta.callerSites says (symbol offset or
   * module address); NaN when unknown. The sample that created the node decides: a node is one
   * path, so the address can only differ by the line a function calls the same path from. Only
   * the reported call sites read it, to find their file:line.
   */
  readonly callerSite: Float64Array;
}

/** Samples as parallel columns. Labels (comm, cgroup, event) are string indexes. */
export interface SampleTable {
  readonly length: number;
  /** Leaf stack node, or -1 for a sample that carried no frames. */
  readonly stack: Int32Array;
  /** Seconds as perf printed them (NaN when the input had no time). */
  readonly time: Float64Array;
  /** The sample's period (ns for cpu-clock); 1 when the event has no period (tracepoints). */
  readonly weight: Float64Array;
  readonly pid: Int32Array;
  readonly tid: Int32Array;
  readonly cpu: Int32Array;
  readonly comm: Int32Array;
  /** cgroup path (e.g. `/system.slice/docker-<id>.scope`); the empty string when unknown. */
  readonly cgroup: Int32Array;
  /**
   * Host the sample was recorded on (a label, like cgroup): the empty string for single-host
   * input; a multi-host profile (mergeHosts) names every sample's host.
   */
  readonly host: Int32Array;
}

/**
 * The pid of a sample whose input gave only a thread id (perf script's default fields print the
 * TID alone; folded and pprof input may carry none): not a real pid, never shown as one.
 */
export const UNKNOWN_PID = -2147483648;

export type CallGraphMode = 'fp' | 'dwarf' | 'lbr' | 'none' | 'unknown';

export interface EventCount {
  name: string;
  samples: number;
}

export interface ProfileMeta {
  /** Path or label of the input. */
  source: string;
  format: 'perf-script' | 'perf-data' | 'folded' | 'pprof';
  /** The event whose samples the profile holds. */
  event: string;
  /** Every event seen in the input, in order of first appearance, with its sample count. */
  events: EventCount[];
  eventChosenBy: 'only' | 'first' | 'option';
  callGraph: CallGraphMode;
  /** Whether samples carry a cgroup (perf.data recorded with --all-cgroups, or folded with one). */
  hasCgroups: boolean;
  /** Seconds between the first and the last sample, when times are known. */
  durationSeconds: number | null;
  /** The input ended in the middle of a sample (the partial sample is dropped). */
  truncated: boolean;
  /** Odd but survivable input, counted once per kind. */
  oddities: Record<string, { count: number; firstLine: number; example: string }>;
  warnings: string[];
  /** Facts about the recording (host, kernel, perf version, frequency) when the input carries them. */
  recording: Record<string, string | number>;
  /** One entry per host of a multi-host profile (mergeHosts), in input order; empty otherwise. */
  hosts: HostMeta[];
  /**
   * What StackTable.callerSite holds: 'symbol-offset' (perf script's `sym+0xOFF`: OFF from the
   * parent frame's symbol start), 'module-address' (the address in the module's ELF file, as the
   * native decoder computes it). Absent: no caller addresses.
   */
  callerSites?: 'symbol-offset' | 'module-address';
  /** Build-id of each user module path the recording listed (perf.data), to find its ELF file. */
  buildIds?: Record<string, string>;
}

/** One input of a multi-host profile. */
export interface HostMeta {
  /** The value of the samples' host label. */
  name: string;
  source: string;
  format: ProfileMeta['format'];
  event: string;
  events: EventCount[];
  durationSeconds: number | null;
  truncated: boolean;
  recording: Record<string, string | number>;
}

/**
 * Context switches recorded beside the profile (`sched:sched_switch` with call chains), for
 * off-CPU analysis: the stack is where the task that switched out was (its wait path).
 */
export interface SwitchTable {
  readonly length: number;
  readonly stack: Int32Array;
  readonly timeNs: Float64Array;
  readonly cpu: Int32Array;
  /** The task switching out (the sample's task). */
  readonly prevTid: Int32Array;
  readonly prevPid: Int32Array;
  readonly comm: Int32Array;
  readonly cgroup: Int32Array;
  /** SwitchState code of the task switching out. */
  readonly prevState: Uint8Array;
  /** The task switching in. */
  readonly nextTid: Int32Array;
  /** Host label (string index; '' for single-host input), as SampleTable.host. */
  readonly host: Int32Array;
}

/** prev_state of sched_switch: runnable (preempted), sleeping, uninterruptible (usually I/O), other. */
export const SwitchState = { runnable: 0, sleeping: 1, uninterruptible: 2, other: 3 } as const;

/** The SwitchState of a prev_state as perf prints it (`R`, `S`, `D+`, ...): by its first letter. */
export function switchStateOfLetter(s: string): number {
  const c = s[0];
  return c === 'R'
    ? SwitchState.runnable
    : c === 'S'
      ? SwitchState.sleeping
      : c === 'D'
        ? SwitchState.uninterruptible
        : SwitchState.other;
}

/**
 * A finished profile's meta: read-only, like its tables. Facts learnt later (a run's state, a
 * truncated stream) make a new profile (withMeta), so a profile never changes once finished.
 */
export type FinishedMeta = {
  readonly [K in keyof ProfileMeta]: ProfileMeta[K] extends (infer E)[]
    ? readonly E[]
    : ProfileMeta[K] extends object
      ? Readonly<ProfileMeta[K]>
      : ProfileMeta[K];
};

export interface Profile {
  readonly strings: readonly string[];
  readonly frames: FrameTable;
  readonly stacks: StackTable;
  readonly samples: SampleTable;
  readonly meta: FinishedMeta;
  /** Present when the input recorded context switches beside the sampled event. */
  readonly switches?: SwitchTable;
}

/** A copy of a profile's meta to change and give to withMeta (the profile keeps its own). */
export function metaCopy(p: Profile): ProfileMeta {
  const m = p.meta;
  return {
    ...m,
    events: m.events.map((e) => ({ ...e })),
    oddities: { ...m.oddities },
    warnings: [...m.warnings],
    recording: { ...m.recording },
    hosts: m.hosts.map((h) => ({ ...h, events: [...h.events], recording: { ...h.recording } })),
  };
}

/** The same profile (tables shared, not copied) with some meta replaced; `p` is unchanged. */
export function withMeta(p: Profile, change: Partial<FinishedMeta>): Profile {
  return { ...p, meta: Object.freeze({ ...p.meta, ...change }) };
}

/** The same profile with warnings appended (and marked truncated when `truncated`); `p` is unchanged. */
export function withWarnings(p: Profile, warnings: readonly string[], truncated = false): Profile {
  return withMeta(p, {
    warnings: [...p.meta.warnings, ...warnings],
    truncated: p.meta.truncated || truncated,
  });
}
