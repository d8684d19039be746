// Workloads the overhead benchmarks run beside crosstalk (record-overhead.mjs, watch-overhead.mjs):
// each runs for `seconds` of wall time and returns its throughput per second.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** Iterations of a mixing loop in `seconds` of wall time (no syscalls: the clock is the vDSO). */
const CPU_SCRIPT = `
const end = Date.now() + Number(process.argv[1]) * 1000; let x = 1, n = 0;
while (Date.now() < end) { for (let i = 0; i < 1e6; i++) x = (x * 1103515245 + 12345) | 0; n++; }
process.stdout.write(String(n * 1e6 + (x & 0)));`;

export function run(cmd, argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => {
      out += b;
    });
    p.stderr.on('data', (b) => {
      err += b;
    });
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}

export const WORKLOADS = {
  /** Loop iterations per second. */
  'cpu-bound': async (seconds) => {
    const r = await run(process.execPath, ['-e', CPU_SCRIPT, String(seconds)]);
    return Number(r.out) / seconds;
  },
  /** Bytes per second with one-byte reads and writes: two syscalls per byte. dd reports on SIGINT. */
  'syscall-heavy': async (seconds) => {
    const p = run('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1']);
    await new Promise((r) => setTimeout(r, 200));
    const ps = spawnSync('pgrep', ['-n', '-x', 'dd', '-P', String(process.pid)], { encoding: 'utf8' });
    const pid = Number(ps.stdout.trim());
    await new Promise((r) => setTimeout(r, seconds * 1000));
    process.kill(pid, 'SIGINT');
    const { err } = await p;
    const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(err);
    if (!m) throw new Error(`dd said: ${err}`);
    return Number(m[1]) / Number(m[2]);
  },
  /** Pipe round trips per second: every one is two context switches. */
  'context-switch-heavy': async (seconds) => {
    const r = await run(await pingpong(), [String(seconds)]);
    if (r.code !== 0) throw new Error(`pingpong failed (${r.code}): ${r.err}`);
    return Number(r.out);
  },
};

let pingpongPath = null;
/** bench/pingpong.c, compiled once into a temporary directory. */
async function pingpong() {
  if (pingpongPath !== null) return pingpongPath;
  const dir = await mkdtemp(join(tmpdir(), 'crosstalk-pingpong-'));
  const out = join(dir, 'pingpong');
  const cc = spawnSync('cc', ['-O2', '-o', out, join(repo, 'bench', 'pingpong.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cc bench/pingpong.c failed: ${cc.error?.message ?? cc.stderr}`);
  pingpongPath = out;
  return out;
}

/** The compiled ping-pong, if a workload built it (null otherwise). */
export function pingpongBinary() {
  return pingpongPath;
}

export async function removePingpong() {
  if (pingpongPath !== null) await rm(dirname(pingpongPath), { recursive: true, force: true });
  pingpongPath = null;
}
