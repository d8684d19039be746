/**
 * Shell safety: every external command is spawned from an argument array (checked in the
 * sources), and input, output and store paths full of shell syntax (spaces, quotes, $(...),
 * backticks, separators, a leading dash given as `./-x` or after `--`) work as plain names in
 * analyze, collapse, export and runs, with no file named `pwned` appearing. Recording into such a
 * store is in test/shell-safety-e2e.test.ts (it needs root and perf).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { corpusFile } from './support/corpus.mjs';
import { HOSTILE, pwnedFiles } from './support/hostile-paths.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
let dir: string;
/** The perf script input, named HOSTILE, inside `dir`. */
const input = () => join(dir, HOSTILE);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crosstalk-shell-safety-'));
  copyFileSync(corpusFile('inferno-collapse-perf/flamegraph/test/perf-iperf-stacks-pidtid-01.txt'), input());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sourcesOf(root: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(root)) {
    const p = join(root, name);
    if (statSync(p).isDirectory()) out.push(...sourcesOf(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('spawning without a shell (sources)', () => {
  const files = sourcesOf(join(repo, 'src')).map((f) => ({
    name: relative(repo, f),
    text: readFileSync(f, 'utf8'),
  }));

  it('scans the sources', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => /from 'node:child_process'/.test(f.text)).length).toBeGreaterThan(3);
  });

  it('never imports exec or execSync (which take one string for a shell)', () => {
    const bad = files.filter((f) => {
      const imports = [...f.text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(node:)?child_process'/g)];
      return (
        imports.some((m) => /\bexec(Sync)?\b/.test(m[1])) ||
        /child_process['"]\)?\.exec(Sync)?\(/.test(f.text)
      );
    });
    expect(bad.map((f) => f.name)).toEqual([]);
  });

  it('never asks for a shell', () => {
    expect(files.filter((f) => /\bshell\s*:\s*(true|['"`])/.test(f.text)).map((f) => f.name)).toEqual([]);
  });

  it('never spawns a command line as one string, nor builds a `sh -c` script from values', () => {
    const oneString = /\b(spawn|spawnSync|execFile|execFileSync)\(\s*(['"`])[^'"`]*\s[^'"`]*\2/;
    const builtScript = /['"]-c['"]\s*,\s*`[^`]*\$\{/;
    expect(
      files.filter((f) => oneString.test(f.text) || builtScript.test(f.text)).map((f) => f.name),
    ).toEqual([]);
  });
});

describe('paths full of shell syntax', () => {
  it('analyze: as ./NAME and after --, with --html to such a path (owner-only)', async () => {
    const html = join(dir, `${HOSTILE}.html`);
    const a = await runCli(['analyze', '--html', `./${relative(dir, html)}`, `./${HOSTILE}`], { cwd: dir });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain('perf-script, event cpu-clock');
    expect(statSync(html).mode & 0o777).toBe(0o600);
    const b = await runCli(['analyze', '--json', '--', HOSTILE], { cwd: dir });
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).input.source).toBe(HOSTILE);
    expect(pwnedFiles(dir)).toEqual([]);
  });

  it('collapse and export: inputs and -o outputs with such names (outputs owner-only)', async () => {
    const c = await runCli(['collapse', '--', HOSTILE], { cwd: dir });
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(3);
    for (const format of ['pprof', 'speedscope', 'folded']) {
      const out = `${HOSTILE}.${format}`;
      const e = await runCli(['export', '--format', format, '-o', `./${out}`, '--', HOSTILE], { cwd: dir });
      expect(e.code, e.stderr).toBe(0);
      expect(statSync(join(dir, out)).size).toBeGreaterThan(100);
      expect(statSync(join(dir, out)).mode & 0o777).toBe(0o600);
    }
    const back = await runCli(['analyze', '--', `${HOSTILE}.pprof`], { cwd: dir });
    expect(back.code, back.stderr).toBe(0);
    expect(pwnedFiles(dir)).toEqual([]);
  });

  it('gzip input and a missing input: the name is shown as it is, no shell involved', async () => {
    const gz = join(dir, `${HOSTILE}.gz`);
    copyFileSync(corpusFile('host-samples/edge-comms.perf.txt.gz'), gz);
    expect(gunzipSync(readFileSync(gz)).length).toBeGreaterThan(0);
    const g = await runCli(['analyze', '--', `${HOSTILE}.gz`], { cwd: dir });
    expect(g.code, g.stderr).toBe(0);
    const missing = await runCli(['analyze', '--', `${HOSTILE}.missing`], { cwd: dir });
    expect(missing.code).toBe(66);
    expect(missing.stderr).toContain(`${HOSTILE}.missing: no such file`);
    expect(pwnedFiles(dir)).toEqual([]);
  });

  it('runs: a store at such a path, by --store and by CROSSTALK_STORE', async () => {
    const store = join(dir, `store ${HOSTILE}`);
    mkdirSync(store, { mode: 0o700 });
    const list = await runCli(['runs', 'list', '--store', store]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(`no runs in ${store}`);
    const env = await runCli(['runs', 'list'], { env: { CROSSTALK_STORE: store } });
    expect(env.code, env.stderr).toBe(0);
    const miss = await runCli(['analyze', '--store', store, 'healthy']);
    expect(miss.code).toBe(66);
    expect(pwnedFiles(dir)).toEqual([]);
  });
});
