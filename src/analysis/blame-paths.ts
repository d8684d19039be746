/**
 * The kernel paths blame compares: a candidate's (container, syscall) weight and its distinctive
 * kernel functions (the deepest frames that are neither primitives every path shares nor waits
 * for work), and how much of each container's time passes through such a path.
 */
import type { SampleLabels } from './sample-labels.ts';
import { wantedKeyOf } from './sample-labels.ts';
import { type Windows, windowOf } from './windows.ts';

/** A function is part of a candidate's path when it is on the stack for this share of its weight. */
const PATH_FUNCTION_SHARE = 0.1;
/**
 * Kernel functions every path passes through (entry code, locks, scheduler, allocator, RCU,
 * copies): sharing them says nothing about sharing a resource. The lock itself shows as the
 * function that takes it, which stays in the path.
 */
const PRIMITIVE =
  /^(?:entry_|do_syscall|syscall_|x64_sys_call|__x64_sys_|__ia32_sys_|__se_sys_|__do_sys_|asm_|ret_from_|_raw_|raw_spin|native_queued|queued_|__pv_queued|do_raw_|_?spin_|osq_|mutex_|__mutex_|down_|up_|rwsem_|__rwsem|percpu_|rcu_|__rcu|preempt|_cond_resched|__cond_resched|schedule|__schedule|finish_task_switch|irq|__irq|do_softirq|__do_softirq|handle_softirqs|kmem_cache_|kmalloc|__kmalloc|kfree|__kfree|slab_|__slab|memcpy|memset|memmove|__memcpy|__memset|copy_user|_copy_|rep_movs|clear_page|__check_object|check_heap|__virt_addr|fput|fget|__fget|__fput|fdget|__fdget)/;

/**
 * Waiting for work, not for a resource: a task asleep here waits for input, a timer or a child
 * (a server between requests), so blocked time in such a stack is no sign of harm, and the
 * functions are no shared resource.
 */
const WAITING_FOR_WORK =
  /^(?:sk_wait_data|wait_woken|__skb_wait_for_more_packets|inet_csk_accept|inet_csk_wait_for_connect|unix_stream_data_wait|unix_stream_read_generic|ep_poll|do_epoll_wait|do_select|core_sys_select|do_sys_poll|do_poll|pipe_read|anon_pipe_read|pipe_wait|futex_wait|__futex_wait|futex_wait_queue|hrtimer_nanosleep|do_nanosleep|common_nsleep|do_wait|kernel_wait4|n_tty_read|wait_woken|do_sigtimedwait|sigsuspend|__x64_sys_pause|read_events|io_cqring_wait)/;

/** The deepest kernel frames of a stack that name a path: where the time is spent. */
const PATH_DEPTH = 3;

/** Lock slow paths: time here is waiting for a lock someone else holds. */
const LOCK_WAIT =
  /^(?:native_queued_spin_lock_slowpath|__pv_queued_spin_lock_slowpath|queued_spin_lock_slowpath|queued_read_lock_slowpath|queued_write_lock_slowpath|osq_lock|mutex_spin_on_owner|__mutex_lock|rwsem_down_read_slowpath|rwsem_down_write_slowpath|rwsem_optimistic_spin|rwsem_spin_on_owner)/;

export interface Candidate {
  container: string;
  syscall: string;
  /** Weight in the syscall (sample weights of the target profile). */
  weight: number;
  samples: number;
  /** The candidate's distinctive kernel functions. */
  path: Set<string>;
  windows: Float64Array;
}

export interface PathUse {
  weight: number;
  samples: number;
  /** Of which in a lock slow path. */
  wait: number;
}

/** Per (container, syscall) key: weight, samples, function weights and windows, for the wanted keys. */
export function candidatesOf(input: { labels: SampleLabels }, wanted: Set<string>): Candidate[] {
  const { labels } = input;
  const { samples } = labels.profile;
  const acc = new Map<
    string,
    { weight: number; samples: number; fns: Map<string, number>; windows: Float64Array }
  >();
  const keyOf = wantedKeyOf(labels, wanted);
  for (let i = 0; i < samples.length; i++) {
    const a = labels.attributions.of(samples.stack[i]);
    if (a.syscall === null) continue;
    const key = keyOf(i, a.syscall);
    if (key === null) continue;
    let e = acc.get(key);
    if (!e) {
      e = { weight: 0, samples: 0, fns: new Map(), windows: new Float64Array(labels.windows.count) };
      acc.set(key, e);
    }
    const wt = samples.weight[i];
    e.weight += wt;
    e.samples++;
    e.windows[labels.window[i]] += wt;
    for (const f of pathFramesOf(a.kernelPath)) e.fns.set(f, (e.fns.get(f) ?? 0) + wt);
  }
  return [...acc].map(([key, e]) => {
    const [container, syscall] = key.split('\u0000');
    const path = new Set([...e.fns].filter(([, fw]) => fw >= PATH_FUNCTION_SHARE * e.weight).map(([f]) => f));
    return { container, syscall, weight: e.weight, samples: e.samples, path, windows: e.windows };
  });
}

/** The PATH_DEPTH deepest frames of a kernel path that are neither primitives nor waits for work. */
function pathFramesOf(kernelPath: string[]): string[] {
  const out: string[] = [];
  for (let k = kernelPath.length - 1; k >= 0 && out.length < PATH_DEPTH; k--) {
    const f = kernelPath[k];
    if (!PRIMITIVE.test(f) && !WAITING_FOR_WORK.test(f) && !out.includes(f)) out.push(f);
  }
  return out;
}

/** Per container: weight of the samples (any kernel category) with one of the path's functions on the stack. */
export function pathUse(
  labels: SampleLabels,
  path: Set<string>,
  skipWaitsForWork = false,
): Map<string, PathUse> {
  const out = new Map<string, PathUse>();
  if (path.size === 0) return out;
  // Per stack: -1 not yet seen, 0 not in the path (or idle), 1 in it, 2 in it and in a lock wait.
  const memo = new Int8Array(labels.profile.stacks.length + 1).fill(-1);
  const { samples } = labels.profile;
  for (let i = 0; i < samples.length; i++) {
    const stack = samples.stack[i];
    let m = memo[stack + 1];
    if (m === -1) {
      const a = labels.attributions.of(stack);
      m =
        a.category === 'idle' ||
        !a.kernelPath.some((f) => path.has(f)) ||
        (skipWaitsForWork && a.kernelPath.some((f) => WAITING_FOR_WORK.test(f)))
          ? 0
          : a.kernelPath.some((f) => LOCK_WAIT.test(f))
            ? 2
            : 1;
      memo[stack + 1] = m;
    }
    if (m === 0 || labels.categoryOf(i) === 'idle') continue;
    const id = labels.identity(i).id;
    let u = out.get(id);
    if (!u) {
      u = { weight: 0, samples: 0, wait: 0 };
      out.set(id, u);
    }
    u.weight += samples.weight[i];
    u.samples++;
    if (m === 2) u.wait += samples.weight[i];
  }
  return out;
}

/** Per container: weight per window (the on-CPU profile's windows), kernel time only or everything. */
export function seriesByContainer(
  labels: SampleLabels,
  w: Windows,
  kernelOnly: boolean,
): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  const { samples } = labels.profile;
  for (let i = 0; i < samples.length; i++) {
    if (kernelOnly) {
      const c = labels.categoryOf(i);
      if (c === 'user' || c === 'idle' || c === 'no_stack') continue;
    }
    const id = labels.identity(i).id;
    let arr = out.get(id);
    if (!arr) {
      arr = new Float64Array(w.count);
      out.set(id, arr);
    }
    arr[windowOf(w, samples.time[i])] += samples.weight[i];
  }
  return out;
}

export function sum(a: Float64Array | undefined): number {
  let s = 0;
  if (a) for (const x of a) s += x;
  return s;
}
