/**
 * record, doctor, analyze and collapse on this machine with a store whose path is full of shell
 * syntax (see support/hostile-paths.ts): perf, perf script and the HTML report get such paths as
 * plain arguments, and no file named `pwned` appears. Also privacy: the store and every run
 * directory are 0700; perf.data, metadata, counters, report.json, report.html and the --html copy
 * are 0600, whatever the umask.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../src/collect/perf-tool.ts';
import { RUN_ID } from '../src/store/store.ts';
import { runCli } from './support/cli.ts';
import { HOSTILE, pwnedFiles } from './support/hostile-paths.ts';

const perf = await findOnPath('perf');
const skip = process.geteuid?.() !== 0 ? 'needs root' : perf ? '' : 'needs perf';
let dir: string;
let store: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crosstalk-shell-e2e-'));
  store = join(dir, `runs ${HOSTILE}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;

function runDirs(): string[] {
  return readdirSync(store)
    .filter((n) => RUN_ID.test(n))
    .map((n) => join(store, n));
}

/**
 * The CLI started with umask 000: a permissive umask must not make anything a run holds readable
 * by others. (The umask is inherited at spawn, which runCli does before it returns.)
 */
function runCliUmask0(args: string[]) {
  const old = process.umask(0);
  try {
    return runCli(args);
  } finally {
    process.umask(old);
  }
}

/** Owner-only: 600 for a file, 700 for a directory (the run's build-id cache). */
function ownerOnly(p: string): string {
  return statSync(p).isDirectory() ? '700' : '600';
}

describe.skipIf(skip)(
  `record and doctor into a store named like a shell command${skip ? ` (${skip})` : ''}`,
  () => {
    it('record: a whole run; the store and run are owner-only even under umask 000', async () => {
      const r = await runCliUmask0(['record', '--duration', '1', '--store', store, '--label', 'base']);
      expect(r.code, r.stderr).toBe(0);
      expect(mode(store)).toBe(0o700);
      const [run] = runDirs();
      expect(mode(run)).toBe(0o700);
      for (const f of readdirSync(run))
        expect(`${f} ${mode(join(run, f)).toString(8)}`).toBe(`${f} ${ownerOnly(join(run, f))}`);
      expect(readdirSync(run)).toEqual(
        expect.arrayContaining(['perf.data', 'metadata.json', 'counters.json']),
      );
      expect(pwnedFiles(dir, store)).toEqual([]);
    });

    it('doctor: report.json, report.html and --html at such a path are owner-only', async () => {
      const html = join(dir, `${HOSTILE}.html`);
      const r = await runCliUmask0(['doctor', '--duration', '1', '--store', store, '--html', html]);
      expect([0, 10, 11, 12], r.stderr).toContain(r.code);
      const run = runDirs().find((d) => readdirSync(d).includes('report.html')) as string;
      for (const f of readdirSync(run))
        expect(`${f} ${mode(join(run, f)).toString(8)}`).toBe(`${f} ${ownerOnly(join(run, f))}`);
      expect(readdirSync(run)).toEqual(expect.arrayContaining(['report.json', 'report.html']));
      expect(mode(html)).toBe(0o600);
      expect(pwnedFiles(dir, store)).toEqual([]);
    });

    it('analyze, collapse and diff read those runs through perf script', async () => {
      const [first] = runDirs();
      const a = await runCli(['analyze', '--json', '--', first]);
      expect(a.code, a.stderr).toBe(0);
      expect(JSON.parse(a.stdout).input.format).toBe('perf-data');
      const c = await runCli(['collapse', '--', join(first, 'perf.data')]);
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout.length).toBeGreaterThan(100);
      const runs = runDirs();
      const d = await runCli(['diff', '--store', store, 'base', runs[runs.length - 1]]);
      expect(d.code, d.stderr).toBe(0);
      expect(pwnedFiles(dir, store)).toEqual([]);
    });
  },
);
