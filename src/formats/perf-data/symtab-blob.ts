/**
 * A SymbolTable as bytes, for the symbol-table cache (symbol-table-cache.ts): the kept symbols in
 * address order with their ends, the names as one byte blob, kallsyms modules, and the aliases
 * perf settles by demangled name. Reading one back costs a file read instead of an ELF or
 * kallsyms parse and a sort of 100k+ symbols.
 *
 * Layout (little-endian): magic `CTSYMTB2`, u32 n, u32 encoding (0 utf8, 1 latin1), u32 names
 * bytes, u32 JSON bytes, f64 extra (the caller's number, e.g. kallsyms' `_text`; NaN for none),
 * then f64 starts[n], f64 ends[n], i32 nameAt[n], i32 nameEnd[n], i32 module[n], u8 sized[n],
 * the names, and JSON `{ modules: string[], alternatives: [index, names][] }`.
 * A blob that does not add up to its own lengths is refused (null), never half-read. The
 * columns read back are views into the buffer read where aligned (they keep it alive).
 */
import { SymbolColumns, SymbolTable } from './symtab.ts';

const MAGIC = 'CTSYMTB2';
const HEAD = 32;

export function tableToBlob(t: SymbolTable, extra: number | null): Buffer {
  const { starts, ends, sized, rows, cols } = t.parts();
  const n = starts.length;
  const names: Buffer[] = new Array(n);
  const nameAt = new Int32Array(n);
  const nameEnd = new Int32Array(n);
  const module = new Int32Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const b = cols.nameBytes(rows[i]);
    names[i] = b;
    nameAt[i] = at;
    at += b.length;
    nameEnd[i] = at;
    module[i] = cols.module[rows[i]];
  }
  const json = Buffer.from(
    JSON.stringify({ modules: cols.moduleNames, alternatives: [...t.alternatives] }),
    'utf8',
  );
  const head = Buffer.alloc(HEAD);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(n, 8);
  head.writeUInt32LE(cols.encoding === 'latin1' ? 1 : 0, 12);
  head.writeUInt32LE(at, 16);
  head.writeUInt32LE(json.length, 20);
  head.writeDoubleLE(extra ?? Number.NaN, 24);
  const bytes = (a: Float64Array | Int32Array | Uint8Array) =>
    Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return Buffer.concat([
    head,
    bytes(starts),
    bytes(ends),
    bytes(nameAt),
    bytes(nameEnd),
    bytes(module),
    bytes(sized),
    ...names,
    json,
  ]);
}

/** The table and the caller's number, or null when `b` is not a whole blob of this format. */
export function tableFromBlob(b: Buffer): { table: SymbolTable; extra: number | null } | null {
  if (b.length < HEAD || b.toString('latin1', 0, 8) !== MAGIC) return null;
  const n = b.readUInt32LE(8);
  const encoding = b.readUInt32LE(12) === 1 ? 'latin1' : 'utf8';
  const namesLen = b.readUInt32LE(16);
  const jsonLen = b.readUInt32LE(20);
  const extra = b.readDoubleLE(24);
  const fixed = n * (8 + 8 + 4 + 4 + 4 + 1);
  if (b.length !== HEAD + fixed + namesLen + jsonLen) return null;
  let p = HEAD;
  // Views into the read buffer where it is aligned for the element size (a fresh read is), else copies.
  const take = <T>(make: (ab: ArrayBuffer, at: number, n: number) => T, size: number, count: number): T => {
    const len = size * count;
    const at = b.byteOffset + p;
    p += len;
    // A file read is never a SharedArrayBuffer.
    if (at % size === 0) return make(b.buffer as ArrayBuffer, at, count);
    const ab = new ArrayBuffer(len);
    new Uint8Array(ab).set(b.subarray(p - len, p));
    return make(ab, 0, count);
  };
  const starts = take((ab, at, k) => new Float64Array(ab, at, k), 8, n);
  const ends = take((ab, at, k) => new Float64Array(ab, at, k), 8, n);
  const nameAt = take((ab, at, k) => new Int32Array(ab, at, k), 4, n);
  const nameEnd = take((ab, at, k) => new Int32Array(ab, at, k), 4, n);
  const module = take((ab, at, k) => new Int32Array(ab, at, k), 4, n);
  const sized = take((ab, at, k) => new Uint8Array(ab, at, k), 1, n);
  const names = b.subarray(p, p + namesLen);
  p += namesLen;
  let meta: { modules: unknown; alternatives: unknown };
  try {
    meta = JSON.parse(b.toString('utf8', p, p + jsonLen));
  } catch {
    return null;
  }
  const modules = meta.modules;
  const alternatives = meta.alternatives;
  if (!isStrings(modules) || modules[0] !== '' || !Array.isArray(alternatives)) return null;
  const alts = new Map<number, string[]>();
  for (const a of alternatives) {
    if (!Array.isArray(a) || !Number.isInteger(a[0]) || a[0] < 0 || a[0] >= n || !isStrings(a[1]))
      return null;
    alts.set(a[0], a[1]);
  }
  for (let i = 0; i < n; i++) {
    if (nameAt[i] < 0 || nameEnd[i] < nameAt[i] || nameEnd[i] > namesLen) return null;
    if (module[i] < 0 || module[i] >= modules.length || !(ends[i] >= starts[i])) return null;
    if (i > 0 && starts[i] < starts[i - 1]) return null;
  }
  const cols = SymbolColumns.of(names, encoding, n, nameAt, nameEnd, module, modules);
  return {
    table: SymbolTable.fromParts(starts, ends, sized, cols, alts),
    extra: Number.isNaN(extra) ? null : extra,
  };
}

function isStrings(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}
