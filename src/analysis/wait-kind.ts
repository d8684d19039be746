/**
 * Whether an off-CPU wait was chosen by the task (voluntary: it slept, or waited for work, input,
 * a child or a signal) or imposed on it (involuntary: I/O and kernel locks, user-space lock
 * contention, a full pipe or socket buffer, preemption). Off-CPU totals are otherwise dominated by
 * intended sleeps (a poll loop blocks for the whole recording), while the waits worth a look are
 * the involuntary ones.
 *
 * The rule, from the task state at switch-out (sched_switch prev_state) and where it stopped:
 *   1. runnable (R, preempted)                          -> involuntary, preempted
 *   2. uninterruptible (D): the kernel made it wait      -> involuntary, I/O or kernel lock
 *      except vfork's wait for its child to exec (a killable, so D, wait the caller asked for)
 *   3. interruptible (S), by the syscall and kernel path it stopped in:
 *      - a user-space lock (futex under pthread_mutex_lock, __lll_lock_wait, rwlocks, Go's
 *        sync.Mutex), file locks (flock, fcntl F_SETLKW), SysV semaphores, a kernel mutex or
 *        rwsem taken interruptibly                        -> involuntary, lock wait
 *      - writing to a full pipe or socket buffer, connect() -> involuntary, full buffer
 *      - nanosleep, clock_nanosleep, pause               -> voluntary, sleep
 *      - poll, select, epoll, io_getevents, io_uring     -> voluntary, waiting for events
 *      - wait4, waitid                                   -> voluntary, waiting for a child
 *      - sigtimedwait, sigsuspend                        -> voluntary, waiting for a signal
 *      - accept                                          -> voluntary, waiting for a connection
 *      - reads of pipes, sockets, terminals, eventfd, inotify, signalfd -> voluntary, idle read
 *      - other futex waits (condition variables, idle worker pools)     -> voluntary, condition wait
 *      - kernel threads waiting for work (no syscall)    -> voluntary, idle kernel thread
 *      - anything else interruptible                     -> voluntary, other sleep
 * It is a heuristic: a futex wait is a lock wait only when a lock function is on the user stack
 * (with frame-pointer stacks through libc, usually `__lll_lock_wait`); an unnamed interruptible
 * sleep counts as voluntary. Reports say so.
 */
import { SwitchState } from '../model/profile.ts';
import type { WaitReason } from './categories.ts';

const sleepSyscalls = /^(?:nanosleep|clock_nanosleep(?:_time64)?|pause)$/;
const eventSyscalls =
  /^(?:poll|ppoll(?:_time64)?|select|_newselect|pselect6(?:_time64)?|epoll_wait|epoll_pwait2?|io_getevents|io_pgetevents(?:_time64)?|io_uring_enter)$/;
const childSyscalls = /^(?:wait4|waitid|waitpid)$/;
const signalSyscalls = /^(?:rt_sigtimedwait(?:_time64)?|rt_sigsuspend|sigsuspend)$/;
const acceptSyscalls = /^(?:accept4?)$/;
const readSyscalls = /^(?:read|readv|recvfrom|recvmsg|recvmmsg(?:_time64)?|recv|pread64|preadv2?)$/;
const lockSyscalls = /^(?:flock|semop|semtimedop|msgsnd)$/;
/** Kernel frames of a wait for input: pipes, sockets, terminals, eventfd, inotify, signalfd. */
const idleReadFrame =
  /^(?:pipe_read|unix_stream_read_generic|unix_dgram_recvmsg|__?skb_wait_for_more_packets|sk_wait_data|tcp_recvmsg(?:_locked)?|udp_recvmsg|n_tty_read|tty_read|wait_woken|eventfd_read|inotify_read|signalfd_dequeue|netlink_recvmsg)$/;
/** Kernel frames of a wait for a lock, taken interruptibly. */
const lockFrame =
  /^(?:locks_lock_inode_wait|flock_lock_inode_wait|posix_lock_inode_wait|fcntl_setlk|do_lock_file_wait|__mutex_lock(?:\.constprop\.\d+)?|mutex_lock_interruptible|mutex_lock_killable|rwsem_down_(?:read|write)_slowpath|do_semtimedop)$/;
/** Kernel frames of a write that waits for room: a full pipe or socket send buffer, a connect. */
const fullBufferFrame =
  /^(?:pipe_write|sk_stream_wait_memory|sock_alloc_send_pskb|unix_stream_sendmsg|inet_wait_for_connect|__inet_stream_connect)$/;
/** User frames of a contended lock (glibc, Go, C++, Rust std). */
const userLockFrame =
  /(?:^|[^\w])(?:__lll_lock_wait\w*|__lll_clocklock_wait|_{0,3}pthread_mutex_(?:timed|clock)?lock\w*|_{0,3}pthread_rwlock_(?:timed|clock)?(?:rd|wr)lock\w*|sync\.\(\*(?:RW)?Mutex\)\.[RL]?[lL]ock\w*|runtime\.lock2|std::mutex::lock|std::sys::\w+::locks::\w+::lock\w*|parking_lot::raw_mutex::RawMutex::lock_slow)$/;
/** Kernel frames of kernel threads that wait for work. */
const kthreadIdleFrame =
  /^(?:worker_thread|smpboot_thread_fn|kthread_worker_fn|rcu_gp_kthread|rcu_tasks_kthread|kswapd|kcompactd|khugepaged|kauditd_thread|oom_reaper|watchdog|irq_thread|ksoftirqd|kthreadd|jbd2_journal_commit_transaction|kjournald2|rescuer_thread|rcu_cpu_kthread)$/;

export interface WaitContext {
  /** SwitchState code at switch-out. */
  state: number;
  /** The syscall the task stopped in, or null. */
  syscall: string | null;
  /** Kernel frames, outermost first. */
  kernelPath: readonly string[];
  /** User frame names, innermost first (possibly empty). */
  userFrames: readonly string[];
}

export function waitReasonOf(w: WaitContext): WaitReason {
  if (w.state === SwitchState.runnable) return 'preempted';
  if (w.state === SwitchState.uninterruptible) {
    // vfork(): the parent sleeps (killable, shown as D) until its child execs or exits.
    if (
      w.syscall === 'vfork' ||
      (w.syscall !== null && /^clone3?$/.test(w.syscall) && hasFrame(w, /^wait_for_completion/))
    )
      return 'child';
    return 'io-or-kernel-lock';
  }
  const sys = w.syscall;
  if (hasFrame(w, lockFrame) || (sys !== null && lockSyscalls.test(sys))) return 'lock';
  if (sys === 'fcntl' && hasFrame(w, /^(?:fcntl_setlk|do_lock_file_wait)/)) return 'lock';
  if (sys === 'futex' || sys === 'futex_waitv' || sys === 'futex_time64')
    return w.userFrames.some((f) => userLockFrame.test(f)) ? 'lock' : 'condition';
  if (hasFrame(w, fullBufferFrame)) return 'full-buffer';
  if (sys !== null) {
    if (sleepSyscalls.test(sys)) return 'sleep';
    if (eventSyscalls.test(sys)) return 'events';
    if (childSyscalls.test(sys)) return 'child';
    if (signalSyscalls.test(sys)) return 'signal';
    if (acceptSyscalls.test(sys)) return 'accept';
    if (readSyscalls.test(sys) && hasFrame(w, idleReadFrame)) return 'idle-read';
    return 'other-sleep';
  }
  // A kernel thread: kernel frames only (a stack-less switch tells nothing: other sleep).
  if (hasFrame(w, kthreadIdleFrame) || (w.userFrames.length === 0 && w.kernelPath.length > 0))
    return 'idle-kernel-thread';
  return 'other-sleep';
}

function hasFrame(w: WaitContext, re: RegExp): boolean {
  for (const f of w.kernelPath) if (re.test(f)) return true;
  return false;
}
