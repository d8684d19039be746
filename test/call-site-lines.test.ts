// file:line of call sites, the parts that need no perf: addr2line's output, the `+0x` symbol
// offsets the perf script parser keeps, and which address each reported call site takes.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Attributions } from '../src/analysis/attribute.ts';
import { ANY_WRAPPER, callSiteAddresses, callSiteKey } from '../src/analysis/call-site-address.ts';
import { parseAddr2line } from '../src/formats/perf-data/addr2line.ts';
import { readElf } from '../src/formats/perf-data/elf.ts';
import { parsePerfScript } from '../src/formats/perf-script/parser.ts';
import { withMeta } from '../src/model/profile.ts';
import { openCheckedElf } from '../src/pipeline/call-site-lines.ts';
import { sourceText } from '../src/report/findings-text.ts';

describe('addr2line output', () => {
  // `addr2line -a -f -i -C -e t -- 0x1154 0x1050 0x1` on a C file whose work() calls an inlined
  // helper() that calls posix_fadvise (gcc 12 -O2 -g, binutils 2.40), plus a discriminator line.
  const text = [
    '0x0000000000001154',
    'helper',
    '/tmp/s18t/t.c:4',
    'work',
    '/tmp/s18t/t.c:7',
    '0x0000000000001050',
    'main',
    '/tmp/s18t/t.c:10 (discriminator 3)',
    '0x0000000000000001',
    '??',
    '??:0',
    '',
  ].join('\n');

  it('gives each address its frames, innermost inlined first', () => {
    const r = parseAddr2line(text, [0x1154, 0x1050, 0x1]);
    expect(r[0]).toEqual([
      { function: 'helper', file: '/tmp/s18t/t.c', line: 4 },
      { function: 'work', file: '/tmp/s18t/t.c', line: 7 },
    ]);
    expect(r[1]).toEqual([{ function: 'main', file: '/tmp/s18t/t.c', line: 10 }]);
    expect(r[2]).toEqual([{ function: null, file: null, line: null }]);
  });

  it('an unknown line (file:?) or file (??:12) is null; a colon in a path survives', () => {
    const r = parseAddr2line(
      '0x0000000000000010\nf\n/a:b/c.c:?\n0x0000000000000020\ng\n??:12\n',
      [0x10, 0x20],
    );
    expect(r[0]).toEqual([{ function: 'f', file: '/a:b/c.c', line: null }]);
    expect(r[1]).toEqual([{ function: 'g', file: null, line: 12 }]);
  });

  it('output out of step with the addresses asked gives no frames from there on', () => {
    const r = parseAddr2line('0x0000000000000010\nf\n/x.c:3\n0x0000000000000099\ng\n/y.c:4\n', [0x10, 0x20]);
    expect(r[0]).toEqual([{ function: 'f', file: '/x.c', line: 3 }]);
    expect(r[1]).toEqual([]);
    expect(parseAddr2line('', [0x10])).toEqual([[]]);
  });
});

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

describe('caller addresses from perf script symbol offsets', () => {
  async function profile() {
    const bytes = readFileSync(new URL('./fixtures/perf-script-symoff.txt', import.meta.url));
    const p = await parsePerfScript(once(bytes), 'perf-script-symoff.txt', { callGraph: 'fp' });
    return withMeta(p, { ...p.meta, callerSites: 'symbol-offset' });
  }

  it('each syscall takes the offset of its own call in LogFileObject::Write, though both share the kernel entry node', async () => {
    const p = await profile();
    const a = new Attributions(p);
    const sites = callSiteAddresses(p, (s) => a.of(s));
    const module = '/opt/lab/query-server';
    expect(sites.get(callSiteKey('write', 'LogFileObject::Write', module, null))).toMatchObject({
      frameName: 'LogFileObject::Write',
      site: 0x1a,
      kind: 'symbol-offset',
    });
    expect(sites.get(callSiteKey('fadvise64', 'LogFileObject::Write', module, ANY_WRAPPER))?.site).toBe(0x6a);
  });

  it('a user frame node records where its caller called it', async () => {
    const p = await profile();
    const names = (s: number) => p.strings[p.frames.name[p.stacks.frame[s]]];
    const write = [...Array(p.stacks.length).keys()].find((s) => names(s) === 'LogFileObject::Write');
    expect(write).toBeDefined();
    // LogMessage::Flush+0x30 called LogFileObject::Write.
    expect(p.stacks.callerSite[write!]).toBe(0x30);
    const root = [...Array(p.stacks.length).keys()].find((s) => p.stacks.prefix[s] === -1)!;
    expect(p.stacks.callerSite[root]).toBeNaN();
  });

  it('without caller addresses (no meta.callerSites) nothing is located', async () => {
    const p = await profile();
    const bare = withMeta(p, { ...p.meta, callerSites: undefined });
    const a = new Attributions(bare);
    expect(callSiteAddresses(bare, (s) => a.of(s)).size).toBe(0);
  });
});

describe('source lines in the terminal', () => {
  it('shows the base name and line; debug info text is escaped', () => {
    expect(sourceText({ file: '/src/app/query-server.cc', line: 87 })).toBe(' at query-server.cc:87');
    const shown = sourceText({ file: '/x/\u001b[31mevil\u202e.c', line: 3 });
    expect(shown).not.toMatch(/[\u001b\u202e]/);
    expect(shown).toMatch(/evil.*\.c:3$/);
    expect(sourceText({})).toBe('');
  });
});

describe('opening the binary for addr2line', () => {
  const noCc = spawnSync('cc', ['--version']).status !== 0;

  it.skipIf(noCc)(
    'opens the recorded build; refuses another build, a FIFO, and a symlink in a directory others can write',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'crosstalk-elf-'));
      try {
        writeFileSync(join(dir, 'a.c'), 'int main(void) { return 0; }\n');
        const bin = join(dir, 'a.out');
        execFileSync('cc', ['-g', '-Wl,--build-id', '-o', bin, join(dir, 'a.c')]);
        const bid = (await readElf(bin))!.buildId!;
        const ok = await openCheckedElf(bin, bid);
        expect(ok?.elf.buildId).toBe(bid);
        await ok?.fh.close();
        expect(await openCheckedElf(bin, '00'.repeat(20))).toBeNull();
        execFileSync('mkfifo', [join(dir, 'fifo')]);
        expect(await openCheckedElf(join(dir, 'fifo'), bid)).toBeNull();
        // A link in our own private directory is ours: followed. In a directory every user can
        // write, anyone could have planted it: not followed.
        symlinkSync(bin, join(dir, 'link'));
        const own = await openCheckedElf(join(dir, 'link'), bid);
        expect(own).not.toBeNull();
        await own?.fh.close();
        chmodSync(dir, 0o777);
        expect(await openCheckedElf(join(dir, 'link'), bid)).toBeNull();
        // The file itself, not through a link, still opens (its build-id is the check).
        const direct = await openCheckedElf(bin, bid);
        expect(direct).not.toBeNull();
        await direct?.fh.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
