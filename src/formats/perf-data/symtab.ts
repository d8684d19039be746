/**
 * Address -> symbol tables with the clean-ups perf 6.1 applies after loading symbols
 * (tools/perf/util/symbol.c: symbols__fixup_duplicate, choose_best_symbol, symbols__fixup_end),
 * so lookups name the same function `perf script` names:
 *   - several symbols at one address: keep the one with a size, else the non-weak, else the
 *     global, else the one with fewer leading underscores, else the longer name, else the first;
 *   - a symbol without size ends where the next one starts (kallsyms: the last kernel symbol
 *     before a module's, and the last of all, end at the next page boundary plus a page).
 * kallsyms parsing (`ADDR TYPE NAME [MODULE]`) keeps the types perf keeps: T, W, D, B (any case).
 */

export const Binding = { local: 0, global: 1, weak: 2 } as const;

export interface RawSymbol {
  start: number;
  /** 0 when unknown (kallsyms). */
  size: number;
  name: string;
  binding: number;
  /** kallsyms module name (`[nf_tables]` without brackets), '' for the kernel. */
  module?: string;
}

export class SymbolTable {
  private constructor(
    private readonly starts: Float64Array,
    private readonly ends: Float64Array,
    /** 1 where the size came from the symbol itself, 0 where it was fixed up to the next symbol. */
    private readonly sized: Uint8Array,
    readonly names: string[],
    readonly modules: string[] | null,
  ) {}

  get length(): number {
    return this.names.length;
  }

  static fromSymbols(input: RawSymbol[], kallsyms: boolean): SymbolTable {
    const syms = input.slice().sort((a, b) => a.start - b.start);
    const kept: RawSymbol[] = [];
    for (const s of syms) {
      const last = kept[kept.length - 1];
      if (last !== undefined && last.start === s.start) {
        // kallsyms: perf fixes ends before removing duplicates, so every earlier symbol at an
        // address has length 0 and the last one listed wins.
        if (kallsyms || !firstIsBetter(last, s)) kept[kept.length - 1] = s;
      } else kept.push(s);
    }
    const n = kept.length;
    const starts = new Float64Array(n);
    const ends = new Float64Array(n);
    const names: string[] = new Array(n);
    const sized = new Uint8Array(n);
    const modules: string[] | null = kallsyms ? new Array(n) : null;
    for (let i = 0; i < n; i++) {
      const s = kept[i];
      starts[i] = s.start;
      ends[i] = s.start + s.size;
      sized[i] = s.size > 0 ? 1 : 0;
      names[i] = s.name;
      if (modules !== null) modules[i] = s.module ?? '';
    }
    for (let i = 0; i + 1 < n; i++) {
      if (ends[i] !== starts[i]) continue;
      const crossesModule =
        kallsyms && ((kept[i].module ?? '') === '') !== ((kept[i + 1].module ?? '') === '');
      ends[i] = crossesModule ? roundUpPage(starts[i] + 4096) : starts[i + 1];
    }
    if (n > 0 && ends[n - 1] === starts[n - 1]) ends[n - 1] = roundUpPage(starts[n - 1]) + 4096;
    return new SymbolTable(starts, ends, sized, names, modules);
  }

  /** JIT map lines: sizes are given; at one address the last line wins; no end fix-up. */
  static fromPerfMap(input: RawSymbol[]): SymbolTable {
    const order = input.map((_, i) => i).sort((a, b) => input[a].start - input[b].start || b - a);
    const kept: RawSymbol[] = [];
    for (const i of order) {
      const s = input[i];
      if (kept.length === 0 || kept[kept.length - 1].start !== s.start) kept.push(s);
    }
    const starts = new Float64Array(kept.length);
    const ends = new Float64Array(kept.length);
    kept.forEach((s, i) => {
      starts[i] = s.start;
      ends[i] = s.start + s.size;
    });
    return new SymbolTable(
      starts,
      ends,
      new Uint8Array(kept.length).fill(1),
      kept.map((s) => s.name),
      null,
    );
  }

  /** Index of the symbol holding `addr`, or -1. */
  find(addr: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid] <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best === -1) return -1;
    // A label without size inside a sized function (node's `construct_stub_create_deopt_addr`
    // inside `Builtins_JSConstructStubGeneric`): perf's tree search meets the function first.
    if (this.sized[best] === 0) {
      for (let i = best - 1, tries = 0; i >= 0 && tries < 8; i--, tries++) {
        if (this.sized[i] === 1 && addr < this.ends[i]) return i;
      }
    }
    // An earlier, larger symbol may hold addr when the nearest one ends before it.
    for (let i = best, tries = 0; i >= 0 && tries < 4; i--, tries++) {
      if (addr < this.ends[i] || (addr === s[i] && this.ends[i] === s[i])) return i;
    }
    return -1;
  }

  startOf(i: number): number {
    return this.starts[i];
  }
}

function roundUpPage(x: number): number {
  return Math.ceil(x / 4096) * 4096;
}

function underscores(name: string): number {
  let i = 0;
  while (i < name.length && name.charCodeAt(i) === 95) i++;
  return i;
}

/** choose_best_symbol: true when `a` wins over `b` (both at one address). */
function firstIsBetter(a: RawSymbol, b: RawSymbol): boolean {
  if (a.size > 0 && b.size === 0) return true;
  if (a.size === 0 && b.size > 0) return false;
  const aw = a.binding === Binding.weak;
  const bw = b.binding === Binding.weak;
  if (bw && !aw) return true;
  if (aw && !bw) return false;
  const ag = a.binding === Binding.global;
  const bg = b.binding === Binding.global;
  if (ag && !bg) return true;
  if (bg && !ag) return false;
  const au = underscores(a.name);
  const bu = underscores(b.name);
  if (bu > au) return true;
  if (au > bu) return false;
  if (a.name.length !== b.name.length) return a.name.length > b.name.length;
  return true;
}

/**
 * Parses /proc/kallsyms text. Addresses are kept as the low 32 bits of kernel addresses
 * (0xffffffff________), which is where x86-64 kernel text, modules and BPF programs live;
 * other addresses are skipped. `_text`'s address is returned for the relocation check.
 */
export function parseKallsyms(text: string): { table: SymbolTable; text: number | null } {
  const out: RawSymbol[] = [];
  let textAt: number | null = null;
  let lineStart = 0;
  const len = text.length;
  while (lineStart < len) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = len;
    const line = text.slice(lineStart, lineEnd);
    lineStart = lineEnd + 1;
    // "ffffffff81000000 T _text" or "ffffffffc0a01000 t foo\t[mod]"
    if (line.length < 20 || line.charCodeAt(16) !== 32 || line.charCodeAt(18) !== 32) continue;
    if (!line.startsWith('ffffffff')) continue;
    const lo = Number.parseInt(line.slice(8, 16), 16);
    if (!Number.isFinite(lo)) continue;
    const type = line[17];
    const upper = type.toUpperCase();
    let name = line.slice(19);
    let module = '';
    const tab = name.indexOf('\t');
    if (tab !== -1) {
      const m = /^\[([^\]]*)\]/.exec(name.slice(tab + 1).trim());
      module = m ? m[1] : '';
      name = name.slice(0, tab);
    }
    if (name === '_text' && module === '') textAt = lo;
    if (upper !== 'T' && upper !== 'W' && upper !== 'D' && upper !== 'B') continue;
    const binding = upper === 'W' ? Binding.weak : type === upper ? Binding.global : Binding.local;
    out.push({ start: lo, size: 0, name, binding, module });
  }
  return { table: SymbolTable.fromSymbols(out, true), text: textAt };
}
