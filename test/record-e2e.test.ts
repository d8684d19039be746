// End to end on this machine: two "containers" (cgroups made by the test), one CPU-bound and one
// syscall-heavy, recorded for 3 s into a temporary store; the stored run is imported and the
// syscall-heavy process's samples must be in its own cgroup, with the higher syscall rate.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../src/collect/perf-tool.ts';
import { type RunInfo, recordRun } from '../src/collect/recorder.ts';
import type { RunCounters } from '../src/collect/run-facts.ts';
import { importPerfData } from '../src/formats/perf-data/import.ts';
import { FrameKind, type Profile } from '../src/model/profile.ts';
import { COUNTERS_FILE, PERF_DATA_FILE } from '../src/store/metadata.ts';
import { RunStore } from '../src/store/store.ts';
import { CPU_BOUND, SYSCALL_HEAVY, TestCgroups } from './record-cgroups.ts';

const perf = await findOnPath('perf');
const cgroups = perf ? await TestCgroups.create('crosstalk-e2e') : null;
const skip = !cgroups ? 'needs root, perf and a cgroup v2 hierarchy' : '';

let storeDir: string;
let info: RunInfo;
let counters: RunCounters;
let profile: Profile;

beforeAll(async () => {
  if (!cgroups) return;
  storeDir = await mkdtemp(join(tmpdir(), 'crosstalk-e2e-'));
  // A CFS quota of 20 ms per 100 ms makes the CPU-bound container throttle, visibly in cpu.stat.
  await cgroups.start('cpu', CPU_BOUND, 20_000);
  await cgroups.start('sys', SYSCALL_HEAVY);
  info = await recordRun({ store: new RunStore(storeDir), durationSeconds: 3, label: 'e2e' });
  counters = JSON.parse(await readFile(join(info.dir, COUNTERS_FILE), 'utf8'));
  profile = await importPerfData(join(info.dir, PERF_DATA_FILE));
}, 90_000);

afterAll(async () => {
  await cgroups?.cleanup();
  if (storeDir) await rm(storeDir, { recursive: true, force: true });
});

/** Per pid: the cgroups its samples were attributed to; per cgroup: samples and kernel samples. */
function tally(p: Profile) {
  const cgroupsOfPid = new Map<number, Map<string, number>>();
  const kernel = new Map<string, number>();
  const total = new Map<string, number>();
  const s = p.samples;
  for (let i = 0; i < s.length; i++) {
    const cgroup = p.strings[s.cgroup[i]];
    const byCgroup = cgroupsOfPid.get(s.pid[i]) ?? new Map<string, number>();
    byCgroup.set(cgroup, (byCgroup.get(cgroup) ?? 0) + 1);
    cgroupsOfPid.set(s.pid[i], byCgroup);
    total.set(cgroup, (total.get(cgroup) ?? 0) + 1);
    if (hasKernelFrame(p, s.stack[i])) kernel.set(cgroup, (kernel.get(cgroup) ?? 0) + 1);
  }
  return { cgroupsOfPid, kernel, total };
}

function hasKernelFrame(p: Profile, stack: number): boolean {
  for (let n = stack; n >= 0; n = p.stacks.prefix[n]) {
    if (p.frames.kind[p.stacks.frame[n]] === FrameKind.kernel) return true;
  }
  return false;
}

describe.skipIf(skip)('crosstalk record on this machine', () => {
  const path = (name: string) => `${cgroups!.root}/${name}`;

  it('keeps a complete, owner-only run with the label', async () => {
    expect(info.status).toBe('complete');
    expect(info.interrupted).toBe(false);
    expect(info.metadata.labels).toEqual(['e2e']);
    expect(info.metadata.recording?.window.actualSeconds).toBeGreaterThanOrEqual(2.9);
    expect((await stat(info.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(info.dir, PERF_DATA_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(join(info.dir, COUNTERS_FILE))).mode & 0o777).toBe(0o600);
    expect(info.metadata.recording?.host.cgroups.v2MountPoint).toBe(cgroups!.v2Mount);
  });

  it("attributes the syscall-heavy process's samples, mostly kernel time, to its own cgroup", () => {
    const { cgroupsOfPid, kernel, total } = tally(profile);
    const [cpu, sys] = cgroups!.containers;
    const sysSamples = cgroupsOfPid.get(sys.process.pid!)!;
    expect([...sysSamples.keys()]).toEqual([path('sys')]);
    expect(sysSamples.get(path('sys'))).toBeGreaterThan(50);
    expect((kernel.get(path('sys')) ?? 0) / total.get(path('sys'))!).toBeGreaterThan(0.5);
    const cpuSamples = cgroupsOfPid.get(cpu.process.pid!)!;
    expect([...cpuSamples.keys()]).toEqual([path('cpu')]);
    expect(cpuSamples.get(path('cpu'))).toBeGreaterThan(10);
  });

  it('measures the syscall-heavy cgroup at the higher syscall rate, with read and write on top', () => {
    const rates = counters.syscallRates!;
    expect(rates.period).toBe(101);
    const rate = (name: string) => rates.cgroups.find((c) => c.cgroup === path(name));
    const sys = rate('sys')!;
    expect(sys.perSecond).toBeGreaterThan(100_000);
    expect(sys.perSecond).toBeGreaterThan(100 * (rate('cpu')?.perSecond ?? 0));
    expect(
      sys.top
        .slice(0, 2)
        .map((t) => t.name)
        .sort(),
    ).toEqual(['read', 'write']);
  });

  it('maps both cgroups to their processes before and after', () => {
    for (const map of [counters.cgroupsBefore, counters.cgroupsAfter!]) {
      const entry = map.cgroups.find((c) => c.path === path('sys'))!;
      expect(entry.processes.map((p) => p.comm)).toEqual(['dd']);
      expect(entry.id).toBeGreaterThan(1);
      expect(map.cgroups.find((c) => c.path === path('cpu'))?.processes[0].comm).toBe('sh');
    }
  });

  it('snapshots kernel state, per-cgroup pressure and v1 cpu throttling before and after', () => {
    const before = counters.kernelBefore;
    const after = counters.kernelAfter!;
    expect(before.dentryState?.nrDentry).toBeGreaterThan(0);
    expect(before.dentryState?.nrNegative).not.toBeNull();
    expect(before.slabinfo?.some((r) => r.name === 'dentry')).toBe(true);
    expect(before.vmstat?.pgfault).toBeGreaterThan(0);
    expect(before.meminfo?.MemTotal).toBeGreaterThan(0);
    expect(before.pressure.cpu?.some).not.toBeNull();
    expect(after.uptimeSeconds! - before.uptimeSeconds!).toBeGreaterThan(2.9);
    const v2 = after.cgroups.find((c) => c.hierarchy === 'v2' && c.path === path('sys'))!;
    expect(v2.pressure.cpu?.some).not.toBeNull();
    expect(v2.cpuStat?.usage_usec).toBeGreaterThan(0);
    if (cgroups!.v1CpuMount) {
      const throttled = (s: typeof before) =>
        s.cgroups.find((c) => c.hierarchy === 'v1' && c.path === path('cpu'))?.cpuStat?.nr_throttled ?? 0;
      expect(throttled(after)).toBeGreaterThan(throttled(before));
    }
  });
});
