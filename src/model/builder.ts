import { IntPairTable } from './byte-keys.ts';
import { Float64Column, Int32Column, Uint8Column } from './columns.ts';
import { MAX_SAMPLES, MAX_STACK_NODES, ProfileLimitError } from './limits.ts';
import type {
  CallGraphMode,
  FrameIndex,
  FrameKindCode,
  Profile,
  ProfileMeta,
  StackIndex,
  SwitchTable,
} from './profile.ts';
import { type StringIndex, StringTable } from './strings.ts';
import { type ValidateOptions, validateProfile } from './validate.ts';

export interface SwitchInput {
  stack: StackIndex;
  timeNs: number;
  cpu: number;
  prevTid: number;
  prevPid: number;
  comm: StringIndex;
  cgroup: StringIndex;
  prevState: number;
  nextTid: number;
  /** Host label; default '' (single host). */
  host?: StringIndex;
}

function newSwitchColumns() {
  return {
    stack: new Int32Column(),
    timeNs: new Float64Column(),
    cpu: new Int32Column(),
    prevTid: new Int32Column(),
    prevPid: new Int32Column(),
    comm: new Int32Column(),
    cgroup: new Int32Column(),
    prevState: new Uint8Column(),
    nextTid: new Int32Column(),
    host: new Int32Column(),
  };
}

function finishSwitches(c: ReturnType<typeof newSwitchColumns>): SwitchTable {
  return {
    length: c.stack.length,
    stack: c.stack.finish(),
    timeNs: c.timeNs.finish(),
    cpu: c.cpu.finish(),
    prevTid: c.prevTid.finish(),
    prevPid: c.prevPid.finish(),
    comm: c.comm.finish(),
    cgroup: c.cgroup.finish(),
    prevState: c.prevState.finish(),
    nextTid: c.nextTid.finish(),
    host: c.host.finish(),
  };
}

export interface SampleInput {
  stack: StackIndex;
  time: number;
  weight: number;
  pid: number;
  tid: number;
  cpu: number;
  comm: StringIndex;
  cgroup: StringIndex;
  /** Default: the empty string (single-host input). */
  host?: StringIndex;
}

/** Grows plain columns while an importer runs; `finish()` freezes them into a validated Profile. */
export class ProfileBuilder {
  readonly strings = new StringTable();
  private readonly frameIndex = new Map<string, FrameIndex>();
  private readonly frameName = new Int32Column();
  private readonly frameModule = new Int32Column();
  private readonly frameKind = new Uint8Column();
  private readonly frameInlined = new Uint8Column();
  private readonly frameAddress = new Int32Column();
  private readonly stackIndex = new IntPairTable();
  private readonly stackPrefix = new Int32Column();
  private readonly stackFrame = new Int32Column();
  private readonly stackDepth = new Int32Column();
  private readonly stackCallerSite = new Float64Column();
  private readonly sampleStack = new Int32Column();
  private readonly sampleTime = new Float64Column();
  private readonly sampleWeight = new Float64Column();
  private readonly samplePid = new Int32Column();
  private readonly sampleTid = new Int32Column();
  private readonly sampleCpu = new Int32Column();
  private readonly sampleComm = new Int32Column();
  private readonly sampleCgroup = new Int32Column();
  private readonly sampleHost = new Int32Column();
  readonly meta: ProfileMeta;
  private switchCols: ReturnType<typeof newSwitchColumns> | null = null;
  /** The empty string: the cgroup of samples whose cgroup is unknown. */
  readonly unknownCgroup: StringIndex;
  /** Limits against hostile input (model/limits.ts); tests lower them. */
  readonly limits = { samples: MAX_SAMPLES, stackNodes: MAX_STACK_NODES };

  constructor(source: string, format: ProfileMeta['format']) {
    this.unknownCgroup = this.strings.intern('');
    this.meta = {
      source,
      format,
      event: '',
      events: [],
      eventChosenBy: 'only',
      callGraph: 'unknown' as CallGraphMode,
      hasCgroups: false,
      durationSeconds: null,
      truncated: false,
      oddities: {},
      warnings: [],
      recording: {},
      hosts: [],
    };
  }

  get switchCount(): number {
    return this.switchCols?.stack.length ?? 0;
  }

  get sampleCount(): number {
    return this.sampleStack.length;
  }

  frame(
    name: string,
    module: string,
    kind: FrameKindCode,
    inlined: boolean,
    address: string | null,
  ): FrameIndex {
    const key = `${name}\u0000${module}\u0000${kind}\u0000${inlined ? 1 : 0}\u0000${address ?? ''}`;
    let f = this.frameIndex.get(key);
    if (f === undefined) {
      f = this.frameName.length;
      this.frameName.push(this.strings.intern(name));
      this.frameModule.push(this.strings.intern(module));
      this.frameKind.push(kind);
      this.frameInlined.push(inlined ? 1 : 0);
      this.frameAddress.push(address === null ? -1 : this.strings.intern(address));
      this.frameIndex.set(key, f);
    }
    return f;
  }

  /**
   * The stack node for `frame` called from `prefix` (-1 for a root frame). `callerSite`: the
   * prefix frame's address of the call (StackTable.callerSite); default NaN, unknown.
   */
  stack(prefix: StackIndex, frame: FrameIndex, callerSite = Number.NaN): StackIndex {
    const found = this.stackIndex.get(prefix + 1, frame);
    if (found !== -1) return found;
    const s = this.stackPrefix.length;
    if (s >= this.limits.stackNodes)
      throw new ProfileLimitError(
        this.meta.source,
        `at most ${this.limits.stackNodes} distinct call stacks`,
        'more',
      );
    this.stackPrefix.push(prefix);
    this.stackFrame.push(frame);
    this.stackDepth.push(prefix === -1 ? 0 : this.stackDepth.at(prefix) + 1);
    this.stackCallerSite.push(callerSite);
    this.stackIndex.set(prefix + 1, frame, s);
    return s;
  }

  /** Stack node for frames listed root first. */
  stackOf(framesRootFirst: readonly FrameIndex[]): StackIndex {
    let s = -1;
    for (const f of framesRootFirst) s = this.stack(s, f);
    return s;
  }

  frameKindOf(f: FrameIndex): FrameKindCode {
    return this.frameKind.at(f) as FrameKindCode;
  }

  /** A context switch (stack of the task switching out). Finished into `profile.switches`. */
  addSwitch(s: SwitchInput): void {
    this.switchCols ??= newSwitchColumns();
    const c = this.switchCols;
    if (c.stack.length >= this.limits.samples)
      throw new ProfileLimitError(
        this.meta.source,
        `at most ${this.limits.samples} context switches`,
        'more',
      );
    c.stack.push(s.stack);
    c.timeNs.push(s.timeNs);
    c.cpu.push(s.cpu);
    c.prevTid.push(s.prevTid);
    c.prevPid.push(s.prevPid);
    c.comm.push(s.comm);
    c.cgroup.push(s.cgroup);
    c.prevState.push(s.prevState);
    c.nextTid.push(s.nextTid);
    c.host.push(s.host ?? this.unknownCgroup);
  }

  addSample(s: SampleInput): void {
    if (this.sampleStack.length >= this.limits.samples)
      throw new ProfileLimitError(this.meta.source, `at most ${this.limits.samples} samples`, 'more');
    this.sampleStack.push(s.stack);
    this.sampleTime.push(s.time);
    this.sampleWeight.push(s.weight);
    this.samplePid.push(s.pid);
    this.sampleTid.push(s.tid);
    this.sampleCpu.push(s.cpu);
    this.sampleComm.push(s.comm);
    this.sampleCgroup.push(s.cgroup);
    this.sampleHost.push(s.host ?? this.unknownCgroup);
  }

  /** Counts an odd but survivable input line; reported once per kind. */
  oddity(kind: string, line: number, example: string): void {
    const o = this.meta.oddities[kind];
    if (o) o.count++;
    else this.meta.oddities[kind] = { count: 1, firstLine: line, example: example.slice(0, 200) };
  }

  finish(opts: ValidateOptions = {}): Profile {
    const time = this.sampleTime.finish();
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const t of time) {
      if (t < first) first = t;
      if (t > last) last = t;
    }
    if (this.meta.durationSeconds === null && last >= first) this.meta.durationSeconds = last - first;
    const profile: Profile = {
      strings: this.strings.strings,
      frames: {
        length: this.frameName.length,
        name: this.frameName.finish(),
        module: this.frameModule.finish(),
        kind: this.frameKind.finish(),
        inlined: this.frameInlined.finish(),
        address: this.frameAddress.finish(),
      },
      stacks: {
        length: this.stackPrefix.length,
        prefix: this.stackPrefix.finish(),
        frame: this.stackFrame.finish(),
        depth: this.stackDepth.finish(),
        callerSite: this.stackCallerSite.finish(),
      },
      samples: {
        length: this.sampleStack.length,
        stack: this.sampleStack.finish(),
        time,
        weight: this.sampleWeight.finish(),
        pid: this.samplePid.finish(),
        tid: this.sampleTid.finish(),
        cpu: this.sampleCpu.finish(),
        comm: this.sampleComm.finish(),
        cgroup: this.sampleCgroup.finish(),
        host: this.sampleHost.finish(),
      },
      // A copy, frozen: the finished profile never changes, even if the builder's meta does.
      meta: Object.freeze({
        ...this.meta,
        events: this.meta.events.map((e) => ({ ...e })),
        oddities: { ...this.meta.oddities },
        warnings: [...this.meta.warnings],
        recording: { ...this.meta.recording },
        hosts: [...this.meta.hosts],
      }),
      ...(this.switchCols ? { switches: finishSwitches(this.switchCols) } : {}),
    };
    validateProfile(profile, opts);
    return profile;
  }
}
