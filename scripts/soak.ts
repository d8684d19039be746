/**
 * Soak run of the importer fuzzing (the cases and invariant of test/fuzz-importers.test.ts), a
 * million cases by default, in worker processes (not threads: each measures its own CPU time).
 * Reports the case count, every failure with the seed that reproduces it, and the slowest parse
 * time per byte.
 *
 *   npm run soak -- [--cases N] [--threads N] [--seed N] [--seed-bytes N] [--batch N]
 *
 * A batch of cases is one fast-check run with its own seed; a failure prints that seed, the
 * group and fast-check's shrunk counterexample. A batch that makes no progress for --hang-seconds
 * (default 300) is reported as a hang and its worker replaced.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { buildCase, caseGroups, loadCorpus } from '../test/support/fuzz-cases.ts';
import { FUZZ_TIME_BOUND, importCase, violationsOf, workBytes } from '../test/support/fuzz-check.ts';

/** Inputs at least this large give the per-byte figure (smaller ones are dominated by fixed costs). */
const PER_BYTE_MIN = 64 * 1024;

interface Batch {
  group: number;
  seed: number;
  runs: number;
}

interface Slowest {
  value: number;
  /** CPU time of the import, ms. */
  ms: number;
  wallMs: number;
  bytes: number;
  group: string;
  seed: number;
  spec: string;
}

interface BatchResult {
  batch: Batch;
  cases: number;
  failure: string | null;
  /** Largest CPU time per byte among inputs of at least PER_BYTE_MIN bytes. */
  perByte: Slowest | null;
  /** Largest CPU time of any case. */
  slowestMs: Slowest | null;
  /** Largest wall time of any case. */
  slowestWall: Slowest | null;
}

interface WorkerSetup {
  seedBytes: number;
  hugeMax: number;
}

// ---- worker ----------------------------------------------------------------------------------

async function workerMain(setup: WorkerSetup): Promise<void> {
  const corpus = await loadCorpus(setup.seedBytes);
  const groups = caseGroups({ hugeMax: setup.hugeMax });
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-soak-'));
  const path = join(dir, "input with spaces, 'quotes' and $(x)");
  const send = (m: unknown) => process.send?.(m);
  process.on('message', async (batch: Batch | 'stop') => {
    if (batch === 'stop') {
      rmSync(dir, { recursive: true, force: true });
      process.disconnect();
      return;
    }
    const g = groups[batch.group];
    let cases = 0;
    let perByte: Slowest | null = null;
    let slowestMs: Slowest | null = null;
    let slowestWall: Slowest | null = null;
    const details = await fc.check(
      fc.asyncProperty(g.arb, async (spec) => {
        cases++;
        const c = buildCase(corpus, spec);
        const o = await importCase(path, c);
        const bytes = workBytes(c);
        const note = (value: number): Slowest => ({
          value,
          ms: o.ms,
          wallMs: o.wallMs,
          bytes,
          group: g.name,
          seed: batch.seed,
          spec: JSON.stringify(spec).slice(0, 300),
        });
        if (bytes >= PER_BYTE_MIN && (perByte === null || (o.ms * 1e6) / bytes > perByte.value))
          perByte = note((o.ms * 1e6) / bytes);
        if (slowestMs === null || o.ms > slowestMs.value) slowestMs = note(o.ms);
        if (slowestWall === null || o.wallMs > slowestWall.value) slowestWall = note(o.wallMs);
        const v = violationsOf(c, path, o, FUZZ_TIME_BOUND, true);
        if (v.length > 0) throw new Error(v.join('\n'));
      }),
      { seed: batch.seed, numRuns: batch.runs },
    );
    const failure = details.failed
      ? `${g.name}, seed ${batch.seed}, path ${details.counterexamplePath}: ${String(details.errorInstance)}\n  counterexample: ${JSON.stringify(details.counterexample).slice(0, 2000)}`
      : null;
    const result: BatchResult = { batch, cases, failure, perByte, slowestMs, slowestWall };
    send(result);
  });
  send('ready');
}

// ---- main ------------------------------------------------------------------------------------

interface Totals {
  cases: number;
  failures: string[];
  hangs: string[];
  perByte: Slowest | null;
  slowestMs: Slowest | null;
  slowestWall: Slowest | null;
}

function batchesOf(total: number, batchSize: number, baseSeed: number): Batch[] {
  const groups = caseGroups({ hugeMax: 1024 });
  const out: Batch[] = [];
  let seed = baseSeed;
  groups.forEach((g, group) => {
    let left = Math.ceil(total * g.share);
    while (left > 0) {
      const runs = Math.min(batchSize, left);
      out.push({ group, seed: seed++ % 2 ** 31, runs });
      left -= runs;
    }
  });
  // Interleave groups so a partial run covers all of them.
  return out.sort((a, b) => ((a.seed * 7919) % 1009) - ((b.seed * 7919) % 1009));
}

function runWorker(
  setup: WorkerSetup,
  queue: Batch[],
  totals: Totals,
  hangMs: number,
  onBatch: () => void,
): Promise<void> {
  return new Promise((resolve) => {
    const worker: ChildProcess = fork(fileURLToPath(import.meta.url), ['--worker', JSON.stringify(setup)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let current: Batch | null = null;
    let timer: NodeJS.Timeout | null = null;
    let hung = false;
    const next = () => {
      current = queue.shift() ?? null;
      if (timer) clearTimeout(timer);
      if (current === null) {
        worker.send('stop');
        return;
      }
      const batch = current;
      timer = setTimeout(() => {
        totals.hangs.push(`group ${batch.group}, seed ${batch.seed}: no result after ${hangMs / 1000} s`);
        hung = true;
        worker.kill('SIGKILL');
      }, hangMs);
      worker.send(batch);
    };
    worker.on('message', (m: BatchResult | 'ready') => {
      if (m !== 'ready') {
        totals.cases += m.cases;
        if (m.failure) {
          totals.failures.push(m.failure);
          console.log(`FAILURE (reported again at the end) ${m.failure}`);
        }
        if (m.perByte && (!totals.perByte || m.perByte.value > totals.perByte.value))
          totals.perByte = m.perByte;
        if (m.slowestMs && (!totals.slowestMs || m.slowestMs.value > totals.slowestMs.value))
          totals.slowestMs = m.slowestMs;
        if (m.slowestWall && (!totals.slowestWall || m.slowestWall.value > totals.slowestWall.value))
          totals.slowestWall = m.slowestWall;
        onBatch();
      }
      next();
    });
    worker.on('error', (e) => {
      totals.failures.push(`worker error during ${JSON.stringify(current)}: ${e.stack ?? e}`);
    });
    worker.on('exit', () => {
      if (timer) clearTimeout(timer);
      // A hung worker is replaced while batches remain.
      if (hung && queue.length > 0) runWorker(setup, queue, totals, hangMs, onBatch).then(resolve);
      else resolve();
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '1000000' },
      threads: { type: 'string', default: String(availableParallelism()) },
      seed: { type: 'string', default: String(Math.floor(Math.random() * 2 ** 31)) },
      'seed-bytes': { type: 'string', default: String(128 * 1024) },
      'huge-max': { type: 'string', default: String(1024 * 1024) },
      batch: { type: 'string', default: '2000' },
      'hang-seconds': { type: 'string', default: '300' },
    },
  });
  const total = Number(values.cases);
  const seed = Number(values.seed);
  const setup: WorkerSetup = { seedBytes: Number(values['seed-bytes']), hugeMax: Number(values['huge-max']) };
  const queue = batchesOf(total, Number(values.batch), seed);
  const totals: Totals = {
    cases: 0,
    failures: [],
    hangs: [],
    perByte: null,
    slowestMs: null,
    slowestWall: null,
  };
  const started = Date.now();
  console.log(
    `soak: ${total} cases, seed ${seed}, ${values.threads} threads, seeds up to ${setup.seedBytes} bytes`,
  );
  let lastReport = 0;
  const onBatch = () => {
    if (Date.now() - lastReport < 30_000) return;
    lastReport = Date.now();
    const s = ((Date.now() - started) / 1000).toFixed(0);
    console.log(`soak: ${totals.cases} cases after ${s} s, ${totals.failures.length} failures`);
  };
  const threads = Math.max(1, Number(values.threads));
  await Promise.all(
    Array.from({ length: threads }, () =>
      runWorker(setup, queue, totals, Number(values['hang-seconds']) * 1000, onBatch),
    ),
  );
  report(totals, seed, (Date.now() - started) / 1000);
  process.exitCode = totals.failures.length + totals.hangs.length > 0 ? 1 : 0;
}

function report(t: Totals, seed: number, seconds: number): void {
  const show = (s: Slowest | null) =>
    s === null
      ? 'none'
      : `${s.ms.toFixed(1)} ms CPU, ${s.wallMs.toFixed(1)} ms wall for ${s.bytes} bytes (${s.group}, batch seed ${s.seed}): ${s.spec}`;
  console.log(`soak: ${t.cases} cases in ${seconds.toFixed(0)} s (seed ${seed})`);
  console.log(`soak: ${t.failures.length} failures, ${t.hangs.length} hangs`);
  for (const f of t.failures) console.log(`FAILURE ${f}`);
  for (const h of t.hangs) console.log(`HANG ${h}`);
  const perByte = t.perByte === null ? 'n/a' : `${t.perByte.value.toFixed(1)} ns/byte`;
  console.log(
    `soak: slowest CPU time per byte (inputs >= ${PER_BYTE_MIN} bytes): ${perByte}; ${show(t.perByte)}`,
  );
  console.log(`soak: most CPU time of one case: ${show(t.slowestMs)}`);
  console.log(`soak: most wall time of one case: ${show(t.slowestWall)}`);
}

if (process.argv[2] === '--worker') await workerMain(JSON.parse(process.argv[3]) as WorkerSetup);
else await main();
