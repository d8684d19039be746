// `npm run bench`: performance targets as benchmarks, not timed tests. Each figure is the median
// of several whole-process runs, reported next to a baseline measured in the same run (this
// machine is noisy; ratios travel better than absolute numbers).
//   parse:  busy-host corpus file (130 MB of perf script text, 205k samples), decompressed to a
//           temp file: import + analyze + diagnose, MB/s, samples/s, peak RSS; baseline: a bare
//           byte scan of the same file.
//   record: recording overhead (bench/record-overhead.mjs), run with `npm run bench -- record`.
//   watch:  `crosstalk watch` overhead, always-on and triggered layers (bench/watch-overhead.mjs),
//           run with `npm run bench -- watch`.
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (which.length === 0 || which.includes('parse')) await parseBench();
if (which.includes('record'))
  execFileSync(process.execPath, [join(here, 'record-overhead.mjs')], { stdio: 'inherit' });
if (which.includes('watch'))
  execFileSync(process.execPath, [join(here, 'watch-overhead.mjs')], { stdio: 'inherit' });
