/**
 * The native decoder's symbol readers on real and hostile input: the ELF reader on /bin/true and
 * on thousands of corrupted copies of it (every offset untrusted: never an exception, never a
 * long loop), kallsyms parsing and perf's duplicate/end rules, perf-PID.map style tables.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readElf } from '../src/formats/perf-data/elf.ts';
import { dsoSymbols } from '../src/formats/perf-data/symbol-sources.ts';
import { parseKallsyms, SymbolColumns, SymbolTable } from '../src/formats/perf-data/symtab.ts';

const work = mkdtempSync(join(tmpdir(), 'crosstalk-native-symbols-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('ELF reader', () => {
  it('reads the build-id, load segments and symbols of a system binary', async () => {
    const elf = await readElf('/bin/true');
    expect(elf).not.toBeNull();
    expect(elf?.buildId).toMatch(/^[0-9a-f]{40}$/);
    expect(elf?.loads.length).toBeGreaterThan(0);
    // Stripped Debian binaries keep .dynsym, and PLT stubs become name@plt.
    expect(elf?.symbols.length).toBeGreaterThan(0);
  });

  it('names PLT stubs from the mapped file when the symbols come from a separate debug file', async () => {
    // perf 6.1 reads .symtab from the debug file and synthesizes name@plt from the runtime file
    // (dso__synthesize_plt_symbols(runtime_ss)); a debug file's .rela.plt and .dynsym are NOBITS.
    const libc = '/usr/lib/x86_64-linux-gnu/libc.so.6';
    const runtime = existsSync(libc) ? await readElf(libc) : null;
    const bid = runtime?.buildId ?? '';
    const debug = `/usr/lib/debug/.build-id/${bid.slice(0, 2)}/${bid.slice(2)}.debug`;
    if (runtime === null || runtime.plt.length === 0 || !existsSync(debug)) return; // no libc6-dbg here
    const s = await dsoSymbols(libc, bid, -1, []);
    expect(s.file).toBe(debug);
    for (const p of [runtime.plt[0], runtime.plt[runtime.plt.length - 1]]) {
      const i = s.table?.find(p.start + 4) ?? -1;
      expect(i).not.toBe(-1);
      expect(s.table?.name(i)).toBe(p.name);
    }
  });

  it('survives corrupted copies without throwing or hanging', async () => {
    const good = readFileSync('/bin/true');
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const file = join(work, 'bad.elf');
    const started = Date.now();
    for (let k = 0; k < 300; k++) {
      const bad = Buffer.from(good);
      // Hit the headers hard (offsets, counts, sizes), and the rest now and then.
      for (let j = 0; j < 8; j++) {
        const at = rand(4) === 0 ? rand(bad.length) : rand(Math.min(bad.length, 4096));
        bad[at] = rand(256);
      }
      if (k % 50 === 0) bad.fill(0xff, 32, 64);
      writeFileSync(file, k % 37 === 0 ? bad.subarray(0, rand(bad.length)) : bad);
      await expect(readElf(file)).resolves.toSatisfy((r) => r === null || Array.isArray(r.loads));
    }
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('gives null for files that are not ELF64 little-endian', async () => {
    writeFileSync(join(work, 'text'), 'hello\n');
    expect(await readElf(join(work, 'text'))).toBeNull();
    expect(await readElf(join(work, 'missing'))).toBeNull();
  });

  it('returns at once for a FIFO planted where a mapped file should be', async () => {
    const fifo = join(work, 'planted.so');
    execFileSync('mkfifo', [fifo]);
    // Without O_NONBLOCK, open() of a FIFO with no writer never returns.
    await expect(readElf(fifo)).resolves.toBeNull();
  });
});

// The dynamic loader as mapped by exec: Debian ships it without .symtab, and its debug file
// (libc6-dbg) names the entry labels perf shows (_dl_start_user).
const LDSO = '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2';
const ldsoDebug = await (async () => {
  const bid = (await readElf(LDSO, false))?.buildId;
  if (!bid) return null;
  const file = `/usr/lib/debug/.build-id/${bid.slice(0, 2)}/${bid.slice(2)}.debug`;
  return existsSync(file) ? file : null;
})();

describe('symbol sources', () => {
  it.skipIf(ldsoDebug === null)(
    "a mapping recorded without a build-id takes its file's own, and so finds its debug file (needs libc6-dbg)",
    async () => {
      const debug = await readElf(ldsoDebug!);
      const label = debug!.symbols;
      let at = -1;
      for (let i = 0; i < label.length; i++) if (label.name(i) === '_dl_start_user') at = label.start[i];
      expect(at).toBeGreaterThan(0);
      const got = await dsoSymbols(LDSO, null, -1, []);
      expect(got.file).toBe(ldsoDebug);
      expect(got.table!.name(got.table!.find(at))).toBe('_dl_start_user');
    },
  );
});

describe('symbol tables', () => {
  it('parses kallsyms as perf keeps it: T/W/D/B, the last duplicate wins, ends at the next symbol', () => {
    const text = [
      'ffffffff81000000 T _text',
      'ffffffff81000100 T memcpy',
      'ffffffff81000100 T __pi_memcpy',
      'ffffffff81000200 r some_rodata',
      'ffffffff81000300 t local_fn',
      '0000000000001000 A percpu_thing',
    ].join('\n');
    const { table, text: textAt } = parseKallsyms(Buffer.from(text));
    expect(textAt).toBe(0x81000000);
    const at = (a: number) => {
      const i = table.find(a);
      return i === -1 ? null : table.name(i);
    };
    expect(at(0x81000150)).toBe('__pi_memcpy');
    // r (read-only data) is not kept: __pi_memcpy runs up to local_fn.
    expect(at(0x81000250)).toBe('__pi_memcpy');
    expect(at(0x81000305)).toBe('local_fn');
    expect(at(0x80ffffff)).toBeNull();
  });

  it('prefers a sized function over a label inside it, and sized over unsized duplicates', () => {
    const names = Buffer.from('\0func\0label\0alias\0');
    const c = new SymbolColumns(names);
    c.add(0x1000, 0x100, 0, 1, 5); // func, sized
    c.add(0x1040, 0, 0, 6, 11); // label inside func
    c.add(0x2000, 0, 1, 12, 17); // alias, no size
    c.add(0x2000, 0x10, 0, 1, 5); // func again at 0x2000 with a size
    const t = SymbolTable.fromColumns(c, false);
    expect(t.name(t.find(0x1050))).toBe('func');
    expect(t.name(t.find(0x2004))).toBe('func');
  });
});
