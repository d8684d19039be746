import type { PerfAttr } from './file-header.ts';
import {
  callchainOffset,
  cgroupOffset,
  rawOffset,
  type SampleLayout,
  SampleType,
  sampleLayoutOf,
  u64,
} from './sample-layout.ts';
import type { CacheRoot } from './symbol-sources.ts';
import { readField, type SwitchFormat, switchStateOf } from './tracepoint-format.ts';

export interface NativeDecodeOptions {
  event?: string;
  keepAddresses?: boolean;
  onProgress?: (fraction: number) => void;
  /** Build-id caches to search before ~/.debug (an extracted archive, a run's build-id dir). */
  cacheRoots?: CacheRoot[];
  /** Largest number of addresses kept per call chain (perf script: kernel.perf_event_max_stack). */
  maxStack?: number;
  /** Decode context switches (sched_switch) into `profile.switches` with this payload format. Default: left out. */
  switchFormat?: SwitchFormat;
}

export interface Chosen {
  name: string;
  attrIndexes: Set<number>;
  by: 'only' | 'first' | 'option';
  /** Context switches beside the profiled event: their attrs and the payload's format. */
  switches?: { attrIndexes: Set<number>; format: SwitchFormat };
}

export const Rec = { MMAP: 1, COMM: 3, EXIT: 4, FORK: 7, SAMPLE: 9, MMAP2: 10, KSYMBOL: 17 } as const;
export const MISC_CPUMODE = 7;
export const MODE_KERNEL = 1;
export const MODE_USER = 2;
export const MODE_HV = 3;
export const MISC_MMAP_BUILD_ID = 1 << 14;
export const PROT_EXEC = 4;
export const MAP_HUGETLB = 0x40000;
export const KERNEL_HI = 0xffffffff;
/** PERF_CONTEXT_MAX (-4095) as the low half of a u64 whose high half is all ones. */
export const CONTEXT_MAX_LO = 0xfffff001;
export const CONTEXT = { HV: 0xffffffe0, KERNEL: 0xffffff80, USER: 0xfffffe00 } as const;
export const UNKNOWN = '[unknown]';
export const KERNEL_DSO = '[kernel.kallsyms]';

/** Grows a typed column. */
export class Col<T extends Float64Array | Int32Array | Uint32Array> {
  length = 0;
  constructor(public data: T) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new (this.data.constructor as new (n: number) => T)(Math.max(16, this.data.length * 2));
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
  /** Makes room for `n` more values; write them to `data` from `length` on, then add n to length. */
  reserve(n: number): void {
    if (this.length + n <= this.data.length) return;
    let size = Math.max(16, this.data.length * 2);
    while (size < this.length + n) size *= 2;
    const grown = new (this.data.constructor as new (n: number) => T)(size);
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }
}

export interface SideBand {
  time: number;
  seq: number;
  type: number;
  misc: number;
  pid: number;
  tid: number;
  /** FORK: parent pid/tid. */
  ppid: number;
  ptid: number;
  startHi: number;
  startLo: number;
  len: number;
  pgoff: number;
  /** Low 32 bits of pgoff, exact (the kernel map's pgoff is a kernel address). */
  pgoffLo: number;
  prot: number;
  flags: number;
  name: string;
  buildId: string | null;
}

/** Phase 1: samples of the chosen event as columns, side-band records as objects. */
export class RecordPass {
  samples = 0;
  readonly time: Col<Float64Array>;
  readonly pid: Col<Int32Array>;
  readonly tid: Col<Int32Array>;
  readonly cpu: Col<Int32Array>;
  readonly period: Col<Float64Array>;
  readonly cgroup: Col<Float64Array>;
  readonly misc: Col<Int32Array>;
  /** Chain of sample i: chainAt[i] .. chainAt[i + 1] in `chain` (hi, lo pairs). */
  readonly chainAt: Col<Int32Array>;
  readonly chain: Col<Uint32Array>;
  readonly side: SideBand[] = [];
  readonly eventOrder: number[] = [];
  /** Context switches among the samples: sample index, prev_state's SwitchState, next_pid. */
  readonly switchAt = new Col(new Int32Array(1 << 10));
  readonly switchState = new Col(new Int32Array(1 << 10));
  readonly switchNext = new Col(new Int32Array(1 << 10));
  corrupt = 0;
  private readonly layouts: SampleLayout[];
  private readonly idToAttr = new Map<number, number>();
  private readonly idPos: number;
  private readonly trailer: number;
  private readonly trailerTime: number;
  private readonly hasCallchain: boolean[];

  /**
   * `expect`: the samples the reader counted for the kept events and the data section's size,
   * so the columns are allocated once (growing them by doubling left most of a decode's garbage).
   */
  constructor(
    attrs: PerfAttr[],
    private readonly keep: Set<number>,
    private readonly switches: Chosen['switches'] = undefined,
    expect: { samples: number; dataBytes: number } = { samples: 1 << 14, dataBytes: 1 << 20 },
  ) {
    const n = Math.max(16, expect.samples + 1);
    this.time = new Col(new Float64Array(n));
    this.pid = new Col(new Int32Array(n));
    this.tid = new Col(new Int32Array(n));
    this.cpu = new Col(new Int32Array(n));
    this.period = new Col(new Float64Array(n));
    this.cgroup = new Col(new Float64Array(n));
    this.misc = new Col(new Int32Array(n));
    this.chainAt = new Col(new Int32Array(n));
    // A chain entry is 8 bytes of a record, kept as two u32: at most dataBytes / 4 words.
    this.chain = new Col(
      new Uint32Array(Math.max(1 << 10, Math.min(Math.ceil(expect.dataBytes / 4), 1 << 25))),
    );
    this.layouts = attrs.map(sampleLayoutOf);
    attrs.forEach((a, i) => {
      for (const id of a.ids) this.idToAttr.set(id, i);
    });
    this.idPos = attrs.length === 1 ? -1 : this.layouts[0].id;
    const t = attrs[0].sampleType;
    const bits = [
      SampleType.TID,
      SampleType.TIME,
      SampleType.ID,
      SampleType.STREAM_ID,
      SampleType.CPU,
      SampleType.IDENTIFIER,
    ];
    this.trailer = bits.reduce((n, b) => n + ((t & b) !== 0 ? 8 : 0), 0);
    this.trailerTime = (t & SampleType.TID) !== 0 ? 8 : 0;
    this.hasCallchain = attrs.map((a) => (a.sampleType & SampleType.CALLCHAIN) !== 0);
    this.chainAt.push(0);
  }

  readonly visit = (type: number, view: DataView, pos: number, size: number): void => {
    if (type === Rec.SAMPLE) this.sample(view, pos, size);
    else if (
      type === Rec.MMAP ||
      type === Rec.MMAP2 ||
      type === Rec.COMM ||
      type === Rec.FORK ||
      type === Rec.EXIT ||
      type === Rec.KSYMBOL
    )
      this.sideBand(type, view, pos, size);
  };

  private sample(view: DataView, pos: number, size: number): void {
    let a = 0;
    if (this.idPos !== -1) {
      if (this.idPos + 8 > size) return;
      a = this.idToAttr.get(u64(view, pos + this.idPos)) ?? -1;
    }
    if (a === -1 || !this.keep.has(a)) return;
    const l = this.layouts[a];
    const t = l.attr.sampleType;
    if (size < l.variableStart) {
      // Shorter than its fixed fields: a forged or cut record.
      this.corrupt++;
      return;
    }
    if (this.switches?.attrIndexes.has(a) === true && !this.switchPayload(view, pos, size, l)) {
      this.corrupt++;
      return;
    }
    this.samples++;
    this.time.push(l.time !== -1 ? u64(view, pos + l.time) : 0);
    this.pid.push(l.tid !== -1 ? view.getInt32(pos + l.tid, true) : -1);
    this.tid.push(l.tid !== -1 ? view.getInt32(pos + l.tid + 4, true) : -1);
    this.cpu.push(l.cpu !== -1 ? view.getUint32(pos + l.cpu, true) : -1);
    this.period.push(l.period !== -1 ? u64(view, pos + l.period) : 1);
    this.misc.push(view.getUint16(pos + 4, true));
    const cg = l.hasCgroup ? cgroupAt(view, pos, size, l) : -1;
    this.cgroup.push(cg);
    if (this.hasCallchain[a]) {
      const at = callchainOffset(view, pos, size, l);
      if (at === -1) this.corrupt++;
      else {
        const nr = u64(view, at);
        if (at + 8 + nr * 8 > pos + size) this.corrupt++;
        else {
          // One capacity check per chain (nr is bounded by the record size checked above).
          const chain = this.chain;
          chain.reserve(nr * 2);
          const out = chain.data;
          let o = chain.length;
          for (let i = 0, p = at + 8; i < nr; i++, p += 8) {
            out[o++] = view.getUint32(p + 4, true);
            out[o++] = view.getUint32(p, true);
          }
          chain.length = o;
        }
      }
    } else if ((t & SampleType.IP) !== 0) {
      const ipAt = pos + 8 + ((t & SampleType.IDENTIFIER) !== 0 ? 8 : 0);
      // No call chain: the sample's own address, in the sample's cpumode.
      const mode = view.getUint16(pos + 4, true) & MISC_CPUMODE;
      this.chain.push(KERNEL_HI);
      this.chain.push(mode === MODE_KERNEL ? CONTEXT.KERNEL : CONTEXT.USER);
      this.chain.push(view.getUint32(ipAt + 4, true));
      this.chain.push(view.getUint32(ipAt, true));
    }
    this.chainAt.push(this.chain.length);
  }

  /** Keeps a sched_switch payload for the sample about to be pushed; false when it is cut. */
  private switchPayload(view: DataView, pos: number, size: number, l: SampleLayout): boolean {
    const f = (this.switches as NonNullable<Chosen['switches']>).format;
    const at = rawOffset(view, pos, size, l);
    if (at === -1) return false;
    const len = view.getUint32(at, true);
    const need = Math.max(f.prevState.offset + f.prevState.size, f.nextPid.offset + f.nextPid.size);
    if (len < need) return false;
    this.switchAt.push(this.samples);
    this.switchState.push(switchStateOf(f, readField(view, at + 4, f.prevState)));
    this.switchNext.push(readField(view, at + 4, f.nextPid));
    return true;
  }

  private sideBand(type: number, view: DataView, pos: number, size: number): void {
    const end = pos + size;
    const timeAt = end - this.trailer + this.trailerTime;
    const time = timeAt >= pos + 8 && timeAt + 8 <= end ? u64(view, timeAt) : 0;
    const misc = view.getUint16(pos + 4, true);
    const e: SideBand = {
      time,
      seq: this.side.length,
      type,
      misc,
      pid: 0,
      tid: 0,
      ppid: 0,
      ptid: 0,
      startHi: 0,
      startLo: 0,
      len: 0,
      pgoff: 0,
      pgoffLo: 0,
      prot: PROT_EXEC,
      flags: 0,
      name: '',
      buildId: null,
    };
    const bodyEnd = end - this.trailer;
    const str = (at: number): string => {
      if (at >= bodyEnd) return '';
      const bytes = new Uint8Array(view.buffer, view.byteOffset + at, bodyEnd - at);
      const nul = bytes.indexOf(0);
      return Buffer.from(bytes.subarray(0, nul === -1 ? bytes.length : nul)).toString('utf8');
    };
    switch (type) {
      case Rec.MMAP:
      case Rec.MMAP2: {
        if (size < (type === Rec.MMAP ? 48 : 80)) return;
        e.pid = view.getInt32(pos + 8, true);
        e.tid = view.getInt32(pos + 12, true);
        e.startHi = view.getUint32(pos + 20, true);
        e.startLo = view.getUint32(pos + 16, true);
        e.len = u64(view, pos + 24);
        e.pgoff = u64(view, pos + 32);
        e.pgoffLo = view.getUint32(pos + 32, true);
        if (type === Rec.MMAP) {
          e.prot = (misc & (1 << 13)) !== 0 ? 0 : PROT_EXEC;
          e.name = str(pos + 40);
        } else {
          if ((misc & MISC_MMAP_BUILD_ID) !== 0) {
            const n = Math.min(20, view.getUint8(pos + 40));
            e.buildId = Buffer.from(new Uint8Array(view.buffer, view.byteOffset + pos + 44, n)).toString(
              'hex',
            );
          }
          e.prot = view.getUint32(pos + 64, true);
          e.flags = view.getUint32(pos + 68, true);
          e.name = str(pos + 72);
        }
        break;
      }
      case Rec.COMM:
        if (size < 17) return;
        e.pid = view.getInt32(pos + 8, true);
        e.tid = view.getInt32(pos + 12, true);
        e.name = str(pos + 16);
        break;
      case Rec.FORK:
      case Rec.EXIT:
        if (size < 24) return;
        e.pid = view.getInt32(pos + 8, true);
        e.ppid = view.getInt32(pos + 12, true);
        e.tid = view.getInt32(pos + 16, true);
        e.ptid = view.getInt32(pos + 20, true);
        break;
      case Rec.KSYMBOL:
        if (size < 25) return;
        e.startHi = view.getUint32(pos + 12, true);
        e.startLo = view.getUint32(pos + 8, true);
        e.len = view.getUint32(pos + 16, true);
        e.flags = view.getUint16(pos + 22, true);
        e.name = str(pos + 24);
        break;
    }
    this.side.push(e);
  }
}

function cgroupAt(view: DataView, pos: number, size: number, l: SampleLayout): number {
  const p = cgroupOffset(view, pos, size, l);
  return p === -1 ? -1 : u64(view, p);
}

/**
 * Sample indexes in time order, ties by index (perf's ordered events keep file order). When
 * (time - first) * n + index stays an exact integer (a recording of minutes), the packed keys
 * sort as a Float64Array without a comparator, several times faster; else a comparator sort.
 */
export function timeOrder(t: Float64Array, n: number): Int32Array {
  const order = new Int32Array(n);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sorted = true;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    const v = t[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (i > 0 && v < t[i - 1]) sorted = false;
  }
  if (sorted) return order;
  if ((max - min + 1) * n < Number.MAX_SAFE_INTEGER) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (t[i] - min) * n + i;
    keys.sort();
    for (let k = 0; k < n; k++) order[k] = keys[k] % n;
    return order;
  }
  // A plain array: V8 sorts it far faster than a typed array with a comparator.
  const list = Array.from(order);
  list.sort((a, b) => t[a] - t[b] || a - b);
  return Int32Array.from(list);
}
