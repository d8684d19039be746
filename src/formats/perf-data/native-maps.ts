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
