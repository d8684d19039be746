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

/**
 * Symbols as they are read, in columns (no object per symbol: node's .symtab has 100k+). A name
 * is a byte range of `buf` (the string table, the kallsyms text), or an index into `extra`
 * (negative `nameAt`) for names made up here (`free@plt`).
 */
export class SymbolColumns {
  // Typed columns grown by doubling: a push per column per symbol cost more than the parse.
  start = new Float64Array(1024);
  size = new Float64Array(1024);
  binding = new Uint8Array(1024);
  nameAt = new Int32Array(1024);
  nameEnd = new Int32Array(1024);
  /** Index into `moduleNames` (kallsyms `[module]`); 0 for none. */
  module = new Int32Array(1024);
  readonly moduleNames: string[] = [''];
  readonly extra: string[] = [];
  private count = 0;

  constructor(
    readonly buf: Buffer,
    readonly encoding: 'utf8' | 'latin1' = 'utf8',
  ) {}

  get length(): number {
    return this.count;
  }

  add(start: number, size: number, binding: number, nameAt: number, nameEnd: number, module = 0): void {
    const i = this.count;
    if (i === this.start.length) this.grow();
    this.start[i] = start;
    this.size[i] = size;
    this.binding[i] = binding;
    this.nameAt[i] = nameAt;
    this.nameEnd[i] = nameEnd;
    this.module[i] = module;
    this.count = i + 1;
  }

  private grow(): void {
    const n = this.start.length * 2;
    const more = <T extends Float64Array | Int32Array | Uint8Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.start = more(this.start, new Float64Array(n));
    this.size = more(this.size, new Float64Array(n));
    this.binding = more(this.binding, new Uint8Array(n));
    this.nameAt = more(this.nameAt, new Int32Array(n));
    this.nameEnd = more(this.nameEnd, new Int32Array(n));
    this.module = more(this.module, new Int32Array(n));
  }

  /** Columns read back from a cache (symtab-blob.ts): `n` symbols, names as byte ranges of `buf`. */
  static of(
    buf: Buffer,
    encoding: 'utf8' | 'latin1',
    n: number,
    nameAt: Int32Array<ArrayBuffer>,
    nameEnd: Int32Array<ArrayBuffer>,
    module: Int32Array<ArrayBuffer>,
    moduleNames: string[],
  ): SymbolColumns {
    const c = new SymbolColumns(buf, encoding);
    c.start = new Float64Array(n);
    c.size = new Float64Array(n);
    c.binding = new Uint8Array(n);
    c.nameAt = nameAt;
    c.nameEnd = nameEnd;
    c.module = module;
    c.moduleNames.push(...moduleNames.slice(1));
    c.count = n;
    return c;
  }

  /** The bytes of name i (extra names encoded as this table's names are). */
  nameBytes(i: number): Buffer {
    const at = this.nameAt[i];
    return at < 0 ? Buffer.from(this.extra[-at - 1], this.encoding) : this.buf.subarray(at, this.end(i));
  }

  addNamed(start: number, size: number, binding: number, name: string): void {
    this.extra.push(name);
    this.add(start, size, binding, -this.extra.length, 0);
  }

  /**
   * End of name i in `buf`. A NUL-terminated name (ELF string tables) is added with end
   * NAME_TO_NUL and found here on first use: most symbols of a large binary are never looked at.
   */
  end(i: number): number {
    let e = this.nameEnd[i];
    if (e === NAME_TO_NUL) {
      e = cstrEnd(this.buf, this.nameAt[i]);
      this.nameEnd[i] = e;
    }
    return e;
  }

  name(i: number): string {
    const at = this.nameAt[i];
    return at < 0 ? this.extra[-at - 1] : this.buf.toString(this.encoding, at, this.end(i));
  }

  /** Byte length and leading underscores of a name, for choose_best_symbol. */
  nameLength(i: number): number {
    const at = this.nameAt[i];
    return at < 0 ? Buffer.byteLength(this.extra[-at - 1]) : this.end(i) - at;
  }

  underscores(i: number): number {
    const at = this.nameAt[i];
    if (at < 0) return underscores(this.extra[-at - 1]);
    const end = this.end(i);
    let k = at;
    while (k < end && this.buf[k] === 95) k++;
    return k - at;
  }
}

/** `nameEnd` of a name that runs to the next NUL byte of `buf` (see SymbolColumns.end). */
export const NAME_TO_NUL = -1;

/** Longest symbol name read; a string table without NULs must not make every lookup scan to its end. */
const MAX_NAME_BYTES = 1 << 16;

/** End of the NUL-terminated string at `at` (at most MAX_NAME_BYTES long). */
export function cstrEnd(b: Buffer, at: number): number {
  const limit = Math.min(b.length, at + MAX_NAME_BYTES);
  if (at >= limit) return at;
  const nul = b.subarray(at, limit).indexOf(0);
  return nul === -1 ? limit : at + nul;
}

/**
 * Rows of `st` ordered by value, ties by row (a stable sort). When every value * n + row is an
 * exact integer below 2^53 (ELF link addresses, kallsyms' low halves), the packed keys are sorted
 * as a Float64Array without a comparator, several times faster than a comparator sort of 100k+
 * rows; otherwise the comparator sort.
 */
function orderByStart(st: Float64Array, n: number): number[] {
  const order: number[] = new Array(n);
  let max = 0;
  let packable = true;
  for (let i = 0; i < n; i++) {
    const v = st[i];
    if (!(v >= 0 && Number.isInteger(v))) packable = false;
    else if (v > max) max = v;
  }
  if (packable && (max + 1) * n < Number.MAX_SAFE_INTEGER) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = st[i] * n + i;
    keys.sort();
    for (let k = 0; k < n; k++) order[k] = keys[k] % n;
    return order;
  }
  for (let i = 0; i < n; i++) order[i] = i;
  // A plain array: V8 sorts it far faster than a typed array with a comparator.
  return order.sort((a, b) => st[a] - st[b] || a - b);
}

export class SymbolTable {
  private readonly decoded: (string | undefined)[];
  /**
   * Other names at the address of symbol i that perf would choose between by their demangled
   * names (same size and binding): settle with `pickDemangled` once names are demangled.
   */
  readonly alternatives = new Map<number, string[]>();

  private constructor(
    private readonly starts: Float64Array,
    private readonly ends: Float64Array,
    /** 1 where the size came from the symbol itself, 0 where it was fixed up to the next symbol. */
    private readonly sized: Uint8Array,
    /** Row of each kept symbol in `cols`. */
    private readonly rows: Int32Array,
    private readonly cols: SymbolColumns,
  ) {
    this.decoded = new Array(rows.length);
  }

  get length(): number {
    return this.rows.length;
  }

  name(i: number): string {
    let n = this.decoded[i];
    if (n === undefined) {
      n = this.cols.name(this.rows[i]);
      this.decoded[i] = n;
    }
    return n;
  }

  /** What symtab-blob.ts stores: the kept symbols in address order and their names' columns. */
  parts(): {
    starts: Float64Array;
    ends: Float64Array;
    sized: Uint8Array;
    rows: Int32Array;
    cols: SymbolColumns;
  } {
    return { starts: this.starts, ends: this.ends, sized: this.sized, rows: this.rows, cols: this.cols };
  }

  /** A table read back by symtab-blob.ts: row i of `cols` is symbol i. */
  static fromParts(
    starts: Float64Array,
    ends: Float64Array,
    sized: Uint8Array,
    cols: SymbolColumns,
    alternatives: Map<number, string[]>,
  ): SymbolTable {
    const rows = new Int32Array(starts.length);
    for (let i = 0; i < rows.length; i++) rows[i] = i;
    const t = new SymbolTable(starts, ends, sized, rows, cols);
    for (const [i, names] of alternatives) t.alternatives.set(i, names);
    return t;
  }

  /** kallsyms module of symbol i (`nf_tables`), '' for the kernel itself. */
  module(i: number): string {
    return this.cols.moduleNames[this.cols.module[this.rows[i]]];
  }

  static fromColumns(c: SymbolColumns, kallsyms: boolean): SymbolTable {
    const n0 = c.length;
    const st = c.start;
    let sorted = true;
    for (let i = 1; i < n0 && sorted; i++) if (st[i] < st[i - 1]) sorted = false;
    let order: number[];
    if (sorted) {
      order = new Array(n0);
      for (let i = 0; i < n0; i++) order[i] = i;
    } else order = orderByStart(st, n0);
    const kept = new Int32Array(n0);
    const alts = new Map<number, number[]>();
    let n = 0;
    for (let k = 0; k < n0; k++) {
      const r = order[k];
      if (n > 0 && st[kept[n - 1]] === st[r]) {
        // kallsyms: perf fixes ends before removing duplicates, so every earlier symbol at an
        // address has length 0 and the last one listed wins.
        const prev = kept[n - 1];
        if (kallsyms || !firstIsBetter(c, prev, r)) kept[n - 1] = r;
        // perf compares demangled names; mangled ones decided by name are settled after demangling.
        if (!kallsyms && sameUpToNames(c, prev, r) && (isMangled(c, prev) || isMangled(c, r))) {
          const won = kept[n - 1];
          const lost = won === r ? prev : r;
          const list = alts.get(prev) ?? [];
          alts.delete(prev);
          alts.set(won, [...list, lost]);
        }
      } else kept[n++] = r;
    }
    const rows = kept.slice(0, n);
    const starts = new Float64Array(n);
    const ends = new Float64Array(n);
    const sized = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      starts[i] = st[r];
      ends[i] = st[r] + c.size[r];
      sized[i] = c.size[r] > 0 ? 1 : 0;
    }
    for (let i = 0; i + 1 < n; i++) {
      if (ends[i] !== starts[i]) continue;
      const crossesModule = kallsyms && (c.module[rows[i]] === 0) !== (c.module[rows[i + 1]] === 0);
      ends[i] = crossesModule ? roundUpPage(starts[i] + 4096) : starts[i + 1];
    }
    if (n > 0 && ends[n - 1] === starts[n - 1]) ends[n - 1] = roundUpPage(starts[n - 1]) + 4096;
    const t = new SymbolTable(starts, ends, sized, rows, c);
    if (alts.size > 0) {
      for (let i = 0; i < n; i++) {
        const a = alts.get(rows[i]);
        if (a !== undefined)
          t.alternatives.set(
            i,
            a.map((r) => c.name(r)),
          );
      }
    }
    return t;
  }

  /** JIT map lines: sizes are given; at one address the last line wins; no end fix-up. */
  static fromPerfMap(c: SymbolColumns): SymbolTable {
    const n0 = c.length;
    const st = c.start;
    const order: number[] = new Array(n0);
    for (let i = 0; i < n0; i++) order[i] = i;
    order.sort((a, b) => st[a] - st[b] || b - a);
    const rows: number[] = [];
    for (const r of order) if (rows.length === 0 || st[rows[rows.length - 1]] !== st[r]) rows.push(r);
    const starts = new Float64Array(rows.length);
    const ends = new Float64Array(rows.length);
    rows.forEach((r, i) => {
      starts[i] = st[r];
      ends[i] = st[r] + c.size[r];
    });
    return new SymbolTable(starts, ends, new Uint8Array(rows.length).fill(1), Int32Array.from(rows), c);
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
}

function sameUpToNames(c: SymbolColumns, a: number, b: number): boolean {
  return c.size[a] > 0 === c.size[b] > 0 && c.binding[a] === c.binding[b];
}

function isMangled(c: SymbolColumns, i: number): boolean {
  const at = c.nameAt[i];
  const first = at < 0 ? c.extra[-at - 1].slice(0, 2) : c.buf.toString('latin1', at, at + 2);
  return first === '_Z' || first === '_R';
}

/** choose_best_symbol's name rules on demangled names: fewer leading underscores, then longer, then the first. */
export function pickDemangled(names: string[]): number {
  let best = 0;
  for (let i = 1; i < names.length; i++) {
    const bu = underscores(names[best]);
    const iu = underscores(names[i]);
    if (iu < bu || (iu === bu && Buffer.byteLength(names[i]) > Buffer.byteLength(names[best]))) best = i;
  }
  return best;
}

function roundUpPage(x: number): number {
  return Math.ceil(x / 4096) * 4096;
}

function underscores(name: string): number {
  let i = 0;
  while (i < name.length && name.charCodeAt(i) === 95) i++;
  return i;
}

/** choose_best_symbol: true when row `a` wins over row `b` (both at one address). */
function firstIsBetter(c: SymbolColumns, a: number, b: number): boolean {
  const as = c.size[a];
  const bs = c.size[b];
  if (as > 0 && bs === 0) return true;
  if (as === 0 && bs > 0) return false;
  const aw = c.binding[a] === Binding.weak;
  const bw = c.binding[b] === Binding.weak;
  if (bw && !aw) return true;
  if (aw && !bw) return false;
  const ag = c.binding[a] === Binding.global;
  const bg = c.binding[b] === Binding.global;
  if (ag && !bg) return true;
  if (bg && !ag) return false;
  const au = c.underscores(a);
  const bu = c.underscores(b);
  if (bu > au) return true;
  if (au > bu) return false;
  const al = c.nameLength(a);
  const bl = c.nameLength(b);
  if (al !== bl) return al > bl;
  return true;
}

/**
 * Parses /proc/kallsyms text (`ADDR TYPE NAME` or `ADDR TYPE NAME\t[MODULE]`). Addresses are
 * kept as the low 32 bits of kernel addresses (0xffffffff________), where x86-64 kernel text,
 * modules and BPF programs live; other lines are skipped. `_text`'s address is returned for
 * the relocation check.
 */
export function parseKallsyms(buf: Buffer): { table: SymbolTable; text: number | null } {
  const c = new SymbolColumns(buf, 'latin1');
  const modules = new Map<string, number>();
  let textAt: number | null = null;
  const len = buf.length;
  let nextTab = -1;
  let p = 0;
  while (p < len) {
    let eol = buf.indexOf(10, p);
    if (eol === -1) eol = len;
    const line = p;
    p = eol + 1;
    if (eol - line < 20 || buf[line + 16] !== 32 || buf[line + 18] !== 32) continue;
    let hi = true;
    for (let k = 0; k < 8; k++) if (buf[line + k] !== 0x66) hi = false;
    if (!hi) continue;
    let lo = 0;
    let ok = true;
    for (let k = 8; k < 16; k++) {
      const d = hexValue(buf[line + k]);
      if (d === -1) ok = false;
      lo = lo * 16 + d;
    }
    if (!ok) continue;
    const type = buf[line + 17];
    const upper = type & ~0x20;
    const nameAt = line + 19;
    // The first tab at or after nameAt, found by one native scan shared by the lines before it
    // (module lines are rare, so a per-line byte loop over every name cost most of the parse).
    if (nextTab < nameAt) {
      nextTab = buf.indexOf(9, nameAt);
      if (nextTab === -1) nextTab = len;
    }
    const nameEnd = Math.min(nextTab, eol);
    let module = 0;
    if (nameEnd < eol) {
      const m = /^\[([^\]]*)\]/.exec(buf.toString('latin1', nameEnd + 1, eol).trim());
      if (m !== null) {
        let idx = modules.get(m[1]);
        if (idx === undefined) {
          idx = c.moduleNames.length;
          c.moduleNames.push(m[1]);
          modules.set(m[1], idx);
        }
        module = idx;
      }
    }
    if (module === 0 && nameEnd - nameAt === 5 && buf.toString('latin1', nameAt, nameEnd) === '_text')
      textAt = lo;
    // T, W, D, B in either case (symbol_type__filter in tools/perf/util/symbol.c).
    if (upper !== 0x54 && upper !== 0x57 && upper !== 0x44 && upper !== 0x42) continue;
    const binding = upper === 0x57 ? Binding.weak : type === upper ? Binding.global : Binding.local;
    c.add(lo, 0, binding, nameAt, nameEnd, module);
  }
  return { table: SymbolTable.fromColumns(c, true), text: textAt };
}

function hexValue(b: number): number {
  if (b >= 48 && b <= 57) return b - 48;
  if (b >= 97 && b <= 102) return b - 87;
  if (b >= 65 && b <= 70) return b - 55;
  return -1;
}
