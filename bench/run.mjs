// `npm run bench`: performance targets as benchmarks, not timed tests. Each figure is the median
// of several whole-process runs, reported next to a baseline measured in the same run (this
// machine is noisy; ratios travel better than absolute numbers).
//   parse:  busy-host corpus file (130 MB of perf script text, 205k samples), decompressed to a
//           temp file: import + analyze + diagnose in one process, MB/s, samples/s, peak RSS;
//           baseline: a bare byte scan of the same file. Then whole-process `crosstalk analyze
//           FILE --json` (MB/s, peak RSS) against FlameGraph's `stackcollapse-perf.pl` on the
//           same file, alternating; the collapser is found through $FLAMEGRAPH_DIR or PATH (it
//           is not part of this repository; without it that ratio is skipped).
//   record: recording overhead (bench/record-overhead.mjs), run with `npm run bench -- record`.
//   perfdata: records a system-wide frame-pointer perf.data (BENCH_PERFDATA_SECONDS, default 30 s
//           at 999 Hz, two busy shell loops; holds /tmp/crosstalk-system.lock while recording),
//           then times whole-process `crosstalk analyze --json` (native decoder) against
//           `perf script` alone on the same file, alternating; `npm run bench -- perfdata`.
//           BENCH_PERFDATA_FILE=PATH times an existing recording instead (no recording, no lock).
//   watch:  `crosstalk watch` overhead, always-on and triggered layers (bench/watch-overhead.mjs),
//           run with `npm run bench -- watch`.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { build } from 'esbuild';
import { corpusFile, corpusMissing } from '../test/support/corpus.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const which = process.argv.slice(2);
const runs = Number(process.env.BENCH_RUNS ?? 5);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function runJson(args) {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function parseBench() {
  if (corpusMissing !== null) {
    console.log(`parse: skipped, ${corpusMissing}`);
    return;
  }
  const corpus = corpusFile('host-samples/busy-host.perf.txt.gz');
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-bench-'));
  try {
    const text = join(dir, 'busy-host.perf.txt');
    await pipeline(createReadStream(corpus), createGunzip(), createWriteStream(text));
    const entry = join(dir, 'parse.js');
    await build({
      entryPoints: {
        parse: join(here, 'parse-entry.ts'),
        'parse-worker': join(here, '../src/formats/parse-worker.ts'),
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outdir: dir,
      loader: { '.md': 'text' },
      logLevel: 'warning',
      banner: {
        js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      },
    });
    const ours = [];
    const base = [];
    for (let i = 0; i < runs; i++) {
      // Alternate, so drift in machine load hits both sides alike.
      base.push(runJson([join(here, 'byte-scan.mjs'), text]));
      ours.push(runJson([entry, text]));
    }
    const mb = ours[0].bytes / 1e6;
    const parseMs = median(ours.map((r) => r.parseMs));
    const totalMs = median(ours.map((r) => r.totalMs));
    const baseMs = median(base.map((r) => r.totalMs));
    const rss = Math.max(...ours.map((r) => r.maxRssKb)) / 1024;
    console.log(
      `parse: busy-host.perf.txt, ${mb.toFixed(0)} MB, ${ours[0].samples} samples, median of ${runs} runs`,
    );
    console.log(`  byte-scan baseline      ${(mb / (baseMs / 1000)).toFixed(0).padStart(5)} MB/s`);
    console.log(
      `  import (parse)          ${(mb / (parseMs / 1000)).toFixed(0).padStart(5)} MB/s   ${(ours[0].samples / (parseMs / 1000) / 1000).toFixed(0)}k samples/s   ${(baseMs / parseMs).toFixed(2)}x baseline`,
    );
    console.log(
      `  import+analyze+diagnose ${(mb / (totalMs / 1000)).toFixed(0).padStart(5)} MB/s   ${(ours[0].samples / (totalMs / 1000) / 1000).toFixed(0)}k samples/s   ${(baseMs / totalMs).toFixed(2)}x baseline`,
    );
    console.log(
      `  peak RSS                ${rss.toFixed(0).padStart(5)} MB   (targets: >= 150 MB/s, <= 200 MB)`,
    );
    console.log(
      `  runs (ms): ${ours.map((r) => r.totalMs.toFixed(0)).join(' ')}; baseline: ${base.map((r) => r.totalMs.toFixed(0)).join(' ')}`,
    );
    wholeProcessTextBench(text, mb);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function timed(cmd, args, env) {
  return timedRun(cmd, args, env).ms;
}

/** GNU time, for a child's peak RSS; without it the RSS column reads NaN. */
const GNU_TIME = (() => {
  try {
    accessSync('/usr/bin/time', constants.X_OK);
    return '/usr/bin/time';
  } catch {
    return null;
  }
})();

/** Wall time and the child's peak RSS (MB) of one run, output discarded. */
function timedRun(cmd, args, env = process.env) {
  const [file, argv] = GNU_TIME === null ? [cmd, args] : [GNU_TIME, ['-f', '%M', cmd, ...args]];
  const t = process.hrtime.bigint();
  const r = spawnSync(file, argv, {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const rssKb = GNU_TIME === null ? Number.NaN : Number(r.stderr.trim().split('\n').pop());
  return { ms, rssMb: rssKb / 1024 };
}

/** FlameGraph's perl collapser: $FLAMEGRAPH_DIR/stackcollapse-perf.pl, else on PATH; null when absent. */
function stackcollapsePerf() {
  const dirs = [process.env.FLAMEGRAPH_DIR, ...(process.env.PATH ?? '').split(':')].filter(Boolean);
  for (const d of dirs) {
    const f = join(d, 'stackcollapse-perf.pl');
    try {
      accessSync(f, constants.R_OK);
      return f;
    } catch {
      // not here
    }
  }
  return null;
}

/** Whole process, as a user runs it: `crosstalk analyze FILE --json` next to stackcollapse-perf.pl. */
function wholeProcessTextBench(text, mb) {
  const bin = join(here, '../bin/crosstalk.js');
  const collapser = stackcollapsePerf();
  const ours = [];
  const base = [];
  for (let i = 0; i < runs; i++) {
    if (collapser !== null) base.push(timedRun('perl', [collapser, text]));
    ours.push(timedRun(process.execPath, [bin, 'analyze', text, '--json']));
  }
  const oursMs = median(ours.map((r) => r.ms));
  const rss = Math.max(...ours.map((r) => r.rssMb));
  console.log(
    `  whole process: analyze --json ${(mb / (oursMs / 1000)).toFixed(0).padStart(5)} MB/s   peak RSS ${rss.toFixed(0)} MB   (targets: >= 150 MB/s, < 200 MB)`,
  );
  if (collapser === null) {
    console.log('  stackcollapse-perf.pl: not found ($FLAMEGRAPH_DIR or PATH); ratio skipped');
  } else {
    const baseMs = median(base.map((r) => r.ms));
    console.log(
      `  stackcollapse-perf.pl   ${(mb / (baseMs / 1000)).toFixed(0).padStart(5)} MB/s   analyze --json is ${(baseMs / oursMs).toFixed(2)}x faster (target >= 5.5x)`,
    );
  }
  console.log(
    `  runs (ms): ${ours.map((r) => r.ms.toFixed(0)).join(' ')}; stackcollapse-perf.pl: ${base.map((r) => r.ms.toFixed(0)).join(' ')}`,
  );
}

function perfDataBench() {
  const seconds = Number(process.env.BENCH_PERFDATA_SECONDS ?? 30);
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-bench-perfdata-'));
  try {
    const given = process.env.BENCH_PERFDATA_FILE;
    const data = given ?? join(dir, 'big.data');
    if (given === undefined) recordBenchData(data, seconds);
    timePerfData(data, given ?? `${seconds} s system-wide fp recording`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function recordBenchData(data, seconds) {
  const busy = `spin() { while :; do :; done; }; spin & a=$!; spin & b=$!; sleep ${seconds}; kill $a $b`;
  const record = ['record', '-q', '-a', '-g', '--all-cgroups', '-F', '999', '-o', data];
  execFileSync('flock', ['/tmp/crosstalk-system.lock', 'perf', ...record, '--', 'sh', '-c', busy], {
    stdio: 'ignore',
  });
}

/**
 * Whole-process `analyze --json` (native decoder) next to `perf script` alone, alternating: with
 * the symbol-table cache warm (a second analysis on this host; the untimed run below fills it)
 * and with it off (CROSSTALK_SYMBOL_CACHE=off: every table parsed, as on a first analysis).
 */
function timePerfData(data, what) {
  const bin = join(here, '../bin/crosstalk.js');
  const fields = 'comm,pid,tid,cpu,time,period,event,ip,sym,dso';
  const args = [bin, 'analyze', data, '--json', '--decoder', 'native'];
  const cold = { ...process.env, CROSSTALK_SYMBOL_CACHE: 'off' };
  const samples = runJson([bin, 'analyze', data, '--json']).input?.samples ?? '?';
  const warm = [];
  const off = [];
  const base = [];
  for (let i = 0; i < runs; i++) {
    base.push(timed('perf', ['script', '-f', '-i', data, '-F', fields, '--ns']));
    warm.push(timed(process.execPath, args));
    off.push(timed(process.execPath, args, cold));
  }
  const line = (label, xs) =>
    `  ${label.padEnd(34)} ${median(xs).toFixed(0).padStart(6)} ms   ${(median(xs) / median(base)).toFixed(2)}x perf script (target <= 0.5x)`;
  console.log(`perfdata: ${what}, ${samples} samples, median of ${warm.length} runs`);
  console.log(`  ${'perf script alone'.padEnd(34)} ${median(base).toFixed(0).padStart(6)} ms`);
  console.log(line('analyze --json, symbol cache warm', warm));
  console.log(line('analyze --json, symbol cache off', off));
  const list = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(`  runs (ms): warm ${list(warm)}; off ${list(off)}; perf script ${list(base)}`);
}

if (which.length === 0 || which.includes('parse')) await parseBench();
if (which.includes('perfdata')) perfDataBench();
if (which.includes('record'))
  execFileSync(process.execPath, [join(here, 'record-overhead.mjs')], { stdio: 'inherit' });
if (which.includes('watch'))
  execFileSync(process.execPath, [join(here, 'watch-overhead.mjs')], { stdio: 'inherit' });
