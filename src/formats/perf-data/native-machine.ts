import { ProfileBuilder } from '../../model/builder.ts';
import type { Profile } from '../../model/profile.ts';
import { frameKindOf } from '../perf-script/frame.ts';
import { severalEventsWarning } from '../perf-script/sniff.ts';
import { StackPath } from '../perf-script/stack-path.ts';
import { demangleAll, needsDemangling } from './demangle.ts';
import { offsetToVaddr } from './elf.ts';
import {
  type Dso,
  findMap,
  insertMap,
  type KernelMap,
  LocationTable,
  type MapEntry,
  moduleName,
  unknownFrames,
  vdsoFallback,
} from './native-maps.ts';
import {
  type Chosen,
  CONTEXT,
  CONTEXT_MAX_LO,
  Col,
  KERNEL_DSO,
  KERNEL_HI,
  MAP_HUGETLB,
  MISC_CPUMODE,
  MODE_HV,
  MODE_KERNEL,
  MODE_USER,
  type NativeDecodeOptions,
  PROT_EXEC,
  Rec,
  type RecordPass,
  type SideBand,
  timeOrder,
  UNKNOWN,
} from './native-records.ts';
import { addSwitch, switchRows } from './native-switches.ts';
import type { PerfDataSummary } from './reader.ts';
import {
  type CacheRoot,
  defaultCacheRoots,
  dsoSymbols,
  type KernelSymbols,
  kernelSymbols,
  perfMapSymbols,
} from './symbol-sources.ts';
import { pickDemangled } from './symtab.ts';

interface Thread {
  pid: number;
  comm: string | null;
}

/** Phases 2 and 3: address spaces over time, then symbols and the profile. */
export class Machine {
  private readonly threads = new Map<number, Thread>();
  private readonly maps = new Map<number, MapEntry[]>();
  private kernelMaps: KernelMap[] = [];
  private readonly dsos: Dso[] = [];
  private readonly dsoIndex = new Map<string, number>();
  private readonly kernelLocs = new Map<number, number>();
  private readonly unmappedLocs = new Map<number, number>();
  private readonly locs = new LocationTable();
  /** Per sample: its locations, leaf first (indexes into sampleLocs). */
  sampleLocs = new Col(new Int32Array(0));
  sampleLocAt = new Col(new Int32Array(0));
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
    const order = timeOrder(t, n);
    const sideOrder = side.slice().sort((a, b) => a.time - b.time || a.seq - b.seq);
    this.sampleOrder = order;
    // Sized once: at most one location per chain entry (context markers make fewer).
    this.sampleLocs = new Col(new Int32Array(Math.max(16, pass.chain.length >> 1)));
    this.sampleLocAt = new Col(new Int32Array(n + 1));
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
    const found = this.locs.find(dso, addr);
    if (found !== -1) return found;
    const l = this.locs.add(dso, addr);
    const table = dso === -1 ? this.kernelLocs : dso === -2 ? this.unmappedLocs : this.dsos[dso].locs;
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
    // The kernel table and the files are read at once, so one's reads overlap the other's parse.
    const kernel = this.kernelLocs.size > 0 ? kernelSymbols(kernelId, roots) : null;
    const work = this.dsos.filter((d) => d.locs.size > 0);
    const [k] = await Promise.all([
      kernel,
      Promise.all(
        work.map(async (d) => {
          if (d.kind === 'file') d.syms = await dsoSymbols(d.path, d.buildId, d.pid, roots);
          else if (d.kind === 'vdso')
            d.syms = await dsoSymbols(`[vdso]`, d.buildId, -1, roots).then((s) =>
              s.table ? s : vdsoFallback(roots, d.buildId),
            );
          else if (d.kind === 'perfmap') d.map = await perfMapSymbols(d.pid);
        }),
      ),
    ]);
    // In the order the files were first mapped, not the order their reads finished.
    for (const d of work)
      if (d.syms && d.syms.table === null && d.kind !== 'none')
        this.missing.push({ name: d.name, why: d.syms.missing ?? 'no symbols' });
    if (typeof k === 'string') this.kernelWhy = k;
    else if (k !== null) this.kernel = k;
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
    /** The address in the module's ELF file (StackTable.callerSite); NaN outside files. */
    const locSite = new Float64Array(n).fill(Number.NaN);
    const mangled = new Set<string>();
    for (let l = 0; l < n; l++) {
      this.symbolize(l, locName, locModule, locAddr, locSite);
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
    this.unresolved = unknownFrames(this.sampleLocs.data, this.sampleLocs.length, locName);
    b.meta.callGraph = s.attrs[[...chosen.attrIndexes][0]].callGraph;
    b.meta.hasCgroups = s.attrs.some((a, i) => chosen.attrIndexes.has(i) && a.hasCgroup);
    const cgroupIdx = new Map<number, number>();
    const path = new StackPath();
    const sample = { stack: -1, time: 0, weight: 0, pid: 0, tid: 0, cpu: 0, comm: 0, cgroup: 0 };
    const commIdx = new Map<string, number>();
    const locs = this.sampleLocs.data;
    const switchRow = switchRows(pass);
    let noPath = 0;
    for (let k = 0; k < this.sampleOrder.length; k++) {
      const i = this.sampleOrder[k];
      const from = this.sampleLocAt.data[k];
      const to = this.sampleLocAt.data[k + 1];
      // Leaf first into the path; node() shares the root side with the thread's previous sample.
      path.clear();
      for (let p = from; p < to; p++) path.push(frameOfLoc[locs[p]], locSite[locs[p]]);
      const stack = path.node(b, pass.tid.data[i]);
      const comm = this.sampleComm[i];
      let c = commIdx.get(comm);
      if (c === undefined) {
        // As perf script shows it: its text pads comm with spaces, so edge spaces never survive.
        c = b.strings.intern(comm.replace(/^[ \t]+|[ \t]+$/g, ''));
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
      if (switchRow !== null && switchRow[i] !== -1) {
        addSwitch(b, pass, i, switchRow[i], stack, c, cg);
        continue;
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
    // Decoded context switches are listed as perf script's parser lists them (it prints them).
    const listed = chosen.switches ? s.attrs.filter((a) => a.samples > 0) : sampled;
    meta.events = listed.map((a) => ({ name: a.name, samples: a.samples }));
    meta.eventChosenBy = chosen.by;
    if (chosen.by === 'first') meta.warnings.push(severalEventsWarning(file, sampled, chosen.name));
    if (noPath > 0)
      meta.warnings.push(
        `${file}: ${noPath} of ${pass.samples} samples and context switches have a cgroup id with no PERF_RECORD_CGROUP path`,
      );
    if (pass.corrupt > 0)
      meta.warnings.push(
        `${file}: ${pass.corrupt} samples are shorter than their fields or have a call chain reaching outside their record (left out, or kept without a stack)`,
      );
    return b.finish();
  }

  private symbolize(
    l: number,
    names: string[],
    modules: string[],
    addrs: string[],
    sites: Float64Array,
  ): void {
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
    sites[l] = vaddr;
    const i = syms.table.find(vaddr);
    if (i === -1) return;
    names[l] = syms.table.name(i);
    const alts = syms.table.alternatives.get(i);
    if (alts !== undefined) this.alternatives.set(l, [names[l], ...alts]);
  }
}
