/**
 * The kinds of time a sample can be (user, syscall, page fault, interrupt, kernel thread, idle,
 * other kernel, no stack) and the user / kernel / idle split they fall in. Data only: the JSON
 * schema (report/schema.ts) lists them too.
 */

export const categories = [
  'user',
  'syscall',
  'page_fault',
  'interrupt',
  'kernel_thread',
  'idle',
  'kernel_other',
  'no_stack',
] as const;
export type Category = (typeof categories)[number];

/** Which part of the user / kernel / idle split a category belongs to. */
export function modeOf(c: Category): 'user' | 'kernel' | 'idle' | 'unknown' {
  switch (c) {
    case 'user':
      return 'user';
    case 'idle':
      return 'idle';
    case 'no_stack':
      return 'unknown';
    case 'syscall':
    case 'page_fault':
    case 'interrupt':
    case 'kernel_thread':
    case 'kernel_other':
      return 'kernel';
  }
}

/**
 * Off-CPU waits: the reasons wait-kind.ts gives a blocked or runnable interval, and whether each
 * is involuntary or voluntary. Data only, like the categories: the JSON schema lists them too.
 */
export type WaitKind = 'involuntary' | 'voluntary';

export const waitReasons = [
  'preempted',
  'io-or-kernel-lock',
  'lock',
  'full-buffer',
  'sleep',
  'events',
  'child',
  'signal',
  'accept',
  'idle-read',
  'condition',
  'idle-kernel-thread',
  'other-sleep',
] as const;
export type WaitReason = (typeof waitReasons)[number];

export const waitKindOf: Record<WaitReason, WaitKind> = {
  preempted: 'involuntary',
  'io-or-kernel-lock': 'involuntary',
  lock: 'involuntary',
  'full-buffer': 'involuntary',
  sleep: 'voluntary',
  events: 'voluntary',
  child: 'voluntary',
  signal: 'voluntary',
  accept: 'voluntary',
  'idle-read': 'voluntary',
  condition: 'voluntary',
  'idle-kernel-thread': 'voluntary',
  'other-sleep': 'voluntary',
};

/** Short human labels, for reports. */
export const waitReasonLabel: Record<WaitReason, string> = {
  preempted: 'preempted (runnable, waiting for a CPU)',
  'io-or-kernel-lock': 'I/O or kernel lock (uninterruptible)',
  lock: 'lock wait',
  'full-buffer': 'full pipe or socket buffer',
  sleep: 'sleep',
  events: 'waiting for events (poll, epoll, select)',
  child: 'waiting for a child process',
  signal: 'waiting for a signal',
  accept: 'waiting for a connection',
  'idle-read': 'idle read (pipe, socket, terminal)',
  condition: 'condition wait (futex, not a lock)',
  'idle-kernel-thread': 'kernel thread waiting for work',
  'other-sleep': 'other interruptible sleep',
};
