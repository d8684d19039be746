/**
 * speedscope export (https://www.speedscope.app/file-format-schema.json, checked against the
 * schema the speedscope npm package ships): one "sampled" profile per container or per process,
 * sharing one frame table. Stacks are listed root first, as speedscope's own importers build them.
 *
 * Samples with the same stack are summed (first appearance order), so the file stays small; the
 * "Time Order" view therefore shows stacks, not time. Frame names follow the pprof export: `_[k]`
 * marks kernel frames, `_[j]` JIT frames, and samples without frames get `[no stack]`.
 */
import { FrameKind, type Profile, UNKNOWN_PID } from '../model/profile.ts';
import {
  isNanosecondEvent,
  JIT_SUFFIX,
  KERNEL_SUFFIX,
  NO_STACK_FRAME,
  type SampleLabeler,
} from './pprof-export.ts';

export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

export interface SpeedscopeFrame {
  name: string;
  file?: string;
}

export interface SpeedscopeSampledProfile {
  type: 'sampled';
  name: string;
  unit: 'nanoseconds' | 'none';
  startValue: number;
  endValue: number;
  samples: number[][];
  weights: number[];
}

export interface SpeedscopeFile {
  $schema: typeof SPEEDSCOPE_SCHEMA;
  name: string;
  exporter: string;
  activeProfileIndex: number;
  shared: { frames: SpeedscopeFrame[] };
  profiles: SpeedscopeSampledProfile[];
}

export interface SpeedscopeOptions {
  /** One profile per container (needs `labels`) or per process. Default 'container'. */
  by?: 'container' | 'process';
  /** Container names; without it every sample is in one container, "all". */
  labels?: Pick<SampleLabeler, 'identity'>;
  /** Written as `exporter`. Default 'crosstalk'. */
  exporter?: string;
}

interface Group {
  name: string;
  weight: number;
  byStack: Map<number, number>;
}

export function speedscopeOf(p: Profile, opts: SpeedscopeOptions = {}): SpeedscopeFile {
  const frames = new SharedFrames(p);
  const groups = new Map<string, Group>();
  const groupOf = opts.by === 'process' ? processGroup(p) : containerGroup(p, opts.labels);
  const { samples } = p;
  for (let i = 0; i < samples.length; i++) {
    const { key, name } = groupOf(i);
    let g = groups.get(key);
    if (g === undefined) {
      g = { name, weight: 0, byStack: new Map() };
      groups.set(key, g);
    }
    const w = samples.weight[i];
    g.weight += w;
    g.byStack.set(samples.stack[i], (g.byStack.get(samples.stack[i]) ?? 0) + w);
  }
  const unit = isNanosecondEvent(p.meta.event) ? 'nanoseconds' : 'none';
  const profiles = [...groups.values()]
    .sort((a, b) => b.weight - a.weight || a.name.localeCompare(b.name))
    .map((g): SpeedscopeSampledProfile => {
      const stacks = [...g.byStack.keys()];
      return {
        type: 'sampled',
        name: g.name,
        unit,
        startValue: 0,
        endValue: g.weight,
        samples: stacks.map((s) => frames.stackOf(s)),
        weights: stacks.map((s) => g.byStack.get(s) as number),
      };
    });
  return {
    $schema: SPEEDSCOPE_SCHEMA,
    name: `${p.meta.source} (${p.meta.event})`,
    exporter: opts.exporter ?? 'crosstalk',
    activeProfileIndex: 0,
    shared: { frames: frames.list },
    profiles,
  };
}

type GroupOf = (i: number) => { key: string; name: string };

function hostPrefix(p: Profile, i: number): string {
  const host = p.strings[p.samples.host[i]];
  return host === '' ? '' : `${host}: `;
}

function containerGroup(p: Profile, labels: SpeedscopeOptions['labels']): GroupOf {
  return (i) => {
    const host = hostPrefix(p, i);
    if (labels === undefined) return { key: host, name: `${host}all` };
    const c = labels.identity(i);
    return { key: `${host}\u0000${c.id}`, name: `${host}${c.name}` };
  };
}

function processGroup(p: Profile): GroupOf {
  const { samples, strings } = p;
  return (i) => {
    const host = hostPrefix(p, i);
    const comm = strings[samples.comm[i]];
    const pid = samples.pid[i];
    const id = pid === UNKNOWN_PID ? `tid ${samples.tid[i]}` : `pid ${pid}`;
    return { key: `${host}\u0000${id}\u0000${comm}`, name: `${host}${comm} (${id})` };
  };
}

/** The shared frame table: model frames used by some sample, in order of first use. */
class SharedFrames {
  readonly list: SpeedscopeFrame[] = [];
  private readonly byFrame = new Map<number, number>();
  private readonly byStack = new Map<number, number[]>();
  private noStack = -1;

  constructor(private readonly p: Profile) {}

  /** Frame indexes of a stack node, root first. */
  stackOf(stack: number): number[] {
    if (stack === -1) return [this.noStackFrame()];
    const known = this.byStack.get(stack);
    if (known) return known;
    const { prefix, frame } = this.p.stacks;
    const out: number[] = [];
    for (let n = stack; n !== -1; n = prefix[n]) out.push(this.frameOf(frame[n]));
    out.reverse();
    this.byStack.set(stack, out);
    return out;
  }

  private frameOf(f: number): number {
    let k = this.byFrame.get(f);
    if (k === undefined) {
      const { frames, strings } = this.p;
      const name = strings[frames.name[f]];
      const kind = frames.kind[f];
      const suffix = kind === FrameKind.kernel ? KERNEL_SUFFIX : kind === FrameKind.jit ? JIT_SUFFIX : '';
      const module = strings[frames.module[f]];
      k = this.list.length;
      this.list.push(module === '' ? { name: name + suffix } : { name: name + suffix, file: module });
      this.byFrame.set(f, k);
    }
    return k;
  }

  private noStackFrame(): number {
    if (this.noStack === -1) {
      this.noStack = this.list.length;
      this.list.push({ name: NO_STACK_FRAME });
    }
    return this.noStack;
  }
}
