// The eBPF syscall latency counter for real: bpftrace on this kernel, a workload in its own cgroup
// that makes exactly N failed newfstatat calls (ENOENT); the counts crosstalk stores for that
// cgroup must say exactly N ENOENT. Needs root, bpftrace, cgroup v2 and a C compiler; skips
// with the reason otherwise. Hold /tmp/crosstalk-system.lock (it attaches to every syscall).
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, rmdir } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containerOf } from '../src/analysis/containers.ts';
import { summarizeLatency } from '../src/analysis/syscall-latency.ts';
import { cgroupHierarchies } from '../src/collect/cgroup-fs.ts';
import {
  cgroupPathsById,
  latencyFileOf,
  SyscallLatencyTracer,
  syscallLatencyUnavailable,
} from '../src/collect/syscall-latency.ts';
import { syscallNames } from '../src/collect/syscall-rates.ts';
import { parseSyscallLatencyFile } from '../src/store/syscall-latency-file.ts';
import { compileFixture } from './record-cgroups.ts';

const N = 5000;
const h = await cgroupHierarchies();
const missing = await syscallLatencyUnavailable(h);
const hasCc = spawnSync('cc', ['--version']).status === 0;
const skip = missing.reason !== '' ? missing.reason : hasCc ? '' : 'needs a C compiler (cc)';
if (skip) console.warn(`syscall-latency-e2e skipped: ${skip}`);

describe.skipIf(skip !== '')('eBPF syscall latency and errors per cgroup', () => {
  let dir = '';
  // A cgroup in the v2 hierarchy only, as the lab's containers are (no v1 controller moves).
  const path = `/crosstalk-test-enoent-${process.pid}`;
  const cgdir = h.v2 ? join(h.v2.mountPoint, path) : '';
  afterAll(async () => {
    if (cgdir) await rmdir(cgdir).catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`counts exactly ${N} ENOENT from a workload that makes ${N} failed stats`, async () => {
    dir = await mkdtemp(join(tmpdir(), 'crosstalk-enoent-'));
    const bin = compileFixture('enoent-stats', dir);
    await mkdir(cgdir);
    // No budget: on a busy host the default stops the tracer after its first second, and this
    // test is about counting every call of the workload.
    const tracer = new SyscallLatencyTracer({
      bpftrace: missing.bpftrace!,
      cpus: availableParallelism(),
      maxCallsPerCpuSecond: 1e12,
    });
    await tracer.attached(30_000);
    // The shell moves itself into the cgroup, then becomes the workload.
    const child = spawn(
      'sh',
      ['-c', `echo $$ > '${cgdir}/cgroup.procs' && exec "$@"`, 'sh', bin, String(N), dir],
      {
        stdio: 'ignore',
      },
    );
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const c = { path };
    tracer.stop();
    const r = await tracer.exited;
    const [names, paths] = await Promise.all([syscallNames(), cgroupPathsById(h)]);
    const written = latencyFileOf(
      r,
      tracer.maxCallsPerCpuSecond,
      names.nameOf,
      (id) => paths.get(id) ?? null,
    );
    // Through the reader, as analysis gets it.
    const file = parseSyscallLatencyFile(JSON.stringify(written), 'syscall-latency.json');
    expect(file.status).toBe('recorded');
    expect(file.budget.exhausted).toBe(false);
    const mine = file.cgroups.find((g) => g.path === c.path);
    const seen = file.cgroups.map((g) => `${g.id}=${g.path}:${g.syscalls.reduce((a, s) => a + s.calls, 0)}`);
    const ino = [...paths].find(([, p]) => p === c.path)?.[0];
    expect(mine, `no counts for ${c.path} (inode ${ino}); counted: ${seen.join(' ')}`).toBeDefined();
    const stat = mine!.syscalls.find((s) => s.name === 'newfstatat');
    expect(stat?.errors).toEqual([{ errno: 2, count: N }]);
    // The dynamic loader may add a few successful fstat-like calls of its own.
    expect(stat!.calls).toBeGreaterThanOrEqual(N);
    expect(stat!.calls).toBeLessThan(N + 50);
    expect(stat!.histogram.reduce((a, [, n]) => a + n, 0)).toBe(stat!.calls);
    const summary = summarizeLatency(file, containerOf);
    const row = summary.containers
      .flatMap((x) => x.syscalls)
      .find((s) => s.syscall === 'newfstatat' && s.errors[0]?.count === N);
    expect(row?.errors[0].name).toBe('ENOENT');
    expect(row!.p50Us).toBeGreaterThan(0);
    expect(row!.p99Us).toBeGreaterThanOrEqual(row!.p50Us);
  }, 60_000);
});
