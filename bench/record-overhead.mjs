// What `crosstalk record` costs the workload it observes. Three workloads (CPU-bound: a JS loop;
// syscall-heavy: dd copying one byte per read/write; context-switch-heavy: two processes bouncing
// a byte through pipes, bench/pingpong.c) run for a fixed time alone and while crosstalk records
// the host in each mode, in alternating rounds; throughput is compared with the baseline measured
// in the same round. Also reports perf.data size and `perf script` decode time per mode. Needs
// root, perf and a C compiler. Usage:
//   node bench/record-overhead.mjs [--rounds N] [--seconds S] [--workloads a,b] [--modes 'a;b'] [--json]
// (--modes: mode names as listed in MODES, separated by ';'; the baseline is always measured.)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { removePingpong, WORKLOADS } from './workloads.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    workloads: { type: 'string' },
    modes: { type: 'string' },
    json: { type: 'boolean' },
  },
});
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);

/**
 * Modes measured; `null` is the baseline (no recording). Frequency is record's default (99 Hz).
 * Off-CPU is named in every mode: record's default depends on the host's switch rate.
 */
const ALL_MODES = [
  { name: 'baseline', flags: null },
  { name: 'fp + off-CPU', flags: ['--call-graph', 'fp', '--off-cpu'] },
  { name: 'fp', flags: ['--call-graph', 'fp', '--no-off-cpu'] },
  { name: 'fp, no syscall counter', flags: ['--call-graph', 'fp', '--no-off-cpu', '--no-syscall-rates'] },
  // The eBPF syscall latency tracer is on by default (with its budget, record's default).
  {
    name: 'fp, no latency tracer',
    flags: ['--call-graph', 'fp', '--no-off-cpu', '--no-syscall-latency'],
  },
  {
    name: 'fp, tracer unbounded',
    flags: ['--call-graph', 'fp', '--no-off-cpu', '--latency-budget', '1000000000000'],
  },
  { name: 'dwarf + off-CPU', flags: ['--call-graph', 'dwarf', '--off-cpu'] },
  { name: 'dwarf', flags: ['--call-graph', 'dwarf', '--no-off-cpu'] },
];
const MODES = args.modes
  ? ALL_MODES.filter((m) => m.flags === null || args.modes.split(';').includes(m.name))
  : ALL_MODES;

/** How to run `crosstalk record`: the built CLI once it has the command, else the sources via tsx. */
function recordCommand() {
  const dist = join(repo, 'dist', 'crosstalk.js');
  const help = existsSync(dist)
    ? spawnSync(process.execPath, [dist, '--help'], { encoding: 'utf8' }).stdout
    : '';
  if (/^\s+record\b/m.test(help)) return [dist];
  return ['--import', 'tsx', join(repo, 'test', 'record-cli-driver.ts')];
}

const SELECTED = args.workloads ? args.workloads.split(',') : Object.keys(WORKLOADS);
for (const w of SELECTED) {
  if (!(w in WORKLOADS))
    throw new Error(`--workloads: unknown ${w}; expected ${Object.keys(WORKLOADS).join(', ')}`);
}

/** Starts a recording and resolves once perf has been recording for a moment. */
async function startRecording(flags, store) {
  const p = spawn(
    process.execPath,
    [...recordCommand(), 'record', '--duration', String(SECONDS + 30), '--store', store, '--json', ...flags],
    {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  p.stdout.on('data', (b) => {
    out += b;
  });
  p.stderr.on('data', (b) => {
    err += b;
  });
  const done = new Promise((resolve) => p.on('close', (code) => resolve({ code, out, err })));
  for (let i = 0; i < 600; i++) {
    const ids = (await readdir(store).catch(() => [])).filter((n) => /^\d{8}-/.test(n));
    if (ids.length && existsSync(join(store, ids[0], 'perf.data'))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // perf creates the file, then enables its events over the control pipe: give it a moment.
  await new Promise((r) => setTimeout(r, 500));
  return { stop: () => p.kill('SIGINT'), done };
}

async function measure(workload, mode) {
  if (mode.flags === null) return { throughput: await WORKLOADS[workload](SECONDS), run: null };
  const store = await mkdtemp(join(tmpdir(), 'crosstalk-bench-'));
  const rec = await startRecording(mode.flags, store);
  const throughput = await WORKLOADS[workload](SECONDS);
  rec.stop();
  const r = await rec.done;
  if (r.code !== 0) throw new Error(`crosstalk record failed (${r.code}): ${r.err}`);
  return { throughput, run: JSON.parse(r.out), store };
}

/** perf.data bytes per recorded second and `perf script` seconds per recorded second. */
async function sizeAndDecode(run) {
  const meta = JSON.parse(await readFile(join(run.dir, 'metadata.json'), 'utf8'));
  const seconds = meta.recording.window.actualSeconds;
  const file = join(run.dir, 'perf.data');
  const bytes = (await stat(file)).size;
  const t0 = performance.now();
  const r = spawnSync('perf', ['script', '-i', file], {
    stdio: ['ignore', 'ignore', 'ignore'],
    maxBuffer: 1 << 30,
  });
  const decode = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`perf script failed on ${file}`);
  return {
    seconds,
    bytes,
    bytesPerSecond: bytes / seconds,
    decodeSeconds: decode,
    decodePerRecordedSecond: decode / seconds,
  };
}

/** obj[key], created as `empty` when missing. */
function entry(obj, key, empty) {
  if (!(key in obj)) obj[key] = empty;
  return obj[key];
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (process.geteuid?.() !== 0) throw new Error('run as root: crosstalk record needs it');
  const ratios = {};
  const best = {};
  const files = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const workload of SELECTED) {
      // Alternate the order each round so drift (thermal, other load) does not favour one mode.
      const order = round % 2 === 0 ? MODES : [...MODES].reverse();
      const results = {};
      for (const mode of order) {
        const m = await measure(workload, mode);
        results[mode.name] = m.throughput;
        if (m.run && round === 0) entry(files, workload, {})[mode.name] = await sizeAndDecode(m.run);
        if (m.store) await rm(m.store, { recursive: true, force: true });
        process.stderr.write(`round ${round + 1} ${workload} ${mode.name}: ${m.throughput.toFixed(0)}/s\n`);
      }
      for (const mode of MODES) entry(entry(best, workload, {}), mode.name, []).push(results[mode.name]);
      for (const mode of MODES.slice(1)) {
        entry(entry(ratios, workload, {}), mode.name, []).push(results[mode.name] / results.baseline);
      }
    }
  }
  await removePingpong();
  report(ratios, best, files);
}

/**
 * Two views of the same runs: the median of per-round ratios, and best-vs-best (the highest
 * throughput of each mode over the rounds). Other load on the host only ever slows a run down, so
 * on a shared machine best-vs-best is the steadier estimate of what recording itself costs.
 */
function report(ratios, best, files) {
  const rows = [];
  for (const [workload, byMode] of Object.entries(ratios)) {
    const baseline = Math.max(...best[workload].baseline);
    for (const [mode, rs] of Object.entries(byMode)) {
      const m = median(rs);
      const bestRatio = Math.max(...best[workload][mode]) / baseline;
      rows.push({
        workload,
        mode,
        throughputRatio: m,
        overheadPercent: (1 - m) * 100,
        bestOverheadPercent: (1 - bestRatio) * 100,
        ratios: rs,
        ...files[workload]?.[mode],
      });
    }
  }
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ rounds: ROUNDS, seconds: SECONDS, rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `crosstalk record overhead at 99 Hz (${ROUNDS} rounds x ${SECONDS} s): throughput lost, median of rounds / best vs best\n`,
  );
  for (const r of rows) {
    const size = r.bytesPerSecond
      ? `  perf.data ${(r.bytesPerSecond / 1024).toFixed(0)} KiB/s, perf script ${r.decodePerRecordedSecond.toFixed(2)} s per recorded s`
      : '';
    process.stdout.write(
      `${r.workload.padEnd(20)} ${r.mode.padEnd(24)} ${r.overheadPercent.toFixed(1).padStart(6)}% / ${r.bestOverheadPercent.toFixed(1).padStart(5)}%${size}\n`,
    );
  }
}

await main();
