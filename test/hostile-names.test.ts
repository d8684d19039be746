/**
 * Hostile names end to end through the CLI: comm, symbols, module paths and cgroup/container
 * names carrying HTML, ANSI escape sequences (clear screen, set window title), other C0 and C1
 * controls, bidirectional overrides and 100 kB names. The terminal summary shows them inert and
 * short; `--json` is valid JSON with every control escaped whose strings give the names back
 * exactly; collapse and folded export keep one stack per line; the HTML report's data block holds
 * no `<` (that the browser renders them as text is test/html-hostile.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  Label,
  Line,
  Location,
  Function as PprofFunction,
  Profile as PprofProfile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from './support/cli.ts';

const ESC = '\u001b[2J\u001b]0;owned\u0007';
const COMM = `<img src=x onerror=alert(1)>${ESC}\u0001\u007f\u202eevil`;
const KERNEL_SYM = `</script><script>alert(2)</script>${ESC}`;
const USER_SYM = `\u202e<svg onload=alert(3)>\u009b31m\u0085\u2028x`;
const DSO = `/opt/<iframe>${ESC}/lib.so`;
const LONG_SYM = `long_${'L'.repeat(100_000)}`;
const LONG_COMM = `C${'c'.repeat(100_000)}`;
const CGROUP = `/system.slice/<b>${ESC}\u202e.service`;
const CONTAINER = `<script>alert(5)</script>${ESC}\u009b`;

/** Raw characters a terminal acts on (newline and tab aside). */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function sample(comm: string, pid: number, t: number, frames: string[]): string {
  return [`${comm} ${pid} [000] ${t.toFixed(6)}: 250000 cpu-clock:pppH:`, ...frames, ''].join('\n');
}

/** 400 samples: read() from the hostile user symbol, some in the long symbol, some of the long comm. */
function craftedPerfScript(): string {
  const out: string[] = [];
  for (let i = 0; i < 400; i++) {
    const t = 100 + i * 0.01;
    const kernel = [
      `\tffffffff81000010 ${KERNEL_SYM}+0x10 ([kernel.kallsyms])`,
      '\tffffffff81000020 vfs_read+0x20 ([kernel.kallsyms])',
      '\tffffffff81000030 __x64_sys_read+0x10 ([kernel.kallsyms])',
      '\tffffffff81000040 do_syscall_64+0x40 ([kernel.kallsyms])',
      '\tffffffff81000050 entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])',
    ];
    const user = [
      `\t          401000 ${USER_SYM}+0x10 (${DSO})`,
      '\t          401100 main+0x5 (/usr/bin/app)',
    ];
    if (i % 4 === 3) out.push(sample(LONG_COMM, 77, t, [`\t          402000 ${LONG_SYM} (/usr/bin/long)`]));
    else out.push(sample(COMM, 4242, t, i % 2 === 0 ? [...kernel, ...user] : user));
  }
  return `${out.join('\n')}\n`;
}

/** pprof as a continuous profiler would send it, with hostile cgroup and container labels. */
function craftedPprof(): Uint8Array {
  const strings = new StringTable();
  const s = (x: string) => strings.dedup(x);
  const labels = [
    new Label({ key: s('comm'), str: s(COMM) }),
    new Label({ key: s('cgroup'), str: s(CGROUP) }),
    new Label({ key: s('container_name'), str: s(CONTAINER) }),
  ];
  return gzipSync(
    new PprofProfile({
      sampleType: [
        new ValueType({ type: s('samples'), unit: s('count') }),
        new ValueType({ type: s('cpu'), unit: s('nanoseconds') }),
      ],
      sample: [new Sample({ locationId: [2, 1], value: [50, 500_000_000], label: labels })],
      location: [
        new Location({ id: 1, line: [new Line({ functionId: 1 })] }),
        new Location({ id: 2, line: [new Line({ functionId: 2 })] }),
      ],
      function: [
        new PprofFunction({ id: 1, name: s(USER_SYM) }),
        new PprofFunction({ id: 2, name: s(`${KERNEL_SYM}_[k]`) }),
      ],
      stringTable: strings,
    }).encode(),
  );
}

/** Every string anywhere in a parsed JSON value. */
function stringsIn(v: unknown, out = new Set<string>()): Set<string> {
  if (typeof v === 'string') out.add(v);
  else if (Array.isArray(v)) for (const x of v) stringsIn(x, out);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stringsIn(x, out);
  return out;
}

let dir: string;
let text: string;
let pprof: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crosstalk-hostile-names-'));
  text = join(dir, 'hostile.perf.txt');
  writeFileSync(text, craftedPerfScript());
  pprof = join(dir, 'hostile.pb.gz');
  writeFileSync(pprof, craftedPprof());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([
  ['perf script text', () => text, [COMM, LONG_COMM, USER_SYM, KERNEL_SYM, DSO], '\\x1b[2J'],
  ['pprof with cgroup and container labels', () => pprof, [COMM, CGROUP], '\\u202e.service'],
])('%s', (name, input, names, escaped) => {
  it('terminal summary: no raw control character, no line longer than a screen', async () => {
    const r = await runCli(['analyze', input()]);
    expect(r.code, r.stderr).toBe(0);
    const terminal = r.stdout + r.stderr;
    expect(terminal).not.toMatch(RAW_CONTROL);
    expect(Math.max(...terminal.split('\n').map((l) => l.length))).toBeLessThan(1000);
    expect(terminal).toContain(escaped);
  });

  it('--json: valid, nothing raw on the terminal, and the names come back exactly', async () => {
    const r = await runCli(['analyze', '--json', input()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).not.toContain('<');
    const strings = stringsIn(JSON.parse(r.stdout));
    for (const n of names) expect(strings.has(n), JSON.stringify(n.slice(0, 60))).toBe(true);
  });

  it('collapse / folded export: one stack per line, each ending in its count', async () => {
    const args = input() === text ? ['collapse', input()] : ['export', '--format', 'folded', input()];
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const l of lines) expect(l).toMatch(/^[^\n\r]+ \d+$/);
    // Piped, folded stacks stay byte-exact for flame graph tools.
    expect(r.stdout).toContain(USER_SYM);
  });

  it('--html: the data block holds no `<`, and no payload appears as markup', async () => {
    const html = join(dir, `${name.replace(/\W+/g, '-')}.html`);
    const r = await runCli(['analyze', '--html', html, input()]);
    expect(r.code, r.stderr).toBe(0);
    const page = readFileSync(html, 'utf8');
    const blocks = [...page.matchAll(/<script type="application\/json"[^>]*>([\s\S]*?)<\/script>/g)];
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) expect(b[1]).not.toContain('<');
    for (const payload of ['<img src=x onerror', '<svg onload', '<script>alert', '<iframe>', '<b>'])
      expect(page).not.toContain(payload);
    expect(page).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  });
});

describe('on a terminal', () => {
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  const noPty = script.status === 0 ? null : 'needs script(1) from util-linux for a pseudo-terminal';

  it('the 100 kB symbol reaches folded output whole when piped', async () => {
    const r = await runCli(['collapse', text]);
    expect(r.stdout).toContain(`;${LONG_SYM} `);
  });

  it.skipIf(noPty !== null)('collapse shows escape sequences inert, with nothing cut', () => {
    // script(1) runs its command through sh; the path is a mkdtemp name without shell syntax.
    const r = spawnSync('script', ['-qec', `${process.execPath} ${BIN} collapse ${text}`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      maxBuffer: 64 << 20,
    });
    expect(r.status, r.stderr).toBe(0);
    // The pty turns \n into \r\n; nothing else raw may reach it.
    expect(r.stdout.replaceAll('\r', '')).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain('\\x1b[2J\\x1b]0;owned\\x07');
    expect(r.stdout).toContain(LONG_SYM);
  });
});
