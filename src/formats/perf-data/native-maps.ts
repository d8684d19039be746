import { readElf } from './elf.ts';
import type { CacheRoot, DsoSymbols } from './symbol-sources.ts';
import { SymbolTable } from './symtab.ts';

export interface MapEntry {
  start: number;
  end: number;
  pgoff: number;
  dso: number;
  /** Addresses are absolute (anonymous JIT memory), not file offsets. */
  identity: boolean;
}

export interface Dso {
  name: string;
  path: string;
  buildId: string | null;
  kind: 'file' | 'perfmap' | 'vdso' | 'none';
  pid: number;
  locs: Map<number, number>;
  syms?: DsoSymbols | null;
  map?: SymbolTable | null;
}

export interface KernelMap {
  startLo: number;
  endLo: number;
  name: string;
  /** A BPF program or JIT symbol (KSYMBOL): its own one-symbol table. */
  ksym: boolean;
}

/** Per location: its dso (-1 kernel, -2 unmapped) and address. */
export interface Locations {
  dso: Int32Array;
  addr: Float64Array;
  length: number;
}

/**
 * Locations interned by (dso, address) in one open-addressing hash table: every call-chain entry
 * is looked up here, and a Map keyed by addresses above 2^31 (kernel text, user code) hashes
 * heap numbers, which took more time than the rest of the replay.
 */
export class LocationTable implements Locations {
  dso = new Int32Array(1 << 12);
  addr = new Float64Array(1 << 12);
  length = 0;
  /** Location + 1 per slot; 0 is an empty slot. */
  private slots = new Int32Array(1 << 13);

  /** The location of (dso, addr), or -1. */
  find(dso: number, addr: number): number {
    const mask = this.slots.length - 1;
    for (let s = slotHash(dso, addr) & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s];
      if (v === 0) return -1;
      if (this.addr[v - 1] === addr && this.dso[v - 1] === dso) return v - 1;
    }
  }

  /** A new location for (dso, addr), which `find` did not have. */
  add(dso: number, addr: number): number {
    const l = this.length;
    if (l === this.dso.length) {
      const d = new Int32Array(l * 2);
      d.set(this.dso);
      const a = new Float64Array(l * 2);
      a.set(this.addr);
      this.dso = d;
      this.addr = a;
    }
    this.dso[l] = dso;
    this.addr[l] = addr;
    this.length = l + 1;
    if (this.length * 2 > this.slots.length) {
      this.slots = new Int32Array(this.slots.length * 2);
      for (let k = 0; k < this.length; k++) this.place(k);
    } else this.place(l);
    return l;
  }

  private place(l: number): void {
    const mask = this.slots.length - 1;
    let s = slotHash(this.dso[l], this.addr[l]) & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = l + 1;
  }
}

function slotHash(dso: number, addr: number): number {
  const lo = addr >>> 0;
  const hi = Math.floor(addr / 4294967296) | 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) ^ Math.imul(dso, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return h ^ (h >>> 15);
}

export async function vdsoFallback(roots: CacheRoot[], bid: string | null): Promise<DsoSymbols> {
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
export function moduleName(path: string): string {
  if (path.startsWith('[')) return path;
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\..*)?$/, '');
  return `[${base.replace(/-/g, '_')}]`;
}

/** Inserts `m` into pid's sorted maps, cutting the parts of older maps it overlaps (maps__fixup_overlappings). */
export function insertMap(all: Map<number, MapEntry[]>, pid: number, m: MapEntry): void {
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

export function findMap(list: MapEntry[], ip: number): MapEntry | null {
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

/** Frames of all samples (`locs[0..n)`, location indexes) whose location has no symbol. */
export function unknownFrames(locs: Int32Array, n: number, names: string[]): number {
  const unknownLoc = new Uint8Array(names.length);
  for (let l = 0; l < names.length; l++) if (names[l] === '[unknown]') unknownLoc[l] = 1;
  let count = 0;
  for (let p = 0; p < n; p++) count += unknownLoc[locs[p]];
  return count;
}
