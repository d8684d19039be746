/**
 * pprof import: a profile.proto (gzipped or not) from crosstalk's own export, Go programs
 * (runtime/pprof), Grafana Pyroscope or Parca, read into the profile model.
 *
 * - Weight: the cpu/nanoseconds value when present (then the event is cpu-clock, so shares and
 *   units match perf input), else the default sample type, else the last one. Each pprof sample
 *   becomes `samples/count` rows of equal weight, so sample counts stay true (up to
 *   expansionLimit, a few rows per byte of input; beyond that one row per pprof sample, with a
 *   warning).
 * - Labels: comm, pid, tid, cgroup and host map back to their columns. Without a cgroup label, the
 *   container labels (namespace, pod, container) name a stand-in cgroup `/pprof/<ns>/<pod>/<container>`
 *   so containers stay apart; without any, the container is unknown. The syscall and category
 *   labels are not read back: analysis derives them from the stacks, which round-trip.
 * - Frames: a `_[k]` / `_[j]` suffix marks kernel / JIT frames (crosstalk's export); otherwise the
 *   Mapping's filename decides as for perf (`[kernel.kallsyms]`, `.ko`, `/tmp/perf-N.map`). A
 *   Location's extra Lines are inlined frames, and so are those in a Mapping named `inlined`.
 * - A buffer that ends inside a field is reported as truncated, not read as far as it goes.
 */
import {
  type Label,
  type Location,
  type Profile as PprofProfile,
  Profile as PprofReader,
  type Sample,
} from 'pprof-format';
import { ProfileBuilder } from '../model/builder.ts';
import {
  type CallGraphMode,
  FrameKind,
  type FrameKindCode,
  type Profile,
  UNKNOWN_PID,
} from '../model/profile.ts';
import { InputError } from './errors.ts';
import { frameKindOf } from './perf-script/frame.ts';
import { COMMENT_PREFIX, JIT_SUFFIX, KERNEL_SUFFIX, NO_STACK_FRAME } from './pprof-export.ts';

/** Above this many rows a profile is kept one row per pprof sample (about 50 bytes per row). */
export const MAX_EXPANDED_ROWS = 5_000_000;

/**
 * Rows a profile of `bytes` (decoded protobuf) may expand to: 4 per byte, at least 100,000.
 * crosstalk's export of the busy-host corpus holds 0.13 (205,106 samples in 1.5 MB); without a
 * bound tied to the input, an 11 kB profile whose counts a flipped byte had raised to millions
 * took 0.56 s of CPU and about 50 bytes per row (found by scripts/soak.ts).
 */
export function expansionLimit(bytes: number): number {
  return Math.min(MAX_EXPANDED_ROWS, Math.max(100_000, 4 * bytes));
}

export interface PprofImportOptions {
  /** Keep Location addresses as frame addresses. Default false. */
  keepAddresses?: boolean;
}

/**
 * Wire types of profile.proto's top-level fields 1..15 (2 = length-delimited, 0 = varint;
 * comment, field 13, may be packed). Text starts with bytes that are no valid tag here.
 */
const WIRE_OF_FIELD: readonly (readonly number[])[] = [
  [],
  [2],
  [2],
  [2],
  [2],
  [2],
  [2],
  [0],
  [0],
  [0],
  [0],
  [2],
  [0],
  [0, 2],
  [0],
  [0],
];

/** Fields that must be seen before a partial head counts as pprof. */
const MIN_FIELDS = 3;

/**
 * yes: `head` (already gunzipped) walks as a sequence of profile.proto fields; no: a byte that
 * cannot start one. `complete`: head is the whole input (it must then end on a field boundary).
 */
export function sniffPprof(head: Uint8Array, complete: boolean): 'yes' | 'no' | 'need-more' {
  let pos = 0;
  let fields = 0;
  while (pos < head.length) {
    const tag = readVarint(head, pos);
    if (tag === null) return complete ? 'no' : 'need-more';
    const field = Math.floor(tag.value / 8);
    const wire = tag.value & 7;
    if (field < 1 || field > 15 || !WIRE_OF_FIELD[field].includes(wire)) return 'no';
    const v = readVarint(head, tag.next);
    if (v === null) {
      if (complete) return 'no';
      return fields >= MIN_FIELDS && hasControlBytes(head) ? 'yes' : 'need-more';
    }
    pos = wire === 2 ? v.next + v.value : v.next;
    fields++;
    if (pos > head.length) {
      // A complete input that ends inside a field: a truncated pprof if it looked like one so far.
      if (complete && fields < MIN_FIELDS) return 'no';
      return fields >= MIN_FIELDS && hasControlBytes(head) ? 'yes' : 'need-more';
    }
  }
  if (fields === 0) return complete ? 'no' : 'need-more';
  if (!hasControlBytes(head)) return 'no';
  return complete || fields >= MIN_FIELDS ? 'yes' : 'need-more';
}

/** Text never holds control bytes other than tab and newlines; encoded lengths and ids do. */
function hasControlBytes(head: Uint8Array): boolean {
  for (let i = 0; i < head.length && i < 4096; i++) {
    const b = head[i];
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return true;
  }
  return false;
}

function readVarint(buf: Uint8Array, at: number): { value: number; next: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i];
    value += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
  }
  return null;
}

const num = (v: number | bigint): number => Number(v);

/** Where the top-level fields stop fitting in `bytes` (a cut file), or null when they all fit. */
function truncationOf(bytes: Uint8Array): string | null {
  let pos = 0;
  while (pos < bytes.length) {
    const tag = readVarint(bytes, pos);
    const v = tag === null ? null : readVarint(bytes, tag.next);
    if (tag === null || v === null) return `data that ends inside a field tag or value at byte ${pos}`;
    const end = (tag.value & 7) === 2 ? v.next + v.value : v.next;
    if (end > bytes.length)
      return `data that ends at byte ${bytes.length}, inside field ${Math.floor(tag.value / 8)} (${end - bytes.length} bytes missing: truncated?)`;
    pos = end;
  }
  return null;
}

/** Decodes an ungzipped pprof profile. */
export function parsePprof(bytes: Uint8Array, source: string, opts: PprofImportOptions = {}): Profile {
  const cut = truncationOf(bytes);
  if (cut !== null) throw new InputError(source, null, 'a complete pprof profile', cut);
  let pp: PprofProfile;
  try {
    pp = PprofReader.decode(bytes);
  } catch (e) {
    throw new InputError(
      source,
      null,
      'a pprof profile (profile.proto)',
      `undecodable data (${(e as Error).message})`,
    );
  }
  return new PprofImporter(pp, source, opts).run(expansionLimit(bytes.length));
}

interface ValueChoice {
  weight: number;
  count: number;
  event: string;
}

class PprofImporter {
  private readonly b: ProfileBuilder;
  private readonly str: string[];
  private readonly functionName = new Map<number, string>();
  private readonly mappingFile = new Map<number, string>();
  private readonly locationById = new Map<number, Location>();
  /** Location id -> frame indexes, root first. */
  private readonly locationFrames = new Map<number, number[]>();
  private readonly comments = new Map<string, string>();
  private readonly mainBinary: string;

  constructor(
    private readonly pp: PprofProfile,
    private readonly source: string,
    private readonly opts: PprofImportOptions,
  ) {
    this.b = new ProfileBuilder(source, 'pprof');
    this.str = pp.stringTable.strings;
    for (const f of pp.function) this.functionName.set(num(f.id), this.str[num(f.name)] ?? '');
    for (const m of pp.mapping) this.mappingFile.set(num(m.id), this.str[num(m.filename)] ?? '');
    for (const l of pp.location) this.locationById.set(num(l.id), l);
    for (const c of pp.comment) {
      const text = this.str[num(c)] ?? '';
      const m = /^crosstalk: ([a-z-]+)=(.*)$/s.exec(text);
      if (text.startsWith(COMMENT_PREFIX) && m) this.comments.set(m[1], m[2]);
    }
    const first = pp.mapping.length > 0 ? (this.str[num(pp.mapping[0].filename)] ?? '') : '';
    this.mainBinary = first.slice(first.lastIndexOf('/') + 1);
  }

  run(maxRows: number): Profile {
    const { pp, b } = this;
    const choice = this.valueChoice();
    const expand = this.totalCount(choice) <= maxRows;
    if (!expand) {
      b.meta.warnings.push(
        `${this.source}: more than ${maxRows} samples; each pprof sample is kept as one row, so sample counts are pprof's, not perf's`,
      );
    }
    let rows = 0;
    for (const s of pp.sample) rows += this.addSample(s, choice, expand);
    b.meta.event = this.comments.get('event') ?? choice.event;
    b.meta.events = [{ name: b.meta.event, samples: rows }];
    b.meta.callGraph = callGraphOf(this.comments.get('call-graph'));
    const duration = num(pp.durationNanos);
    if (duration > 0) b.meta.durationSeconds = duration / 1e9;
    return b.finish();
  }

  /** Which value is the weight: cpu nanoseconds, else the default sample type, else the last. */
  private valueChoice(): ValueChoice {
    const types = this.pp.sampleType.map((t) => ({
      type: this.str[num(t.type)] ?? '',
      unit: this.str[num(t.unit)] ?? '',
    }));
    if (types.length === 0)
      throw new InputError(this.source, null, 'a pprof profile with sample types', 'none');
    const count = types.findIndex((t) => t.type === 'samples' && t.unit === 'count');
    let weight = types.findIndex((t) => t.type === 'cpu' && t.unit === 'nanoseconds');
    if (weight !== -1) return { weight, count, event: 'cpu-clock' };
    const preferred = this.str[num(this.pp.defaultSampleType)] ?? '';
    weight = preferred === '' ? -1 : types.findIndex((t) => t.type === preferred);
    if (weight === -1) weight = types.length - 1;
    return { weight, count, event: types[weight].type };
  }

  private totalCount(c: ValueChoice): number {
    if (c.count === -1) return this.pp.sample.length;
    let n = 0;
    for (const s of this.pp.sample) n += Math.max(1, num(s.value[c.count] ?? 0));
    return n;
  }

  /** Adds one pprof sample as its rows; returns how many. */
  private addSample(s: Sample, c: ValueChoice, expand: boolean): number {
    const value = num(s.value[c.weight] ?? 0);
    if (value < 0) {
      this.b.oddity('sample with a negative value (a diff profile?)', 0, String(value));
      return 0;
    }
    const count = c.count === -1 ? 1 : num(s.value[c.count] ?? 0);
    const rows = expand && count > 1 ? count : 1;
    const stack = this.stackOf(s.locationId);
    const labels = this.labelsOf(s.label);
    for (let r = 0; r < rows; r++) {
      this.b.addSample({ stack, time: Number.NaN, weight: value / rows, cpu: -1, ...labels });
    }
    return rows;
  }

  private labelsOf(list: Label[]) {
    const strs = new Map<string, string>();
    const nums = new Map<string, number>();
    for (const l of list) {
      const key = this.str[num(l.key)] ?? '';
      if (num(l.str) !== 0) strs.set(key, this.str[num(l.str)] ?? '');
      else nums.set(key, num(l.num));
    }
    const pidText = strs.get('pid');
    const pid =
      pidText !== undefined && /^-?\d+$/.test(pidText) ? Number(pidText) : (nums.get('pid') ?? UNKNOWN_PID);
    const tid = nums.get('tid') ?? nums.get('thread_id') ?? (pid === UNKNOWN_PID ? UNKNOWN_PID : pid);
    const comm = strs.get('comm') ?? strs.get('process_name') ?? (this.mainBinary || 'unknown');
    const cgroup = strs.get('cgroup') ?? standInCgroup(strs);
    if (cgroup !== '') this.b.meta.hasCgroups = true;
    const { strings } = this.b;
    return {
      pid,
      tid,
      comm: strings.intern(comm),
      cgroup: strings.intern(cgroup),
      host: strings.intern(strs.get('host') ?? ''),
    };
  }

  private stackOf(locationIds: (number | bigint)[]): number {
    if (locationIds.length === 1 && this.isNoStack(num(locationIds[0]))) return -1;
    let s = -1;
    for (let i = locationIds.length - 1; i >= 0; i--) {
      for (const f of this.framesOf(num(locationIds[i]))) s = this.b.stack(s, f);
    }
    return s;
  }

  /** crosstalk's stand-in Location for a sample without frames. */
  private isNoStack(id: number): boolean {
    const loc = this.locationById.get(id);
    if (loc === undefined || num(loc.mappingId) !== 0 || loc.line.length !== 1) return false;
    return this.functionName.get(num(loc.line[0].functionId)) === NO_STACK_FRAME;
  }

  /** Frames of a Location, root first: its own function, then the functions inlined into it. */
  private framesOf(id: number): number[] {
    const known = this.locationFrames.get(id);
    if (known) return known;
    const loc = this.locationById.get(id);
    if (loc === undefined)
      throw new InputError(this.source, null, 'sample locations listed in the profile', `location id ${id}`);
    const module = this.mappingFile.get(num(loc.mappingId)) ?? '';
    // Kernel addresses exceed 2^53: keep them as bigint until printed.
    const addr = BigInt(loc.address);
    const address = addr > 0n ? addr.toString(16) : '';
    const keep = this.opts.keepAddresses === true && address !== '' ? address : null;
    const names =
      loc.line.length === 0
        ? ['[unknown]']
        : loc.line.map((l) => this.functionName.get(num(l.functionId)) ?? '[unknown]');
    const frames: number[] = [];
    // perf's module for an inlined frame it printed without its enclosing frame (see the export).
    const standaloneInlined = module === 'inlined';
    for (let k = names.length - 1; k >= 0; k--) {
      const { name, kind } = frameNameAndKind(names[k], module, address);
      frames.push(this.b.frame(name, module, kind, standaloneInlined || k < names.length - 1, keep));
    }
    this.locationFrames.set(id, frames);
    return frames;
  }
}

function frameNameAndKind(
  shown: string,
  module: string,
  address: string,
): { name: string; kind: FrameKindCode } {
  if (shown.endsWith(KERNEL_SUFFIX))
    return { name: shown.slice(0, -KERNEL_SUFFIX.length), kind: FrameKind.kernel };
  if (shown.endsWith(JIT_SUFFIX)) return { name: shown.slice(0, -JIT_SUFFIX.length), kind: FrameKind.jit };
  return { name: shown, kind: frameKindOf(module, shown, address) };
}

/** A cgroup-like path from container labels, so containers stay apart; '' when there are none. */
function standInCgroup(labels: Map<string, string>): string {
  const container = labels.get('container') ?? labels.get('container_id') ?? labels.get('container_name');
  const pod = labels.get('pod') ?? labels.get('pod_name');
  if ((container === undefined || container === 'unknown') && pod === undefined) return '';
  const parts = [labels.get('namespace'), pod, container === 'unknown' ? undefined : container]
    .filter((x): x is string => x !== undefined && x !== '')
    .map((x) => x.replaceAll('/', '_'));
  return `/pprof/${parts.join('/')}`;
}

function callGraphOf(v: string | undefined): CallGraphMode {
  return v === 'fp' || v === 'dwarf' || v === 'lbr' || v === 'none' ? v : 'unknown';
}
