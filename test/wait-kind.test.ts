/**
 * Off-CPU waits split into involuntary and voluntary: the rule on named cases, and a real
 * recording (perf script text with sched:sched_switch call chains) of a shell sleeping in a loop
 * beside dd writing with O_DSYNC: dd's uninterruptible waits under write() are involuntary; the
 * sleeps, the shell's wait4 and its vfork are voluntary; the terminal leads with the involuntary.
 */
import { describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { waitKindOf } from '../src/analysis/categories.ts';
import { type WaitContext, waitReasonOf } from '../src/analysis/wait-kind.ts';
import { importProfile } from '../src/formats/input.ts';
import { SwitchState } from '../src/model/profile.ts';
import { renderAnalysis } from '../src/report/terminal.ts';

const S = SwitchState.sleeping;
const D = SwitchState.uninterruptible;
const R = SwitchState.runnable;
const w = (
  state: number,
  syscall: string | null,
  kernelPath: string[],
  userFrames: string[] = [],
): WaitContext => ({
  state,
  syscall,
  kernelPath,
  userFrames,
});
const futexPath = ['__x64_sys_futex', 'do_futex', 'futex_wait', 'futex_wait_queue', 'schedule'];

describe('waitReasonOf', () => {
  it('task state decides first: runnable is preemption, uninterruptible is I/O or a kernel lock', () => {
    expect(waitReasonOf(w(R, 'read', ['__x64_sys_read']))).toBe('preempted');
    expect(waitReasonOf(w(D, 'fsync', ['__x64_sys_fsync', 'jbd2_log_wait_commit']))).toBe(
      'io-or-kernel-lock',
    );
    // Even a D-state wait in a "voluntary" syscall is imposed (the kernel blocked it).
    expect(waitReasonOf(w(D, 'epoll_wait', ['__x64_sys_epoll_wait', 'mutex_lock']))).toBe(
      'io-or-kernel-lock',
    );
  });

  it("vfork's wait for the child to exec is D but voluntary", () => {
    const r = waitReasonOf(w(D, 'vfork', ['__x64_sys_vfork', 'kernel_clone', 'wait_for_completion_state']));
    expect(r).toBe('child');
    expect(waitKindOf[r]).toBe('voluntary');
  });

  it('futex: a lock function on the user stack makes it a lock wait, else a condition wait', () => {
    expect(waitReasonOf(w(S, 'futex', futexPath, ['__lll_lock_wait', 'worker']))).toBe('lock');
    expect(waitReasonOf(w(S, 'futex', futexPath, ['___pthread_mutex_lock', 'handle']))).toBe('lock');
    expect(waitReasonOf(w(S, 'futex', futexPath, ['sync.(*Mutex).lockSlow', 'main.f']))).toBe('lock');
    expect(waitReasonOf(w(S, 'futex', futexPath, ['___pthread_cond_wait', 'pool_worker']))).toBe('condition');
    expect(waitReasonOf(w(S, 'futex', futexPath, []))).toBe('condition');
  });

  it('file locks, semaphores and interruptible kernel mutexes are lock waits', () => {
    expect(waitReasonOf(w(S, 'flock', ['__x64_sys_flock', 'locks_lock_inode_wait']))).toBe('lock');
    expect(waitReasonOf(w(S, 'fcntl', ['__x64_sys_fcntl', 'do_lock_file_wait']))).toBe('lock');
    expect(waitReasonOf(w(S, 'semtimedop', ['__x64_sys_semtimedop', 'do_semtimedop']))).toBe('lock');
    expect(waitReasonOf(w(S, 'write', ['__x64_sys_write', 'pipe_write']))).toBe('full-buffer');
  });

  it('sleeps, event loops, children, signals, accepts and idle reads are voluntary', () => {
    const cases: [WaitContext, string][] = [
      [w(S, 'clock_nanosleep', ['__x64_sys_clock_nanosleep', 'hrtimer_nanosleep']), 'sleep'],
      [w(S, 'epoll_wait', ['__x64_sys_epoll_wait', 'ep_poll']), 'events'],
      [w(S, 'ppoll', ['__x64_sys_ppoll', 'do_sys_poll']), 'events'],
      [w(S, 'wait4', ['__do_sys_wait4', 'do_wait']), 'child'],
      [w(S, 'rt_sigtimedwait', ['__x64_sys_rt_sigtimedwait']), 'signal'],
      [w(S, 'accept4', ['__x64_sys_accept4', 'inet_csk_accept']), 'accept'],
      [w(S, 'read', ['__x64_sys_read', 'vfs_read', 'pipe_read']), 'idle-read'],
      [w(S, 'recvfrom', ['__x64_sys_recvfrom', 'tcp_recvmsg', 'sk_wait_data']), 'idle-read'],
      [w(S, null, ['kthread', 'worker_thread']), 'idle-kernel-thread'],
      [w(S, 'read', ['__x64_sys_read', 'some_driver_read']), 'other-sleep'],
      [w(S, null, []), 'other-sleep'],
    ];
    for (const [ctx, reason] of cases) {
      expect(waitReasonOf(ctx), JSON.stringify(ctx)).toBe(reason);
      expect(waitKindOf[waitReasonOf(ctx)]).toBe('voluntary');
    }
  });
});

describe('a real recording: sleeps beside O_DSYNC writes', async () => {
  const p = await importProfile(
    new URL('./fixtures/offcpu-sleep-dsync.perf.txt.gz', import.meta.url).pathname,
  );
  const a = analyzeProfile(p);
  const o = a.offCpu!;

  it('the O_DSYNC writes are involuntary, the sleeps and waits for children voluntary', () => {
    expect(p.switches?.length).toBe(1350);
    expect(o.involuntary[0].syscalls.map((s) => s.name)).toEqual(['write']);
    expect(o.involuntary[0].waitPaths[0].frames.join(' ')).toMatch(
      /ext4_sync_file|wait_for_completion_io|io_schedule/,
    );
    const voluntary = o.voluntary[0].syscalls.map((s) => s.name);
    expect(voluntary).toEqual(expect.arrayContaining(['wait4', 'clock_nanosleep', 'vfork']));
    expect(voluntary).not.toContain('write');
    const reason = (r: string) => o.waits.reasons.find((x) => x.reason === r)?.seconds ?? 0;
    expect(reason('io-or-kernel-lock')).toBeGreaterThan(0.01);
    expect(reason('sleep')).toBeGreaterThan(0.1);
    expect(reason('child')).toBeGreaterThan(0.1);
    // The split covers all blocked time plus the runnable time.
    const blocked = o.blocked.reduce((s, c) => s + c.seconds, 0);
    const runnable = o.runnable.reduce((s, c) => s + c.seconds, 0);
    expect(o.waits.involuntarySeconds + o.waits.voluntarySeconds).toBeCloseTo(blocked + runnable, 6);
    expect(o.waits.preemptedSeconds).toBeCloseTo(runnable, 6);
    expect(o.blocked[0].involuntarySeconds! + o.blocked[0].voluntarySeconds!).toBeCloseTo(
      o.blocked[0].seconds,
      6,
    );
  });

  it('the terminal leads with involuntary time, and says the split is a heuristic', () => {
    const text = renderAnalysis(a, { color: false }, []);
    const off = text.slice(text.indexOf('Off-CPU time'));
    const lines = off.split('\n');
    expect(lines[1]).toMatch(/^ {2}involuntary \d+\.\d\d s \(/);
    expect(lines[2]).toMatch(/^ {2}voluntary {3}\d+\.\d\d s/);
    expect(off).toMatch(/heuristic/);
    const inv = off.indexOf('involuntary waits (');
    const vol = off.indexOf('voluntary waits (');
    expect(inv).toBeGreaterThan(0);
    expect(vol).toBeGreaterThan(inv);
    expect(off.slice(inv, off.indexOf('runnable but waiting'))).not.toMatch(/clock_nanosleep|wait4/);
  });
});
