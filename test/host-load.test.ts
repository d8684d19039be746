/**
 * The demo's host-load probe (collect/host-load.ts) and its line (cli/host-load-line.ts): parsing
 * of cpu.stat and /proc/self/stat; the line's threshold and escaping; and for real, a busy loop in
 * its own cgroup is named with about a CPU, while a sleeping process in another is not.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { hostLoadLine } from '../src/cli/host-load-line.ts';
import { type HostLoad, probeHostLoad, selfTicksOf, usageUsecOf } from '../src/collect/host-load.ts';
import { CPU_BOUND, TestCgroups } from './record-cgroups.ts';

describe('parsing', () => {
  it('cpu.stat usage_usec (cgroup v2)', () => {
    const text = 'usage_usec 19072739112\nuser_usec 12000000000\nsystem_usec 7072739112\nnr_periods 0\n';
    expect(usageUsecOf(text)).toBe(19072739112);
    expect(usageUsecOf('nr_periods 0\n')).toBeNull();
  });

  it('utime + stime of /proc/self/stat, with a comm that holds spaces and parentheses', () => {
    const line = '4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 1 0 100 0 0';
    expect(selfTicksOf(line)).toBe(42);
    expect(Number.isFinite(selfTicksOf(readFileSync('/proc/self/stat', 'utf8')))).toBe(true);
  });
});

describe('the line', () => {
  const load = (busyCpus: number, cgroups: HostLoad['cgroups']): HostLoad => ({
    seconds: 1,
    hostCpus: 2,
    busyCpus,
    cgroups,
    note: null,
  });

  it('is said only above 5% of the host', () => {
    expect(hostLoadLine(load(0.08, [{ path: '/system.slice/x.scope', cpus: 0.08 }]))).toBeNull();
    const line = hostLoadLine(
      load(0.76, [
        { path: '/system.slice/docker-abc.scope', cpus: 0.5 },
        { path: '/', cpus: 0.26 },
      ]),
    );
    expect(line).toBe(
      "host load before the demo: 38% of the host's CPU (0.76 of 2 CPUs) was busy with other work over 1.0 s, most in /system.slice/docker-abc.scope 25%, processes outside any cgroup 13%; the demo's latencies are measured beside it",
    );
  });

  it('escapes cgroup names (a local user names them)', () => {
    const line = hostLoadLine(load(1, [{ path: '/evil\u001b[2J\u202e.scope', cpus: 1 }]))!;
    expect(line).not.toMatch(/[\u001b\u202e]/);
    expect(line).toMatch(/evil.*\.scope 50%/);
  });
});

const reason = process.getuid?.() !== 0 ? 'needs root (cgroup creation)' : null;

describe.skipIf(reason !== null)(`probing for real${reason ? ` (skipped: ${reason})` : ''}`, async () => {
  const cgroups = await TestCgroups.create('crosstalk-hostload');
  afterAll(async () => cgroups?.cleanup());

  it('a busy loop in its own cgroup is named with about a CPU; a sleeper is not', async () => {
    if (!cgroups) throw new Error('no writable cgroup v2 hierarchy');
    const busy = await cgroups.start('busy', CPU_BOUND);
    const idle = await cgroups.start('idle', ['sleep', '30']);
    const l = await probeHostLoad({ seconds: 1, top: 50 });
    expect(l.seconds).toBeGreaterThan(0.9);
    const mine = l.cgroups.find((c) => c.path === busy.path);
    // One busy loop on a 2-vCPU host shared with other work: at least half a CPU.
    expect(mine?.cpus ?? 0).toBeGreaterThan(0.5);
    expect(mine?.cpus ?? 0).toBeLessThan(1.1);
    expect(l.busyCpus).toBeGreaterThanOrEqual((mine?.cpus ?? 0) - 0.05);
    expect(l.cgroups.find((c) => c.path === idle.path)?.cpus ?? 0).toBeLessThan(0.05);
    const line = hostLoadLine(l);
    expect(line).toContain(busy.path);
    expect(line).not.toContain(idle.path);

    // Without the loop: its cgroup is gone from the figures.
    busy.process.kill('SIGKILL');
    await new Promise((r) => busy.process.once('exit', r));
    const after = await probeHostLoad({ seconds: 1, top: 50 });
    expect(after.cgroups.find((c) => c.path === busy.path)?.cpus ?? 0).toBeLessThan(0.05);
    expect(hostLoadLine(after) ?? '').not.toContain(busy.path);
  }, 30_000);
});
