/**
 * Off-CPU time from context switches: pairing switch-outs with switch-ins (synthetic tables), and
 * a real recording of cpu-clock plus sched:sched_switch in which a process in its own cgroup
 * sleeps in a loop: its blocked time lands in its container, under clock_nanosleep. And the
 * default of `record`: switches are left out on a host that switches so often that recording
 * them would cost over 5% CPU (bench/pingpong.c makes one), unless --off-cpu asks for them.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { offCpuProfiles } from '../src/analysis/off-cpu.ts';
import { decideOffCpu, MAX_OFF_CPU_COST, offCpuCost } from '../src/collect/off-cpu-policy.ts';
import { profileEventArgs } from '../src/collect/recording-session.ts';
import { importProfile } from '../src/formats/input.ts';
import { ProfileBuilder } from '../src/model/builder.ts';
import { FrameKind, SwitchState } from '../src/model/profile.ts';
import { METADATA_FILE, parseRunMetadata } from '../src/store/metadata.ts';
import { TestCgroups } from './record-cgroups.ts';

function switchesProfile(
  rows: [timeMs: number, prevTid: number, state: number, nextTid: number, frame: string][],
) {
  const b = new ProfileBuilder('test', 'perf-data');
  b.meta.hasCgroups = true;
  const cg = b.strings.intern('/app');
  const comm = b.strings.intern('app');
  for (const [t, prev, state, next, frame] of rows) {
    const f = b.frame(frame, '[kernel.kallsyms]', FrameKind.kernel, false, null);
    b.addSwitch({
      stack: b.stack(-1, f),
      timeNs: t * 1e6,
      cpu: 0,
      prevTid: prev,
      prevPid: prev,
      comm,
      cgroup: cg,
      prevState: state,
      nextTid: next,
    });
  }
  return b.finish();
}

describe('offCpuProfiles', () => {
  it("pairs each switch-out with the same task's next switch-in, split by state", () => {
    const p = switchesProfile([
      [0, 10, SwitchState.sleeping, 0, 'wait_a'],
      [5, 0, SwitchState.runnable, 10, 'idle'],
      [6, 11, SwitchState.runnable, 12, 'preempted'],
      [9, 12, SwitchState.uninterruptible, 11, 'io_wait'],
      [20, 0, SwitchState.runnable, 12, 'idle'],
    ]);
    const o = offCpuProfiles(p)!;
    expect(o.switches).toBe(5);
    const blocked = Array.from(o.blocked.samples.weight);
    expect(blocked.sort((a, b) => a - b)).toEqual([5e6, 11e6]);
    expect(Array.from(o.runnable.samples.weight)).toEqual([3e6]);
    expect(o.windowSeconds).toBeCloseTo(0.02);
  });

  it('ignores exiting tasks and counts a task still asleep at the end until the end', () => {
    const p = switchesProfile([
      [0, 20, SwitchState.other, 0, 'do_task_dead'],
      [1, 21, SwitchState.sleeping, 0, 'futex_wait'],
      [10, 0, SwitchState.runnable, 22, 'idle'],
    ]);
    const o = offCpuProfiles(p)!;
    expect(Array.from(o.blocked.samples.weight)).toEqual([9e6]);
  });

  it('is null without switches', () => {
    expect(offCpuProfiles(new ProfileBuilder('x', 'perf-script').finish())).toBeNull();
  });
});

const CLI = new URL('../dist/crosstalk.js', import.meta.url).pathname;

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (perf record -a, cgroup creation)';
  if (spawnSync('perf', ['--version']).status !== 0) return 'perf is not installed';
  return null;
}
const reason = skipReason();

describe.skipIf(reason !== null)(
  `off-CPU from a real recording${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-offcpu-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('a sleeping process is blocked in its container, under clock_nanosleep', async () => {
      const cgroups = await TestCgroups.create('crosstalk-offcpu');
      if (!cgroups) throw new Error('no writable cgroup v2 hierarchy');
      const data = join(dir, 'switches.data');
      let sleeper = '';
      try {
        sleeper = (await cgroups.start('sleeper', ['sh', '-c', 'while :; do sleep 0.01; done'])).path;
        execFileSync(
          'perf',
          [
            'record',
            '-q',
            '-a',
            '--all-cgroups',
            ...profileEventArgs(99, true, ['-g']),
            '-o',
            data,
            '--',
            'sleep',
            '2',
          ],
          { stdio: 'ignore' },
        );
      } finally {
        await cgroups.cleanup();
      }
      const p = await importProfile(data);
      expect(p.meta.event).toMatch(/^cpu-clock/);
      expect(p.switches?.length ?? 0).toBeGreaterThan(100);
      const a = analyzeProfile(p);
      expect(a.offCpu).not.toBeNull();
      const mine = a.offCpu!.blocked.filter(
        (c) => c.id === a.containers.find((x) => x.cgroups.includes(sleeper))?.identity.id,
      );
      expect(mine).toHaveLength(1);
      expect(mine[0].seconds).toBeGreaterThan(1);
      expect(mine[0].syscalls.map((s) => s.name)).toContain('clock_nanosleep');
    });
  },
);

describe.skipIf(reason !== null || spawnSync('cc', ['--version']).status !== 0)(
  `the off-CPU default on a switch-heavy host${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-offcpu-default-'));
    const store = join(dir, 'store');
    const pingpong = join(dir, 'pingpong');
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** `crosstalk record` for 1 s while bench/pingpong.c switches ~10^5 times a second on CPU 0. */
    async function recordUnderPingpong(flags: string[]) {
      const load = spawn(pingpong, ['8'], { stdio: 'ignore' });
      try {
        await new Promise((r) => setTimeout(r, 300));
        const r = spawnSync(
          process.execPath,
          [CLI, 'record', '--duration', '1', '--no-syscall-rates', '--store', store, '--json', ...flags],
          { encoding: 'utf8', timeout: 60_000 },
        );
        expect(r.status, r.stderr).toBe(0);
        const { dir: runDir } = JSON.parse(r.stdout) as { dir: string };
        const m = parseRunMetadata(readFileSync(join(runDir, METADATA_FILE), 'utf8'), runDir);
        return { stderr: r.stderr, offCpu: m.recording!.options.offCpu, notes: m.recording!.notes };
      } finally {
        load.kill('SIGKILL');
      }
    }

    it('measures the switch rate for real and leaves switches off where they would cost over 5%', async () => {
      execFileSync('cc', ['-O2', '-o', pingpong, new URL('../bench/pingpong.c', import.meta.url).pathname]);
      const load = spawn(pingpong, ['3'], { stdio: 'ignore' });
      let d: Awaited<ReturnType<typeof decideOffCpu>>;
      try {
        await new Promise((r) => setTimeout(r, 300));
        d = await decideOffCpu('auto');
      } finally {
        load.kill('SIGKILL');
      }
      // Two processes bouncing a byte on one CPU switch about 10^5 times a second or more.
      expect(d.switchesPerSecond).toBeGreaterThan(50_000);
      expect(d.on).toBe(offCpuCost(d.switchesPerSecond!, d.cpus) <= MAX_OFF_CPU_COST);
      const rec = await recordUnderPingpong([]);
      if (d.cpus <= 4) {
        // At 50,000 switches/s on at most 4 CPUs the estimate is over 5%.
        expect(rec.offCpu).toBe(false);
        expect(rec.notes.join('\n')).toMatch(/off-CPU time not recorded: this host switches context/);
        expect(rec.stderr).toMatch(/note: off-CPU time not recorded/);
      } else {
        expect(rec.offCpu).toBe(!rec.notes.some((n) => n.startsWith('off-CPU time not recorded')));
      }
    });

    it('--off-cpu records the switches anyway', async () => {
      const rec = await recordUnderPingpong(['--off-cpu']);
      expect(rec.offCpu).toBe(true);
      expect(rec.notes.join('\n')).not.toMatch(/off-CPU time not recorded/);
    });
  },
);
