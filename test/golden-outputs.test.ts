/**
 * Golden outputs: every report crosstalk prints or writes, byte for byte, for small fixed inputs,
 * so that moving code between layers cannot change what users see. Two sources:
 *   - the built CLI on real perf script text (the shared corpus' mixed-events and edge-comms, the
 *     inlined fixture), its halves as a diff, two of them as two hosts, and a run directory with
 *     counters.json; corpus and temporary paths are replaced by <corpus> and <tmp>;
 *   - in process, a seeded synthetic host with docker containers and timed samples
 *     (support/contended-host.ts), for what text input cannot carry: containers, signature
 *     findings, windows, the timeline and per-container flame views.
 * Files live in test/golden/outputs/; UPDATE_GOLDEN=1 rewrites them.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelSamples } from '../src/analysis/sample-labels.ts';
import { pprofOf } from '../src/formats/pprof-export.ts';
import { speedscopeOf } from '../src/formats/speedscope.ts';
import { mergeHosts } from '../src/model/hosts.ts';
import type { Profile } from '../src/model/profile.ts';
import { analyzeLoaded } from '../src/pipeline/analyze.ts';
import { diffLoaded } from '../src/pipeline/diff.ts';
import type { LoadedInput } from '../src/pipeline/load.ts';
import { analysisReport, diffReport } from '../src/pipeline/report.ts';
import { diffJson } from '../src/report/diff-json.ts';
import { renderDiff } from '../src/report/diff-text.ts';
import { buildReportData, type HtmlReportInput } from '../src/report/html/html-report.ts';
import { analyzeJsonText, jsonText } from '../src/report/json.ts';
import { renderAnalysis } from '../src/report/terminal.ts';
import { runCli } from './support/cli.ts';
import { contendedHost, contendedNames } from './support/contended-host.ts';
import { CORPUS_DIR, corpusMissing } from './support/corpus.mjs';

const GOLDEN = new URL('./golden/outputs/', import.meta.url).pathname;
const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'crosstalk-golden-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function placeholders(text: string): string {
  let out = text.replaceAll(tmp, '<tmp>').replaceAll(FIXTURES.replace(/\/$/, ''), '<fixtures>');
  if (CORPUS_DIR !== null) out = out.replaceAll(CORPUS_DIR, '<corpus>');
  return out.replace(/"generatedAt":"[^"]*"/g, '"generatedAt":"<time>"');
}

/** Outputs above this size are kept as their SHA-256 and length, not as text (the repo stays small). */
const MAX_TEXT_GOLDEN = 64 * 1024;
/** Where a mismatching output is written in full, to compare with the old build's. */
const ACTUAL = join(tmpdir(), 'crosstalk-golden-actual');

function expectGolden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  const text = placeholders(actual);
  const bytes = Buffer.byteLength(text);
  const kept = bytes > MAX_TEXT_GOLDEN ? `sha256 ${sha256(Buffer.from(text))}, ${bytes} bytes\n` : text;
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, kept);
    return;
  }
  if (!existsSync(file)) throw new Error(`golden file ${name} is missing; create it with UPDATE_GOLDEN=1`);
  const expected = readFileSync(file, 'utf8');
  if (kept !== expected) {
    mkdirSync(ACTUAL, { recursive: true });
    writeFileSync(join(ACTUAL, name), text);
  }
  expect(kept, `${name} differs; the whole output is in ${join(ACTUAL, name)}`).toBe(expected);
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The JSON block the page embeds: the report's data, exactly as written. */
function embeddedData(html: string): string {
  const m = /<script type="application\/json" id="crosstalk-data">(.*?)<\/script>/s.exec(html);
  if (!m) throw new Error('no embedded report data');
  return m[1];
}

const FIXED_TIME = new Date('2026-12-04T00:00:00Z');

function reportData(input: HtmlReportInput): string {
  return JSON.stringify(buildReportData({ ...input, generatedAt: FIXED_TIME }));
}

describe.skipIf(corpusMissing !== null)('CLI on real perf script text', () => {
  const mixed = () => join(CORPUS_DIR!, 'host-samples/mixed-events.perf.txt.gz');
  const edge = () => join(CORPUS_DIR!, 'host-samples/edge-comms.perf.txt.gz');
  const inlined = join(FIXTURES, 'perf-script-inlined.txt');
  let first: string;
  let second: string;
  let run: string;
  beforeAll(() => {
    // mixed-events cut at a sample boundary into two runs of the same host: a diff's two sides.
    const text = gunzipSync(readFileSync(mixed()));
    const cut = text.indexOf('\n\n', Math.floor(text.length / 2)) + 2;
    first = join(tmp, 'first.txt');
    second = join(tmp, 'second.txt');
    writeFileSync(first, text.subarray(0, cut));
    writeFileSync(second, text.subarray(cut));
    run = join(tmp, 'run-1');
    mkdirSync(run);
    copyFileSync(inlined, join(run, 'perf.data'));
    writeFileSync(join(run, 'metadata.json'), JSON.stringify(runMetadata()));
    writeFileSync(join(run, 'counters.json'), JSON.stringify(runCounters()));
  });

  async function cli(name: string, args: string[]): Promise<string> {
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(0);
    expectGolden(`${name}.stderr`, r.stderr);
    return r.stdout;
  }

  it('analyze: terminal, --json, --html data', async () => {
    expectGolden('cli-analyze-mixed.txt', await cli('cli-analyze-mixed.txt', ['analyze', mixed()]));
    expectGolden(
      'cli-analyze-mixed.json',
      await cli('cli-analyze-mixed.json', ['analyze', '--json', mixed()]),
    );
    const html = join(tmp, 'mixed.html');
    await cli('cli-analyze-mixed.html', ['analyze', mixed(), '--html', html]);
    expectGolden('cli-analyze-mixed.html-data.json', embeddedData(readFileSync(html, 'utf8')));
    expectGolden('cli-analyze-edge.json', await cli('cli-analyze-edge.json', ['analyze', '--json', edge()]));
  });

  it('analyze of two hosts', async () => {
    const args = ['analyze', '--host', `one=${first}`, '--host', `two=${inlined}`];
    expectGolden('cli-analyze-hosts.txt', await cli('cli-analyze-hosts.txt', args));
    expectGolden('cli-analyze-hosts.json', await cli('cli-analyze-hosts.json', [...args, '--json']));
    const html = join(tmp, 'hosts.html');
    await cli('cli-analyze-hosts.html', [...args, '--html', html]);
    expectGolden('cli-analyze-hosts.html-data.json', embeddedData(readFileSync(html, 'utf8')));
  });

  it('analyze of a run directory with counters', async () => {
    expectGolden('cli-analyze-run.txt', await cli('cli-analyze-run.txt', ['analyze', run]));
    expectGolden('cli-analyze-run.json', await cli('cli-analyze-run.json', ['analyze', '--json', run]));
    const html = join(tmp, 'run.html');
    await cli('cli-analyze-run.html', ['analyze', run, '--html', html]);
    expectGolden('cli-analyze-run.html-data.json', embeddedData(readFileSync(html, 'utf8')));
  });

  it('diff: terminal, --json, --folded, --html data', async () => {
    expectGolden('cli-diff.txt', await cli('cli-diff.txt', ['diff', first, second]));
    expectGolden('cli-diff.json', await cli('cli-diff.json', ['diff', '--json', first, second]));
    expectGolden('cli-diff.folded', await cli('cli-diff.folded', ['diff', '--folded', first, second]));
    const html = join(tmp, 'diff.html');
    await cli('cli-diff.html', ['diff', first, second, '--html', html]);
    expectGolden('cli-diff.html-data.json', embeddedData(readFileSync(html, 'utf8')));
  });

  it('collapse', async () => {
    expectGolden('cli-collapse.folded', await cli('cli-collapse.folded', ['collapse', mixed()]));
    expectGolden(
      'cli-collapse-all.folded',
      await cli('cli-collapse-all.folded', ['collapse', '--all', edge()]),
    );
    expectGolden(
      'cli-collapse-pid.folded',
      await cli('cli-collapse-pid.folded', ['collapse', '--pid', mixed()]),
    );
  });

  it('export: pprof, speedscope, folded', async () => {
    // The profile's comments name the input as given (`crosstalk: source=...`), and the golden is
    // a hash of the bytes: name it relative to the corpus so the clone's location cannot show.
    const pb = join(tmp, 'mixed.pb.gz');
    const r = await runCli(
      ['export', '--format', 'pprof', '-o', pb, 'host-samples/mixed-events.perf.txt.gz'],
      { cwd: CORPUS_DIR! },
    );
    expect(r.code, r.stderr).toBe(0);
    expectGolden('cli-export-pprof.stderr', r.stderr);
    expectGolden('cli-export-pprof.sha256', `${sha256(readFileSync(pb))}\n`);
    const ss = await cli('cli-export-speedscope', ['export', '--format', 'speedscope', mixed()]);
    expectGolden('cli-export-speedscope.json', ss);
    expectGolden(
      'cli-export.folded',
      await cli('cli-export.folded', ['export', '--format', 'folded', edge()]),
    );
    const hosts = [
      'export',
      '--format',
      'folded',
      '--by',
      'container',
      '--host',
      `one=${first}`,
      '--host',
      `two=${inlined}`,
    ];
    expectGolden('cli-export-hosts.folded', await cli('cli-export-hosts.folded', hosts));
  });
});

function loadedOf(profile: Profile, extra: Partial<LoadedInput> = {}): LoadedInput {
  return { profile, run: null, counters: null, nameOf: contendedNames, syscallRates: null, ...extra };
}

function exportsOf(prefix: string, p: Profile): void {
  const labels = labelSamples(p, { nameOf: contendedNames });
  expectGolden(`${prefix}.pprof.sha256`, `${sha256(pprofOf(p, { labels }))}\n`);
  const ss = speedscopeOf(p, { by: 'container', labels, exporter: 'crosstalk golden' });
  expectGolden(`${prefix}.speedscope.json`, JSON.stringify(ss));
}

describe('synthetic host with containers (in process)', () => {
  it('one host: terminal with and without colour, JSON, HTML data, exports', () => {
    const profile = contendedHost();
    const loaded = loadedOf(profile);
    const analyzed = analyzeLoaded(loaded);
    const { result, findings } = analyzed;
    expectGolden('contended.txt', renderAnalysis(result, { color: false }, findings));
    expectGolden('contended.color.txt', renderAnalysis(result, { color: true }, findings));
    expectGolden('contended.json', analyzeJsonText(result, findings));
    expectGolden('contended.html-data.json', reportData(analysisReport(loaded, analyzed)));
    exportsOf('contended', profile);
  });

  it('two hosts: terminal, JSON, HTML data, exports', () => {
    const profile = mergeHosts(
      [
        { host: 'alpha', profile: contendedHost({ source: 'alpha' }) },
        { host: 'beta', profile: contendedHost({ source: 'beta', storm: false, seed: 7 }) },
      ],
      'alpha + beta',
    );
    const host = (name: string) => ({
      name,
      source: name,
      run: null,
      counters: null,
      nameOf: contendedNames,
      syscallRates: null,
    });
    const loaded = loadedOf(profile, { hosts: [host('alpha'), host('beta')] });
    const analyzed = analyzeLoaded(loaded);
    const { result, findings } = analyzed;
    expectGolden('contended-hosts.txt', renderAnalysis(result, { color: false }, findings));
    expectGolden('contended-hosts.color.txt', renderAnalysis(result, { color: true }, findings));
    expectGolden('contended-hosts.json', analyzeJsonText(result, findings));
    expectGolden('contended-hosts.html-data.json', reportData(analysisReport(loaded, analyzed)));
    exportsOf('contended-hosts', profile);
  });

  it('diff of a quiet baseline and the storm: terminal, JSON, HTML data', () => {
    const base = loadedOf(contendedHost({ storm: false, seed: 3, source: 'quiet' }));
    const target = loadedOf(contendedHost({ source: 'storm' }));
    const r = diffLoaded(base, target, { normalize: 'shares', match: [], top: 20 });
    expectGolden('contended-diff.txt', renderDiff(r.diff, r.findings, { color: false }));
    expectGolden('contended-diff.color.txt', renderDiff(r.diff, r.findings, { color: true }));
    expectGolden('contended-diff.json', jsonText(diffJson(r.diff, r.findings)));
    expectGolden('contended-diff.html-data.json', reportData(diffReport(base, target, r)));
  });
});

function runMetadata() {
  return {
    schema: 'crosstalk.run/1',
    id: 'run-1',
    createdAt: '2026-12-04T00:00:00.000Z',
    labels: ['golden'],
    status: 'complete',
    recorderPid: 1,
    recording: null,
  };
}

/** counters.json as `record` writes it, reduced to what analysis reads back. */
function runCounters() {
  const cg = (path: string, some: number, usage: number) => ({
    path,
    hierarchy: 'unified',
    pressure: { cpu: { some: { avg10: 0, avg60: 0, avg300: 0, total: some } } },
    cpuStat: { usage_usec: usage, nr_periods: 0, nr_throttled: 0, throttled_usec: 0 },
  });
  const snapshot = (uptime: number, some: number) => ({
    uptimeSeconds: uptime,
    dentryState: { nrDentry: 1000 + some, nrNegative: 10 + some },
    slabinfo: [{ name: 'dentry', bytes: 4096 + some }],
    pressure: { cpu: { some: { avg10: 0, avg60: 0, avg300: 0, total: some * 10 } } },
    cgroups: [cg('/', some, some * 2), cg('/system.slice/docker-a1.scope', some * 3, some)],
  });
  return {
    schema: 'crosstalk.counters/1',
    cgroupsBefore: { cgroups: [] },
    cgroupsAfter: null,
    kernelBefore: snapshot(100, 0),
    kernelAfter: snapshot(110, 500_000),
    syscallRates: null,
    containerNameSources: [],
  };
}
