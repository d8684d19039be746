/**
 * Off-CPU time from context switches: pairing switch-outs with switch-ins (synthetic tables), and
 * a real recording of cpu-clock plus sched:sched_switch in which a process in its own cgroup
 * sleeps in a loop: its blocked time lands in its container, under clock_nanosleep. The same
 * recording as `perf script` text, parsed in one part or three, gives the same off-CPU time; as
 * two hosts, each host's switches are paired on their own and keep their host. And the
 * default of `record`: switches are left out on a host that switches so often that recording
 * them would cost over 5% CPU (bench/pingpong.c makes one), unless --off-cpu asks for them.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { offCpuProfiles } from '../src/analysis/off-cpu.ts';
import { decideOffCpu, MAX_OFF_CPU_COST, offCpuCost } from '../src/collect/off-cpu-policy.ts';
import { profileEventArgs } from '../src/collect/recording-session.ts';
import { importProfile } from '../src/formats/input.ts';
import { cutPoints, parsePerfScriptParallel } from '../src/formats/parallel.ts';
import { ProfileBuilder } from '../src/model/builder.ts';
import { mergeHosts, selectHost } from '../src/model/hosts.ts';
import { FrameKind, type Profile, SwitchState } from '../src/model/profile.ts';
import { METADATA_FILE, parseRunMetadata } from '../src/store/metadata.ts';
import { TestCgroups } from './record-cgroups.ts';
import { corpusFile } from './support/corpus.mjs';

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

  it('counts a task that switches out twice with no switch-in between, and says so past 2%', () => {
    const rows: Parameters<typeof switchesProfile>[0] = [];
    // 49 complete sleeps of task 10, then task 11 out twice: its switch-in was not in the input.
    for (let k = 0; k < 49; k++) {
      rows.push(
        [2 * k, 10, SwitchState.sleeping, 0, 'wait_a'],
        [2 * k + 1, 0, SwitchState.runnable, 10, 'idle'],
      );
    }
    const complete = switchesProfile(rows);
    const whole = offCpuProfiles(complete)!;
    expect(whole.switchOuts).toBe(49);
    expect(whole.unmatchedSwitchOuts).toBe(0);
    expect(analyzeProfile(complete).limitations.map((l) => l.code)).not.toContain('switches-incomplete');

    rows.push([200, 11, SwitchState.sleeping, 0, 'wait_b'], [210, 11, SwitchState.sleeping, 0, 'wait_b']);
    const missing = switchesProfile(rows);
    const o = offCpuProfiles(missing)!;
    expect(o.switchOuts).toBe(51);
    expect(o.unmatchedSwitchOuts).toBe(1);
    // Task 11's wait from 200 ms is dropped, not stretched to its next switch-out: only task 10's 1 ms waits.
    expect(Array.from(o.blocked.samples.weight).every((w) => w === 1e6)).toBe(true);
    const a = analyzeProfile(missing);
    expect(a.offCpu).toMatchObject({ switchOuts: 51, unmatchedSwitchOuts: 1 });
    // 1 of 51 is under 2%: no limitation yet; one more such task crosses it.
    expect(a.limitations.map((l) => l.code)).not.toContain('switches-incomplete');
    rows.push([220, 12, SwitchState.sleeping, 0, 'wait_c'], [230, 12, SwitchState.sleeping, 0, 'wait_c']);
    const limit = analyzeProfile(switchesProfile(rows)).limitations.find(
      (l) => l.code === 'switches-incomplete',
    );
    expect(limit?.message).toMatch(/^4% of context switch-outs \(2 of 53\) are followed by/);
  });

  it('switches sampled with -F (the corpus mixed-events text) are kept beside cpu-clock and flagged', async () => {
    const p = await importProfile(corpusFile('host-samples/mixed-events.perf.txt.gz'));
    expect(p.meta.event).toBe('cpu-clock');
    expect(p.samples.length).toBe(3991);
    expect(p.switches?.length).toBe(174);
    expect(p.meta.warnings.join('\n')).toMatch(/2 events in the input \(cpu-clock, page-faults\)/);
    const a = analyzeProfile(p);
    expect(a.offCpu!.unmatchedSwitchOuts / a.offCpu!.switchOuts).toBeGreaterThan(0.3);
    expect(a.limitations.map((l) => l.code)).toContain('switches-incomplete');
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

    /** A 2 s system-wide recording with switches while a shell in its own cgroup sleeps in a loop. */
    let recorded: Promise<{ data: string; sleeper: string }> | null = null;
    const recording = () => {
      recorded ??= recordSleeper();
      return recorded;
    };
    async function recordSleeper() {
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
      return { data, sleeper };
    }

    /** The recording as plain `perf script` text, the way a user would save it. */
    function perfScriptText(data: string): string {
      const text = join(dir, 'switches.perf.txt');
      writeFileSync(text, execFileSync('perf', ['script', '-i', data], { maxBuffer: 1 << 30 }));
      return text;
    }

    const totalNs = (p: Profile) => p.samples.weight.reduce((s, w) => s + w, 0);

    /** Seconds of the samples whose stack has a frame named like `frame`. */
    function secondsUnder(p: Profile, frame: RegExp): number {
      const hit = new Map<number, boolean>();
      const under = (stack: number): boolean => {
        let h = hit.get(stack);
        if (h === undefined) {
          h = false;
          for (let s = stack; s !== -1; s = p.stacks.prefix[s])
            if (frame.test(p.strings[p.frames.name[p.stacks.frame[s]]])) h = true;
          hit.set(stack, h);
        }
        return h;
      };
      let ns = 0;
      for (let i = 0; i < p.samples.length; i++) if (under(p.samples.stack[i])) ns += p.samples.weight[i];
      return ns / 1e9;
    }

    it('a sleeping process is blocked in its container, under clock_nanosleep', async () => {
      const { data, sleeper } = await recording();
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

    it('perf script text of the recording, whole or in three parts, gives the same off-CPU time', async () => {
      const { data } = await recording();
      const fromData = offCpuProfiles(await importProfile(data))!;
      const text = perfScriptText(data);
      const p = await importProfile(text);
      // The switches are kept beside cpu-clock, not reported as a second event to choose from.
      expect(p.meta.event).toMatch(/^cpu-clock/);
      expect(p.meta.eventChosenBy).toBe('only');
      expect(p.meta.warnings.join('\n')).not.toMatch(/events in the input/);
      expect(p.switches?.length).toBe(fromData.switches);
      const fromText = offCpuProfiles(p)!;
      // Plain perf script prints microseconds, the import nanoseconds: each interval may differ by 1 µs.
      for (const kind of ['blocked', 'runnable'] as const) {
        const slack = 2_000 * fromData[kind].samples.length + 1;
        expect(Math.abs(totalNs(fromText[kind]) - totalNs(fromData[kind]))).toBeLessThanOrEqual(slack);
        expect(fromText[kind].samples.length).toBe(fromData[kind].samples.length);
      }
      // Text has no cgroups: the sleeper's time is the host's, still under clock_nanosleep. Read
      // from the blocked profile's stacks: the analysis lists a container's top three blocked
      // syscalls, and on a busy host (a CI run) the host's futex and epoll waits outrank it.
      expect(analyzeProfile(p).offCpu).not.toBeNull();
      expect(secondsUnder(fromText.blocked, /sys_clock_nanosleep$/)).toBeGreaterThan(1);

      const size = statSync(text).size;
      const points = await cutPoints(text, size, 3);
      expect(points).toHaveLength(4);
      const parts = await parsePerfScriptParallel(text, text, size, points, {
        switchEvent: 'sched:sched_switch',
      });
      expect(parts.switches?.length).toBe(p.switches?.length);
      expect(parts.meta.eventChosenBy).toBe('only');
      const fromParts = offCpuProfiles(parts)!;
      expect(totalNs(fromParts.blocked)).toBe(totalNs(fromText.blocked));
      expect(totalNs(fromParts.runnable)).toBe(totalNs(fromText.runnable));

      // collapse keeps inferno's choice: the first event of the text, whichever it is.
      const collapsed = await importProfile(text, { switches: false });
      expect(collapsed.switches).toBeUndefined();
    });

    it("two hosts: each host's switches are paired on their own and stay that host's", async () => {
      const { data, sleeper } = await recording();
      const one = await importProfile(data);
      const single = analyzeProfile(one).offCpu!;
      const merged = mergeHosts(
        [
          { host: 'a', profile: one },
          { host: 'b', profile: await importProfile(data) },
        ],
        'a + b',
      );
      expect(merged.switches?.length).toBe(2 * one.switches!.length);
      expect(selectHost(merged, 'b').switches?.length).toBe(one.switches!.length);
      // The same task ids and times on both hosts: pairing across hosts would halve the intervals.
      const both = offCpuProfiles(merged)!;
      expect(totalNs(both.blocked)).toBe(2 * totalNs(offCpuProfiles(one)!.blocked));
      expect([...both.windowByHost.keys()].sort()).toEqual(['a', 'b']);
      const a = analyzeProfile(merged).offCpu!;
      const sleeperId = analyzeProfile(one).containers.find((x) => x.cgroups.includes(sleeper))?.identity.id;
      const want = single.blocked.find((c) => c.id === sleeperId)!;
      for (const host of ['a', 'b']) {
        const got = a.blocked.find((c) => c.id === sleeperId && c.host === host);
        expect(got?.seconds).toBeCloseTo(want.seconds, 9);
        expect(got?.perSecond).toBeCloseTo(want.perSecond, 9);
      }
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
        return { stderr: r.stderr, offCpu: m.recording!.options!.offCpu, notes: m.recording!.notes! };
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
