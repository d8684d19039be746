/**
 * file:line of call sites, for real: the lab's query server (built with -g by native-build.ts)
 * recorded by perf with DWARF and with frame pointers, analysed by the built CLI. The expected
 * line is found in the workload's source at test time: the `lab_fadvise(` call that issues
 * fadvise64 (an inlined syscall helper, so the line is the one inside LogFileObject::Write).
 * Also the fixture that calls glibc's posix_fadvise (through the PLT, DWARF only: frame pointers
 * lose the wrapper's caller). Needs root, perf and a C compiler; skips with the reason otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkloads, nativeSourceDir } from '../src/lab/native-build.ts';
import { type AnalyzeJson, analyzeSchema } from '../src/report/schema.ts';
import { compileFixture, recordSkipReason } from './record-cgroups.ts';
import { runCli } from './support/cli.ts';
import { browserSkipReason, ReportBrowser, visibleText } from './support/html-browser.ts';

const reason =
  recordSkipReason() ??
  (spawnSync('addr2line', ['--version']).status !== 0 ? 'no addr2line (binutils)' : null);

/** 1-based line of the first line of `file` containing `text`. */
function lineOf(file: string, text: string): number {
  const i = readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(text));
  if (i === -1) throw new Error(`${text} not in ${file}`);
  return i + 1;
}

describe.skipIf(reason !== null)(`call sites with file:line${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-lines-'));
  const out: Record<string, { json: AnalyzeJson; text: string }> = {};

  async function recordAndAnalyze(name: string, callGraph: string[], cmd: string[]): Promise<void> {
    const data = join(dir, `${name}.data`);
    // perf exits with the workload's status (timeout's 124): the recording is what counts.
    spawnSync('perf', ['record', '-q', ...callGraph, '-F', '999', '-o', data, '--', ...cmd], {
      stdio: 'ignore',
    });
    expect(existsSync(data), `${data} recorded`).toBe(true);
    const j = await runCli(['analyze', '--json', data]);
    expect(j.code, j.stderr).toBe(0);
    const t = await runCli(['analyze', '--no-color', '--html', join(dir, `${name}.html`), data]);
    expect(t.code, t.stderr).toBe(0);
    out[name] = { json: analyzeSchema.parse(JSON.parse(j.stdout)), text: t.stdout };
  }

  beforeAll(async () => {
    const built = await buildWorkloads();
    const table = join(dir, 'table');
    writeFileSync(table, Buffer.alloc(64 * 4096, 7));
    const server = [
      built.binaries['query-server'],
      `--data=${table}`,
      `--log=${join(dir, 'query.log')}`,
      '--drop-log-memory=always',
      '--duration=1.5',
    ];
    await recordAndAnalyze('lab-dwarf', ['--call-graph', 'dwarf,16384'], server);
    await recordAndAnalyze('lab-fp', ['-g'], server);
    const logger = compileFixture('fadvise-logger', dir);
    await recordAndAnalyze(
      'libc-dwarf',
      ['--call-graph', 'dwarf,16384'],
      ['timeout', '1.5', logger, join(dir, 'app.log')],
    );
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['lab-dwarf', 'lab-fp'])(
    '%s: fadvise64 is called at the lab_fadvise( line of query-server.cc',
    (name) => {
      const source = join(nativeSourceDir(), 'query-server.cc');
      const expected = lineOf(source, 'lab_fadvise(');
      const { json, text } = out[name];
      const site = json.syscalls.find((s) => s.name === 'fadvise64')?.callSites[0];
      expect(site).toMatchObject({ status: 'found', line: expected });
      expect(site?.function).toMatch(/LogFileObject(::|_)Write/);
      // The same function's write() is another line: each syscall keeps its own call's address.
      const write = json.syscalls.find((s) => s.name === 'write')?.callSites[0];
      expect(write).toMatchObject({ function: site?.function, line: lineOf(source, 'lab_write(') });
      expect(basename(site?.file ?? '')).toBe('query-server.cc');
      const finding = json.findings.find((f) => f.syscall === 'fadvise64' && f.callSite !== null);
      if (finding) expect(finding.callSite).toMatchObject({ file: site?.file, line: expected });
      expect(text).toContain(`at query-server.cc:${expected}`);
    },
  );

  it('diff names the target call site with its file:line, in JSON and text', async () => {
    // The same recording on both sides: every call site is in both runs, with no change.
    const expected = lineOf(join(nativeSourceDir(), 'query-server.cc'), 'lab_fadvise(');
    const data = join(dir, 'lab-fp.data');
    const j = await runCli(['diff', '--json', data, data]);
    expect(j.code, j.stderr).toBe(0);
    const sites = (
      JSON.parse(j.stdout) as { callSites: { syscall: string; file: string | null; line: number | null }[] }
    ).callSites;
    const site = sites.find((c) => c.syscall === 'fadvise64' && c.line !== null);
    expect(site, JSON.stringify(sites.slice(0, 5))).toBeDefined();
    expect(basename(site?.file ?? '')).toBe('query-server.cc');
    expect(site?.line).toBe(expected);
    const t = await runCli(['diff', '--no-color', data, data]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain(`at query-server.cc:${expected}`);
  });

  it('libc wrapper (DWARF): each call site at its own line of the source', () => {
    const source = new URL('./fixtures/e2e/fadvise-logger.c', import.meta.url).pathname;
    const { json } = out['libc-dwarf'];
    // perf's DWARF unwinding through glibc's wrapper sometimes loses LogFileObject_Write for a
    // whole recording (its caller HandleQuery is then the call site): each has its own line.
    const caller = lineOf(source, 'LogFileObject_Write(fd');
    const expected: Record<string, Record<string, number>> = {
      fadvise64: { LogFileObject_Write: lineOf(source, 'posix_fadvise('), HandleQuery: caller },
      write: { LogFileObject_Write: lineOf(source, 'write(fd'), HandleQuery: caller },
    };
    for (const [syscall, lines] of Object.entries(expected)) {
      const sites = json.syscalls.find((s) => s.name === syscall)?.callSites ?? [];
      const found = sites.filter((c) => c.status === 'found' && c.function !== null && c.function in lines);
      expect(found.length, `${syscall}: ${JSON.stringify(sites)}`).toBeGreaterThan(0);
      for (const c of found) expect(c.line, `${syscall} from ${c.function}`).toBe(lines[c.function!]);
    }
  });

  it.skipIf(browserSkipReason() !== null)(
    'the HTML report shows the file:line of the call site',
    async () => {
      const expected = lineOf(join(nativeSourceDir(), 'query-server.cc'), 'lab_fadvise(');
      const browser = await ReportBrowser.launch();
      try {
        const report = await browser.open(join(dir, 'lab-dwarf.html'));
        const syscalls = await visibleText(report.page.locator('#syscalls'));
        expect(syscalls).toContain(`at query-server.cc:${expected}`);
        const findings = await visibleText(report.page.locator('#findings'));
        if (out['lab-dwarf'].json.findings.some((f) => f.callSite?.line === expected))
          expect(findings).toContain(`query-server.cc:${expected}`);
      } finally {
        await browser.close();
      }
    },
  );
});
