/**
 * Native decoding of frame-pointer perf.data recordings: the stacks `perf script` would print,
 * without running perf. Three phases:
 *   1. one walk over the records keeps the samples (tid, time, cpu, period, cgroup, call chain)
 *      and the side-band records (COMM, FORK, EXIT, MMAP, MMAP2, KSYMBOL) with their times;
 *   2. both are replayed in time order (perf's ordered events), so each call-chain address is
 *      looked up in the address space its process had at that moment; an address becomes a
 *      location (file + offset), interned;
 *   3. the files behind the locations are read once (symbol-sources.ts), every location gets a
 *      symbol, C++/Rust names are demangled in one batch (demangle.ts), and the samples are
 *      built into a Profile with the frame names and modules perf script prints.
 * Record layouts: include/uapi/linux/perf_event.h at v6.1 (tag 830b3c68c1fb), comments of
 * `enum perf_event_type`; sample_id trailer order: TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { ProfileBuilder } from '../../model/builder.ts';
import type { FrameIndex, Profile } from '../../model/profile.ts';
import { InputError } from '../errors.ts';
import { frameKindOf } from '../perf-script/frame.ts';
import { eventBase, severalEventsWarning } from '../perf-script/sniff.ts';
import { demangleAll, needsDemangling } from './demangle.ts';
import { offsetToVaddr, readElf } from './elf.ts';
import { FILE_HEADER_SIZE, type PerfAttr, parseFileHeader, readAt, readAttrs } from './file-header.ts';
import type { PerfDataSummary } from './reader.ts';
import { walkRecords } from './records.ts';
import {
  callchainOffset,
  cgroupOffset,
  type SampleLayout,
  SampleType,
  sampleLayoutOf,
  u64,
} from './sample-layout.ts';
import {
  type CacheRoot,
  type DsoSymbols,
  defaultCacheRoots,
  dsoSymbols,
  type KernelSymbols,
  kernelSymbols,
  perfMapSymbols,
} from './symbol-sources.ts';
import { pickDemangled, SymbolTable } from './symtab.ts';

export interface NativeDecodeOptions {
  event?: string;
  keepAddresses?: boolean;
  onProgress?: (fraction: number) => void;
  /** Build-id caches to search before ~/.debug (an extracted archive, a run's build-id dir). */
  cacheRoots?: CacheRoot[];
  /** Largest number of addresses kept per call chain (perf script: kernel.perf_event_max_stack). */
  maxStack?: number;
}

const Rec = { MMAP: 1, COMM: 3, EXIT: 4, FORK: 7, SAMPLE: 9, MMAP2: 10, KSYMBOL: 17 } as const;
const MISC_CPUMODE = 7;
const MODE_KERNEL = 1;
const MODE_USER = 2;
const MODE_HV = 3;
const MISC_MMAP_BUILD_ID = 1 << 14;
const PROT_EXEC = 4;
const MAP_HUGETLB = 0x40000;
const KERNEL_HI = 0xffffffff;
/** PERF_CONTEXT_MAX (-4095) as the low half of a u64 whose high half is all ones. */
const CONTEXT_MAX_LO = 0xfffff001;
const CONTEXT = { HV: 0xffffffe0, KERNEL: 0xffffff80, USER: 0xfffffe00 } as const;
const UNKNOWN = '[unknown]';
const KERNEL_DSO = '[kernel.kallsyms]';

/** Why a recording must go through perf script instead, or null when the native path covers it. */
export function nativeUnsupported(s: PerfDataSummary, wantSwitches: boolean): string | null {
  const attrs = s.attrs;
  if (!attrs.some((a) => a.samples > 0)) return 'no samples';
  for (const a of attrs) {
    if (a.samples === 0) continue;
    if (a.callGraph === 'dwarf')
      return 'DWARF call graphs (--call-graph dwarf) need unwinding, which perf does';
    if (a.callGraph === 'lbr') return 'LBR call stacks are decoded by perf';
    if (wantSwitches && a.name === 'sched:sched_switch')
      return 'context-switch tracepoint payloads are decoded by perf';
  }
  if (attrs.some((a) => (a.sampleType & SampleType.TIME) === 0 || !a.sampleIdAll))
    return 'records without times (sample_id_all) cannot be put in order';
  const arch = s.features.arch;
  if (arch !== undefined && arch !== 'x86_64') return `kernel addresses of ${arch} are not decoded natively`;
  return null;
}

/** Grows a typed column. */
class Col<T extends Float64Array | Int32Array | Uint32Array> {
  length = 0;
  constructor(public data: T) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new (this.data.constructor as new (n: number) => T)(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
}

interface SideBand {
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

interface MapEntry {
  start: number;
  end: number;
  pgoff: number;
  dso: number;
  /** Addresses are absolute (anonymous JIT memory), not file offsets. */
  identity: boolean;
}

interface Dso {
  name: string;
  path: string;
  buildId: string | null;
  kind: 'file' | 'perfmap' | 'vdso' | 'none';
  pid: number;
  locs: Map<number, number>;
  syms?: DsoSymbols | null;
  map?: SymbolTable | null;
}

interface KernelMap {
  startLo: number;
  endLo: number;
  name: string;
  /** A BPF program or JIT symbol (KSYMBOL): its own one-symbol table. */
  ksym: boolean;
}

/** Per location: its dso (-1 kernel, -2 unmapped) and address. */
interface Locations {
  dso: Int32Array;
  addr: Float64Array;
  length: number;
}

export interface NativeStats {
  samples: number;
  unresolvedFrames: number;
  kernelSymbols: string;
  dsosMissing: { name: string; why: string }[];
  demangler: string;
}

export async function decodeNative(
  file: string,
  summary: PerfDataSummary,
  opts: NativeDecodeOptions = {},
): Promise<{ profile: Profile; stats: NativeStats }> {
  const fh = await open(file, 'r');
  try {
    return await decodeOpen(fh, file, summary, opts);
  } finally {
    await fh.close();
  }
}

async function decodeOpen(
  fh: FileHandle,
  file: string,
  summary: PerfDataSummary,
  opts: NativeDecodeOptions,
): Promise<{ profile: Profile; stats: NativeStats }> {
  const st = await fh.stat();
  const header = parseFileHeader(await readAt(fh, 0, FILE_HEADER_SIZE), file);
  const attrs = await readAttrs(fh, header, st.size, file);
  const chosen = chooseEvent(file, summary, opts.event);
  const pass = new RecordPass(attrs, chosen.attrIndexes);
  const span = summary.validDataEnd - summary.dataOffset;
  await walkRecords(fh, summary.dataOffset, summary.validDataEnd, pass.visit, (off) =>
    opts.onProgress?.((0.5 * (off - summary.dataOffset)) / Math.max(1, span)),
  );
  const machine = new Machine(summary, opts.maxStack ?? 127);
  machine.replay(pass);
  opts.onProgress?.(0.6);
  const kernel = await machine.loadSymbols(opts.cacheRoots ?? []);
  opts.onProgress?.(0.8);
  const built = await machine.build(file, pass, chosen, opts, summary);
  opts.onProgress?.(1);
  return {
    profile: built,
    stats: {
      samples: pass.samples,
      unresolvedFrames: machine.unresolved,
      kernelSymbols: kernel,
      dsosMissing: machine.missing,
      demangler: machine.demangler,
    },
  };
}

interface Chosen {
  name: string;
  attrIndexes: Set<number>;
  by: 'only' | 'first' | 'option';
}

/** The profiled event: the user's, else the first sampled one that is not a tracepoint. */
function chooseEvent(file: string, s: PerfDataSummary, event: string | undefined): Chosen {
  const sampled = s.attrs.map((a, i) => ({ a, i })).filter(({ a }) => a.samples > 0);
  let name: string;
  if (event !== undefined) {
    const hit =
      sampled.find(({ a }) => a.name === event) ??
      sampled.find(({ a }) => eventBase(a.name) === eventBase(event));
    if (hit === undefined) {
      const have = sampled.map(({ a }) => `${a.name} (${a.samples})`).join(', ');
      throw new InputError(file, null, `samples of event "${event}"`, `only ${have}`);
    }
    name = hit.a.name;
  } else name = (sampled.find(({ a }) => a.type !== 2) ?? sampled[0]).a.name;
  const attrIndexes = new Set(
    sampled.filter(({ a }) => eventBase(a.name) === eventBase(name)).map(({ i }) => i),
  );
  const bases = new Set(
    sampled.filter(({ a }) => a.name !== 'sched:sched_switch').map(({ a }) => eventBase(a.name)),
  );
  return { name, attrIndexes, by: event !== undefined ? 'option' : bases.size > 1 ? 'first' : 'only' };
}

/** Phase 1: samples of the chosen event as columns, side-band records as objects. */
class RecordPass {
  samples = 0;
  readonly time = new Col(new Float64Array(1 << 14));
  readonly pid = new Col(new Int32Array(1 << 14));
  readonly tid = new Col(new Int32Array(1 << 14));
  readonly cpu = new Col(new Int32Array(1 << 14));
  readonly period = new Col(new Float64Array(1 << 14));
  readonly cgroup = new Col(new Float64Array(1 << 14));
  readonly misc = new Col(new Int32Array(1 << 14));
  /** Chain of sample i: chainAt[i] .. chainAt[i + 1] in `chain` (hi, lo pairs). */
  readonly chainAt = new Col(new Int32Array(1 << 14));
  readonly chain = new Col(new Uint32Array(1 << 18));
  readonly side: SideBand[] = [];
  readonly eventOrder: number[] = [];
  corrupt = 0;
  private readonly layouts: SampleLayout[];
  private readonly idToAttr = new Map<number, number>();
  private readonly idPos: number;
  private readonly trailer: number;
  private readonly trailerTime: number;
  private readonly hasCallchain: boolean[];

  constructor(
    attrs: PerfAttr[],
    private readonly keep: Set<number>,
  ) {
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
        else
          for (let i = 0, p = at + 8; i < nr; i++, p += 8) {
            this.chain.push(view.getUint32(p + 4, true));
            this.chain.push(view.getUint32(p, true));
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

interface Thread {
  pid: number;
  comm: string | null;
}

/** Phases 2 and 3: address spaces over time, then symbols and the profile. */
class Machine {
  private readonly threads = new Map<number, Thread>();
  private readonly maps = new Map<number, MapEntry[]>();
  private kernelMaps: KernelMap[] = [];
  private readonly dsos: Dso[] = [];
  private readonly dsoIndex = new Map<string, number>();
  private readonly kernelLocs = new Map<number, number>();
  private readonly unmappedLocs = new Map<number, number>();
  private locs: Locations = { dso: new Int32Array(1 << 12), addr: new Float64Array(1 << 12), length: 0 };
  /** Per sample: its locations, leaf first (indexes into sampleLocs). */
  sampleLocs = new Col(new Int32Array(1 << 18));
  sampleLocAt = new Col(new Int32Array(1 << 14));
  sampleComm: string[] = [];
  sampleOrder: Int32Array = new Int32Array(0);
  private kernelMapStart = -1;
  private kernelPgoff = -1;
  private kernel: KernelSymbols | null = null;
  private kernelWhy = '';
  private readonly buildIds = new Map<string, string>();
  unresolved = 0;
  /** Locations whose symbol perf picks among aliases by demangled name (symtab.ts pickDemangled). */
  private readonly alternatives = new Map<number, string[]>();
  missing: { name: string; why: string }[] = [];
  demangler = 'none needed';

  constructor(
    private readonly summary: PerfDataSummary,
    private readonly maxStack: number,
  ) {
    this.threads.set(0, { pid: 0, comm: 'swapper' });
    for (const b of summary.features.buildIds ?? []) {
      if (!this.buildIds.has(b.filename)) this.buildIds.set(b.filename, b.buildId);
    }
  }

  replay(pass: RecordPass): void {
    const n = pass.samples;
    const side = pass.side;
    const t = pass.time.data;
    const list: number[] = new Array(n);
    let sorted = true;
    for (let i = 0; i < n; i++) {
      list[i] = i;
      if (i > 0 && t[i] < t[i - 1]) sorted = false;
    }
    // A plain array: V8 sorts it far faster than a typed array with a comparator.
    if (!sorted) list.sort((a, b) => t[a] - t[b] || a - b);
    const order = Int32Array.from(list);
    const sideOrder = side.slice().sort((a, b) => a.time - b.time || a.seq - b.seq);
    this.sampleOrder = order;
    this.sampleLocAt.push(0);
    let j = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k];
      while (j < sideOrder.length && sideOrder[j].time <= t[i]) this.apply(sideOrder[j++]);
      this.resolveSample(pass, i);
    }
  }

  private thread(tid: number, pid: number): Thread {
    let th = this.threads.get(tid);
    if (th === undefined) {
      th = { pid, comm: null };
      this.threads.set(tid, th);
    } else if (th.pid === -1 && pid !== -1) th.pid = pid;
    return th;
  }

  private apply(e: SideBand): void {
    switch (e.type) {
      case Rec.COMM:
        this.thread(e.tid, e.pid).comm = e.name;
        this.thread(e.tid, e.pid).pid = e.pid;
        break;
      case Rec.FORK: {
        const parent = this.threads.get(e.ptid);
        const child = this.thread(e.tid, e.pid);
        child.pid = e.pid;
        if (parent?.comm) child.comm = parent.comm;
        if (e.pid !== e.ppid) this.maps.set(e.pid, (this.maps.get(e.ppid) ?? []).slice());
        break;
      }
      case Rec.MMAP:
      case Rec.MMAP2:
        this.mmap(e);
        break;
      case Rec.KSYMBOL:
        if (e.startHi !== KERNEL_HI) break;
        this.kernelMaps = this.kernelMaps.filter((m) => !(m.ksym && m.startLo === e.startLo));
        if ((e.flags & 1) === 0)
          this.kernelMaps.push({ startLo: e.startLo, endLo: e.startLo + e.len, name: e.name, ksym: true });
        break;
    }
  }

  private mmap(e: SideBand): void {
    const mode = e.misc & MISC_CPUMODE;
    if (mode === MODE_KERNEL || e.pid === -1) {
      if (e.startHi !== KERNEL_HI) return;
      if (e.name.startsWith(KERNEL_DSO)) {
        this.kernelMapStart = e.startLo;
        this.kernelPgoff = e.pgoffLo;
      } else
        this.kernelMaps.push({
          startLo: e.startLo,
          endLo: e.startLo + e.len,
          name: moduleName(e.name),
          ksym: false,
        });
      return;
    }
    if (mode !== MODE_USER && mode !== 0) return;
    const start = e.startHi * 4294967296 + e.startLo;
    const anon =
      e.name === '//anon' ||
      e.name.startsWith('/dev/zero') ||
      e.name.startsWith('/anon_hugepage') ||
      (e.flags & MAP_HUGETLB) !== 0;
    const noDso = e.name.startsWith('[stack') || e.name.startsWith('/SYSV') || e.name === '[heap]';
    let name = e.name;
    let kind: Dso['kind'] = 'file';
    if ((anon || noDso) && (e.prot & PROT_EXEC) !== 0) {
      name = `/tmp/perf-${e.pid}.map`;
      kind = 'perfmap';
    } else if (anon || noDso) kind = 'none';
    else if (e.name === '[vdso]') kind = 'vdso';
    const bid = e.buildId ?? this.buildIds.get(name) ?? null;
    const dso = this.dsoOf(name, kind, bid, e.pid);
    const entry: MapEntry = {
      start,
      end: start + e.len,
      pgoff: kind === 'vdso' ? 0 : e.pgoff,
      dso,
      identity: kind === 'perfmap' || kind === 'none',
    };
    insertMap(this.maps, e.pid, entry);
  }

  private dsoOf(name: string, kind: Dso['kind'], bid: string | null, pid: number): number {
    const key = kind === 'perfmap' ? name : `${name}\u0000${bid ?? ''}`;
    let d = this.dsoIndex.get(key);
    if (d === undefined) {
      d = this.dsos.length;
      this.dsos.push({ name, path: name, buildId: bid, kind, pid, locs: new Map() });
      this.dsoIndex.set(key, d);
    }
    return d;
  }

  private loc(dso: number, addr: number): number {
    const table = dso === -1 ? this.kernelLocs : dso === -2 ? this.unmappedLocs : this.dsos[dso].locs;
    let l = table.get(addr);
    if (l !== undefined) return l;
    l = this.locs.length;
    if (l === this.locs.dso.length) {
      const d = new Int32Array(l * 2);
      d.set(this.locs.dso);
      const a = new Float64Array(l * 2);
      a.set(this.locs.addr);
      this.locs = { dso: d, addr: a, length: l };
    }
    this.locs.dso[l] = dso;
    this.locs.addr[l] = addr;
    this.locs.length++;
    table.set(addr, l);
    return l;
  }

  private resolveSample(pass: RecordPass, i: number): void {
    const pid = pass.pid.data[i];
    const tid = pass.tid.data[i];
    const th = this.threads.get(tid);
    this.sampleComm[i] = th?.comm ?? `:${tid}`;
    const procMaps = this.maps.get(th !== undefined && th.pid !== -1 ? th.pid : pid);
    const chain = pass.chain.data;
    const from = pass.chainAt.data[i];
    const to = pass.chainAt.data[i + 1];
    let mode = MODE_USER;
    let entries = 0;
    const out = this.sampleLocs;
    const startLen = out.length;
    for (let p = from; p < to && entries < this.maxStack; p += 2) {
      const hi = chain[p];
      const lo = chain[p + 1];
      if (hi === KERNEL_HI && lo >= CONTEXT_MAX_LO) {
        if (lo === CONTEXT.KERNEL) mode = MODE_KERNEL;
        else if (lo === CONTEXT.USER) mode = MODE_USER;
        else if (lo === CONTEXT.HV) mode = MODE_HV;
        else {
          out.length = startLen; // perf drops a chain with a context it does not know (guest)
          break;
        }
        continue;
      }
      entries++;
      out.push(this.locate(mode, hi, lo, procMaps));
    }
    this.sampleLocAt.push(out.length);
  }

  private locate(mode: number, hi: number, lo: number, procMaps: MapEntry[] | undefined): number {
    if (mode === MODE_KERNEL) {
      if (hi !== KERNEL_HI) return this.loc(-2, hi * 4294967296 + lo);
      for (const m of this.kernelMaps)
        if (lo >= m.startLo && lo < m.endLo) return this.loc(this.ksymDso(m), lo - m.startLo);
      // perf stretches the kernel map up to the next map (machine__fixup_end_of_maps), so code
      // past the recorded end (.init.text: x86_64_start_kernel under the idle task) is kernel.
      if (lo >= this.kernelMapStart && this.kernelMapStart !== -1) return this.loc(-1, lo);
      return this.loc(-2, hi * 4294967296 + lo);
    }
    const ip = hi * 4294967296 + lo;
    if (mode !== MODE_USER || procMaps === undefined) return this.loc(-2, ip);
    const m = findMap(procMaps, ip);
    if (m === null) return this.loc(-2, ip);
    return this.loc(m.dso, m.identity ? ip : ip - m.start + m.pgoff);
  }

  private ksymDso(m: KernelMap): number {
    return this.dsoOf(m.name, 'none', null, -1);
  }

  /** Phase 3a: kernel table and the files behind every location. Returns where kernel symbols came from. */
  async loadSymbols(extraRoots: CacheRoot[]): Promise<string> {
    const roots = defaultCacheRoots(extraRoots);
    const kernelId =
      (this.summary.features.buildIds ?? []).find((b) => b.kernel && b.filename === KERNEL_DSO)?.buildId ??
      null;
    if (this.kernelLocs.size > 0) {
      const k = await kernelSymbols(kernelId, roots);
      if (typeof k === 'string') this.kernelWhy = k;
      else this.kernel = k;
    }
    const work = this.dsos.filter((d) => d.locs.size > 0);
    await Promise.all(
      work.map(async (d) => {
        if (d.kind === 'file') d.syms = await dsoSymbols(d.path, d.buildId, d.pid, roots);
        else if (d.kind === 'vdso')
          d.syms = await dsoSymbols(`[vdso]`, d.buildId, -1, roots).then((s) =>
            s.table ? s : vdsoFallback(roots, d.buildId),
          );
        else if (d.kind === 'perfmap') d.map = await perfMapSymbols(d.pid);
        if (d.syms && d.syms.table === null && d.kind !== 'none')
          this.missing.push({ name: d.name, why: d.syms.missing ?? 'no symbols' });
      }),
    );
    return (
      this.kernel?.source ??
      (this.kernelLocs.size > 0 ? `none: ${this.kernelWhy}` : 'not needed (no kernel frames)')
    );
  }

  /** Phase 3b: the profile. */
  async build(
    file: string,
    pass: RecordPass,
    chosen: Chosen,
    opts: NativeDecodeOptions,
    s: PerfDataSummary,
  ): Promise<Profile> {
    const b = new ProfileBuilder(file, 'perf-data');
    const n = this.locs.length;
    const locName: string[] = new Array(n);
    const locModule: string[] = new Array(n);
    const locAddr: string[] = new Array(n);
    const mangled = new Set<string>();
    for (let l = 0; l < n; l++) {
      this.symbolize(l, locName, locModule, locAddr);
      if (needsDemangling(locName[l])) mangled.add(locName[l]);
    }
    for (const names of this.alternatives.values())
      for (const a of names) if (needsDemangling(a)) mangled.add(a);
    const demangled = await demangleAll([...mangled]);
    this.demangler = demangled.tool;
    for (const [l, names] of this.alternatives) {
      const shown = names.map((a) => demangled.names.get(a) ?? a);
      locName[l] = names[pickDemangled(shown)];
    }
    const frameOfLoc = new Int32Array(n);
    for (let l = 0; l < n; l++) {
      const name = demangled.names.get(locName[l]) ?? locName[l];
      const unknown = name === UNKNOWN;
      const keep = opts.keepAddresses === true && unknown;
      frameOfLoc[l] = b.frame(
        name,
        locModule[l],
        frameKindOf(locModule[l], name, locAddr[l]),
        false,
        keep ? locAddr[l] : null,
      );
    }
    this.countUnresolved(frameOfLoc, locName);
    b.meta.callGraph = s.attrs[[...chosen.attrIndexes][0]].callGraph;
    b.meta.hasCgroups = s.attrs.some((a, i) => chosen.attrIndexes.has(i) && a.hasCgroup);
    const cgroupIdx = new Map<number, number>();
    const prevFrames: FrameIndex[] = [];
    const prevNodes: number[] = [];
    const sample = { stack: -1, time: 0, weight: 0, pid: 0, tid: 0, cpu: 0, comm: 0, cgroup: 0 };
    const commIdx = new Map<string, number>();
    const locs = this.sampleLocs.data;
    let noPath = 0;
    for (let k = 0; k < this.sampleOrder.length; k++) {
      const i = this.sampleOrder[k];
      const from = this.sampleLocAt.data[k];
      const to = this.sampleLocAt.data[k + 1];
      // Root first: reuse the previous sample's nodes for the shared prefix.
      let depth = 0;
      let stack = -1;
      const len = to - from;
      while (
        depth < len &&
        depth < prevFrames.length &&
        prevFrames[depth] === frameOfLoc[locs[to - 1 - depth]]
      ) {
        stack = prevNodes[depth];
        depth++;
      }
      prevFrames.length = depth;
      prevNodes.length = depth;
      for (; depth < len; depth++) {
        const f = frameOfLoc[locs[to - 1 - depth]];
        stack = b.stack(stack, f);
        prevFrames.push(f);
        prevNodes.push(stack);
      }
      const comm = this.sampleComm[i];
      let c = commIdx.get(comm);
      if (c === undefined) {
        c = b.strings.intern(comm);
        commIdx.set(comm, c);
      }
      const cgId = pass.cgroup.data[i];
      let cg = b.unknownCgroup;
      if (cgId !== -1 && b.meta.hasCgroups) {
        let ci = cgroupIdx.get(cgId);
        if (ci === undefined) {
          const path = s.cgroups.get(cgId);
          ci = path === undefined ? -1 : b.strings.intern(path);
          cgroupIdx.set(cgId, ci);
        }
        if (ci === -1) noPath++;
        else cg = ci;
      }
      sample.stack = stack;
      sample.time = pass.time.data[i] / 1e9;
      sample.weight = pass.period.data[i];
      sample.pid = pass.pid.data[i];
      sample.tid = pass.tid.data[i];
      sample.cpu = pass.cpu.data[i];
      sample.comm = c;
      sample.cgroup = cg;
      b.addSample(sample);
    }
    const meta = b.meta;
    meta.event = chosen.name;
    const sampled = s.attrs.filter((a) => a.samples > 0 && a.name !== 'sched:sched_switch');
    meta.events = sampled.map((a) => ({ name: a.name, samples: a.samples }));
    meta.eventChosenBy = chosen.by;
    if (chosen.by === 'first') meta.warnings.push(severalEventsWarning(file, sampled, chosen.name));
    if (noPath > 0)
      meta.warnings.push(
        `${file}: ${noPath} of ${pass.samples} samples have a cgroup id with no PERF_RECORD_CGROUP path`,
      );
    if (pass.corrupt > 0)
      meta.warnings.push(
        `${file}: ${pass.corrupt} samples are shorter than their fields or have a call chain reaching outside their record (left out, or kept without a stack)`,
      );
    return b.finish();
  }

  private countUnresolved(frameOfLoc: Int32Array, names: string[]): void {
    const unknownLoc = new Uint8Array(frameOfLoc.length);
    for (let l = 0; l < names.length; l++) if (names[l] === UNKNOWN) unknownLoc[l] = 1;
    const locs = this.sampleLocs.data;
    let n = 0;
    for (let p = 0; p < this.sampleLocs.length; p++) n += unknownLoc[locs[p]];
    this.unresolved = n;
  }

  private symbolize(l: number, names: string[], modules: string[], addrs: string[]): void {
    const dso = this.locs.dso[l];
    const addr = this.locs.addr[l];
    if (dso === -2) {
      names[l] = UNKNOWN;
      modules[l] = UNKNOWN;
      addrs[l] = addr.toString(16);
      return;
    }
    if (dso === -1) {
      addrs[l] = `ffffffff${(addr >>> 0).toString(16).padStart(8, '0')}`;
      modules[l] = KERNEL_DSO;
      names[l] = UNKNOWN;
      const k = this.kernel;
      if (k === null) return;
      const delta = k.text !== null && this.kernelPgoff !== -1 ? k.text - this.kernelPgoff : 0;
      const i = k.table.find(addr + delta);
      if (i !== -1) {
        names[l] = k.table.name(i);
        const mod = k.table.module(i);
        if (mod) modules[l] = `[${mod}]`;
      }
      return;
    }
    const d = this.dsos[dso];
    modules[l] = d.name;
    names[l] = UNKNOWN;
    addrs[l] = addr.toString(16);
    if (d.kind === 'none' && d.pid === -1) {
      // A KSYMBOL (BPF program, kernel JIT): one symbol named like its map.
      names[l] = d.name;
      addrs[l] = 'ffffffff00000000';
      return;
    }
    if (d.kind === 'perfmap') {
      const i = d.map?.find(addr) ?? -1;
      if (i !== -1 && d.map) names[l] = d.map.name(i);
      return;
    }
    const syms = d.syms;
    if (!syms?.table || !syms.elf) return;
    const vaddr = offsetToVaddr(syms.elf.loads, addr);
    if (Number.isNaN(vaddr)) return;
    const i = syms.table.find(vaddr);
    if (i === -1) return;
    names[l] = syms.table.name(i);
    const alts = syms.table.alternatives.get(i);
    if (alts !== undefined) this.alternatives.set(l, [names[l], ...alts]);
  }
}

async function vdsoFallback(roots: CacheRoot[], bid: string | null): Promise<DsoSymbols> {
  if (bid !== null) {
    for (const r of roots) {
      const elf = await readElf(`${r.dir}/[vdso]/${bid}/vdso`);
      if (elf === null || elf.buildId !== bid) continue;
      return {
        table: SymbolTable.fromColumns(elf.symbols, false),
        elf,
        file: `${r.dir}/[vdso]/${bid}/vdso`,
      };
    }
  }
  return { table: null, elf: null, file: null, missing: 'vdso image not in a build-id cache' };
}

/** `[nf_tables]` for /lib/modules/.../nf_tables.ko(.xz), as perf names module maps. */
function moduleName(path: string): string {
  if (path.startsWith('[')) return path;
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\..*)?$/, '');
  return `[${base.replace(/-/g, '_')}]`;
}

/** Inserts `m` into pid's sorted maps, cutting the parts of older maps it overlaps (maps__fixup_overlappings). */
function insertMap(all: Map<number, MapEntry[]>, pid: number, m: MapEntry): void {
  let list = all.get(pid);
  if (list === undefined) {
    list = [];
    all.set(pid, list);
  }
  const out: MapEntry[] = [];
  for (const o of list) {
    if (o.end <= m.start || o.start >= m.end) {
      out.push(o);
      continue;
    }
    if (o.start < m.start) out.push({ ...o, end: m.start });
    if (o.end > m.end)
      out.push({ ...o, start: m.end, pgoff: o.identity ? o.pgoff : o.pgoff + (m.end - o.start) });
  }
  out.push(m);
  out.sort((a, b) => a.start - b.start);
  all.set(pid, out);
}

function findMap(list: MapEntry[], ip: number): MapEntry | null {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = list[mid];
    if (ip < m.start) hi = mid - 1;
    else if (ip >= m.end) lo = mid + 1;
    else return m;
  }
  return null;
}
