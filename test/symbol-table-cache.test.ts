/**
 * The symbol-table cache (symbol-table-cache.ts, symtab-blob.ts): a table read back from its blob
 * answers every lookup as the table built from the ELF file or kallsyms does; entries are keyed by
 * file identity, so a changed file misses; damaged, foreign, group-writable or linked entries are
 * ignored; an untrusted cache directory is never used; old entries go past the count and size
 * limits; CROSSTALK_SYMBOL_CACHE=off turns it off.
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readElf } from '../src/formats/perf-data/elf.ts';
import { dsoSymbols } from '../src/formats/perf-data/symbol-sources.ts';
import {
  pruneSymbolCache,
  resetSymbolCacheDir,
  SYSTEM_SYMBOL_CACHE,
  symbolCacheDir,
} from '../src/formats/perf-data/symbol-table-cache.ts';
import { parseKallsyms, SymbolTable } from '../src/formats/perf-data/symtab.ts';
import { tableFromBlob, tableToBlob } from '../src/formats/perf-data/symtab-blob.ts';

const work = mkdtempSync(join(tmpdir(), 'crosstalk-symtab-cache-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const isRoot = process.geteuid?.() === 0;

/** Same symbols in the same order: names, kallsyms modules, and the aliases settled by demangled name. */
function expectSameLookups(a: SymbolTable, b: SymbolTable): void {
  expect(b.length).toBe(a.length);
  for (let i = 0; i < a.length; i++) {
    if (b.name(i) !== a.name(i) || b.module(i) !== a.module(i))
      expect({ i, name: b.name(i), module: b.module(i) }).toEqual({
        i,
        name: a.name(i),
        module: a.module(i),
      });
  }
  expect([...b.alternatives]).toEqual([...a.alternatives]);
}

describe('symbol table blobs', () => {
  it('a table read back from its blob names every address as the table built from the ELF file', async () => {
    const elf = await readElf('/usr/bin/node');
    const file = elf ?? (await readElf('/bin/true'));
    expect(file).not.toBeNull();
    const built = SymbolTable.fromColumns(file!.symbols, false);
    expect(built.length).toBeGreaterThan(10);
    const back = tableFromBlob(tableToBlob(built, null));
    expect(back).not.toBeNull();
    expect(back?.extra).toBeNull();
    expectSameLookups(built, back!.table);
    // Addresses across the whole table, including between and past symbols.
    const cols = file!.symbols;
    for (let r = 0; r < cols.length; r += Math.max(1, Math.floor(cols.length / 20000))) {
      for (const addr of [
        cols.start[r],
        cols.start[r] + 1,
        cols.start[r] + cols.size[r],
        cols.start[r] - 1,
      ]) {
        expect(back!.table.find(addr)).toBe(built.find(addr));
      }
    }
  });

  it('keeps kallsyms modules and _text', () => {
    const text = [
      'ffffffff81000000 T _text',
      'ffffffff81000100 T do_one',
      'ffffffff81000200 t helper',
      'ffffffffc0000000 t nft_do_chain\t[nf_tables]',
      'ffffffffc0000100 T nft_other\t[nf_tables]',
      '',
    ].join('\n');
    const k = parseKallsyms(Buffer.from(text));
    const back = tableFromBlob(tableToBlob(k.table, k.text));
    expect(back?.extra).toBe(k.text);
    expectSameLookups(k.table, back!.table);
    // A buffer at an odd offset cannot hold aligned views: its columns are copied instead.
    const blob = tableToBlob(k.table, k.text);
    const odd = Buffer.concat([Buffer.alloc(1), blob]).subarray(1);
    expect(odd.byteOffset % 8).not.toBe(0);
    expectSameLookups(k.table, tableFromBlob(odd)!.table);
    const i = back!.table.find(0xc0000004);
    expect(back!.table.name(i)).toBe('nft_do_chain');
    expect(back!.table.module(i)).toBe('nf_tables');
    for (const addr of [0x81000000, 0x81000150, 0x810002ff, 0xc0000104, 0xd0000000])
      expect(back!.table.find(addr)).toBe(k.table.find(addr));
  });

  it('refuses a blob that is cut, padded, mislabelled or inconsistent', () => {
    const k = parseKallsyms(Buffer.from('ffffffff81000000 T _text\nffffffff81000100 T do_one\n'));
    const blob = tableToBlob(k.table, k.text);
    expect(tableFromBlob(blob)).not.toBeNull();
    expect(tableFromBlob(blob.subarray(0, blob.length - 1))).toBeNull();
    expect(tableFromBlob(Buffer.concat([blob, Buffer.from([0])]))).toBeNull();
    const magic = Buffer.from(blob);
    magic[0] ^= 1;
    expect(tableFromBlob(magic)).toBeNull();
    const count = Buffer.from(blob);
    count.writeUInt32LE(count.readUInt32LE(8) + 1, 8);
    expect(tableFromBlob(count)).toBeNull();
    // Starts out of order (the first start made larger than the second).
    const order = Buffer.from(blob);
    order.writeDoubleLE(0xffffffff, 32);
    expect(tableFromBlob(order)).toBeNull();
    expect(tableFromBlob(Buffer.alloc(0))).toBeNull();
  });
});

describe('symbol table cache', () => {
  const saved = { cache: process.env.CROSSTALK_SYMBOL_CACHE };
  let dir: string;
  let bin: string;
  beforeEach(() => {
    dir = mkdtempSync(join(work, 'cache-'));
    process.env.CROSSTALK_SYMBOL_CACHE = join(dir, 'symbols');
    resetSymbolCacheDir();
    bin = join(dir, 'true');
    copyFileSync('/bin/true', bin);
  });
  afterEach(() => {
    if (saved.cache === undefined) delete process.env.CROSSTALK_SYMBOL_CACHE;
    else process.env.CROSSTALK_SYMBOL_CACHE = saved.cache;
    resetSymbolCacheDir();
  });
  const entries = () => readdirSync(join(dir, 'symbols')).filter((n) => n.endsWith('.symtab'));

  it('stores a table on first use and reads it back from the entry', async () => {
    const first = await dsoSymbols(bin, null, -1, []);
    expect(first.table).not.toBeNull();
    expect(entries()).toHaveLength(1);
    const entry = join(dir, 'symbols', entries()[0]);
    expectSameLookups(first.table!, tableFromBlob(readFileSync(entry))!.table);
    // Put another binary's table under this key: the next lookup answers from the entry.
    const other = await readElf('/bin/ls');
    const table = SymbolTable.fromColumns(other!.symbols, false);
    expect(table.length).not.toBe(first.table!.length);
    writeFileSync(entry, tableToBlob(table, null), { mode: 0o600 });
    const second = await dsoSymbols(bin, null, -1, []);
    expect(entries()).toHaveLength(1);
    expectSameLookups(table, second.table!);
  });

  it('misses when the file changed (a new identity), and ignores a damaged entry', async () => {
    await dsoSymbols(bin, null, -1, []);
    expect(entries()).toHaveLength(1);
    utimesSync(bin, new Date(), new Date(Date.now() - 3600_000));
    await dsoSymbols(bin, null, -1, []);
    expect(entries()).toHaveLength(2);
    for (const e of entries()) writeFileSync(join(dir, 'symbols', e), 'not a table');
    const again = await dsoSymbols(bin, null, -1, []);
    expect(again.table?.length).toBeGreaterThan(0);
  });

  it.skipIf(!isRoot)(
    'ignores entries owned by someone else, writable by others, or linked (needs root to chown)',
    async () => {
      const good = await dsoSymbols(bin, null, -1, []);
      const [name] = entries();
      const entry = join(dir, 'symbols', name);
      // A forged entry: the table of another binary, under this file's key.
      const other = await readElf('/bin/ls');
      const forged = tableToBlob(SymbolTable.fromColumns(other!.symbols, false), null);
      const check = async (prepare: () => void) => {
        rmSync(entry, { force: true });
        prepare();
        const got = await dsoSymbols(bin, null, -1, []);
        expect(got.table?.length).toBe(good.table?.length);
        expect(got.table?.name(0)).toBe(good.table?.name(0));
      };
      await check(() => {
        writeFileSync(entry, forged, { mode: 0o600 });
        chownSync(entry, 65534, 65534);
      });
      await check(() => {
        writeFileSync(entry, forged, { mode: 0o600 });
        chmodSync(entry, 0o666);
      });
      await check(() => {
        const target = join(dir, 'forged');
        writeFileSync(target, forged, { mode: 0o600 });
        symlinkSync(target, entry);
      });
      unlinkSync(entry);
    },
  );

  it('never uses a cache directory another user could write', () => {
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    process.env.CROSSTALK_SYMBOL_CACHE = join(open, 'symbols');
    resetSymbolCacheDir();
    const chosen = symbolCacheDir();
    expect(chosen.dir).not.toBe(join(open, 'symbols'));
    if (isRoot) expect(chosen.dir).toBe(SYSTEM_SYMBOL_CACHE);
    else expect(chosen.dir).toBeNull();
    expect(chosen.why).toMatch(/writable by every user/);
  });

  it('keeps the newest entries within the entry and byte limits, and nothing else is touched', async () => {
    const d = join(dir, 'prune');
    mkdirSync(d);
    const name = (k: number) => `${k.toString(16).padStart(64, '0')}.symtab`;
    const now = Date.now() / 1000;
    // Entries 0..5, 100 bytes each, entry k written k minutes ago (0 is the newest).
    for (let k = 0; k < 6; k++) {
      writeFileSync(join(d, name(k)), Buffer.alloc(100));
      utimesSync(join(d, name(k)), now - 60 * k, now - 60 * k);
    }
    writeFileSync(join(d, 'notes.txt'), 'not an entry');
    expect(await pruneSymbolCache(d, { entries: 4, bytes: 1 << 20 })).toBe(2);
    expect(readdirSync(d).sort()).toEqual([...[0, 1, 2, 3].map(name), 'notes.txt'].sort());
    expect(await pruneSymbolCache(d, { entries: 100, bytes: 250 })).toBe(2);
    expect(readdirSync(d).sort()).toEqual([name(0), name(1), 'notes.txt'].sort());
  });

  it('is off with CROSSTALK_SYMBOL_CACHE=off', async () => {
    process.env.CROSSTALK_SYMBOL_CACHE = 'off';
    resetSymbolCacheDir();
    expect(symbolCacheDir().dir).toBeNull();
    const s = await dsoSymbols(bin, null, -1, []);
    expect(s.table?.length).toBeGreaterThan(0);
  });
});
