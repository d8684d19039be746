/**
 * Attribution of one stack: user or kernel time, and for kernel time the way the kernel was
 * entered (syscall, page fault, interrupt, kernel thread, idle), the syscall, its user-space
 * call site and the kernel path below the entry. Computed once per distinct stack node.
 */
import { type CallGraphMode, FrameKind, type Profile, type StackIndex } from '../model/profile.ts';
import { type CallSite, callSiteOf, functionNameOf, type UserFrame } from './call-site.ts';
import {
  bareSyscallNameOf,
  isHardIrqEntry,
  isIdleFrame,
  isKthreadFrame,
  isPageFaultEntry,
  isSoftIrqThread,
  isSyscallDispatch,
  syscallHelperNameOf,
  syscallNameOf,
} from './kernel-entry.ts';

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

/** Name used for syscall time whose entry frame is not on the stack (entry/exit code itself). */
export const UNNAMED_SYSCALL = '(syscall entry/exit)';

export interface StackAttribution {
  category: Category;
  /** Syscall name for category 'syscall'. */
  syscall: string | null;
  callSite: CallSite | null;
  /** Kernel function names from the entry frame down to the leaf (category != user). */
  kernelPath: string[];
  /** The stack has no user frames at all (kernel threads, or user unwinding failed). */
  kernelOnly: boolean;
}

interface FrameView {
  name: string;
  module: string;
  kind: number;
}

/** Frames of a stack, root first. */
function framesOf(p: Profile, stack: StackIndex): FrameView[] {
  const out: FrameView[] = [];
  for (let s = stack; s !== -1; s = p.stacks.prefix[s]) {
    const f = p.stacks.frame[s];
    out.push({
      name: p.strings[p.frames.name[f]],
      module: p.strings[p.frames.module[f]],
      kind: p.frames.kind[f],
    });
  }
  return out.reverse();
}

export function attributeStack(p: Profile, stack: StackIndex, mode: CallGraphMode): StackAttribution {
  if (stack === -1)
    return { category: 'no_stack', syscall: null, callSite: null, kernelPath: [], kernelOnly: false };
  const frames = framesOf(p, stack);
  const leaf = frames[frames.length - 1];
  // Kernel frames are the innermost run of kernel-kind frames; user frames lie above them.
  let k = frames.length;
  while (k > 0 && frames[k - 1].kind === FrameKind.kernel) k--;
  const kernelOnly = k === 0;
  if (leaf.kind !== FrameKind.kernel) {
    return { category: 'user', syscall: null, callSite: null, kernelPath: [], kernelOnly: false };
  }
  const kernel = frames.slice(k);
  const entry = kernelEntryOf(kernel, kernelOnly);
  const kernelPath = kernel.slice(entry.at).map((f) => f.name);
  let callSite: CallSite | null = null;
  if (entry.category === 'syscall' && !kernelOnly) {
    const user: UserFrame[] = [];
    for (let i = k - 1; i >= 0; i--) {
      const f = frames[i];
      user.push({ name: functionNameOf(f.name), module: f.module, unknown: f.kind === FrameKind.unknown });
    }
    callSite = callSiteOf(user, mode);
  }
  return { category: entry.category, syscall: entry.syscall, callSite, kernelPath, kernelOnly };
}

interface Entry {
  category: Category;
  syscall: string | null;
  /** Index in the kernel frames where the attributed path starts. */
  at: number;
}

/** Decides how the kernel was entered; `kernel` is root first. */
function kernelEntryOf(kernel: FrameView[], kernelOnly: boolean): Entry {
  // An interrupt took the CPU from whatever ran: the innermost hardirq entry wins.
  for (let i = kernel.length - 1; i >= 0; i--) {
    if (isHardIrqEntry(kernel[i].name)) return { category: 'interrupt', syscall: null, at: i };
  }
  const sys = syscallEntryOf(kernel, kernelOnly);
  if (sys) return sys;
  for (let i = 0; i < kernel.length; i++) {
    const n = kernel[i].name;
    if (isPageFaultEntry(n)) return { category: 'page_fault', syscall: null, at: i };
    if (isSoftIrqThread(n)) return { category: 'interrupt', syscall: null, at: i };
  }
  for (let i = 0; i < kernel.length; i++) {
    if (isIdleFrame(kernel[i].name)) return { category: 'idle', syscall: null, at: i };
  }
  if (kernelOnly) {
    for (let i = 0; i < kernel.length; i++) {
      if (isKthreadFrame(kernel[i].name)) return { category: 'kernel_thread', syscall: null, at: i };
    }
  }
  return { category: 'kernel_other', syscall: null, at: 0 };
}

/** The outermost syscall entry frame; bare `sys_X` only right below the dispatcher. */
function syscallEntryOf(kernel: FrameView[], kernelOnly: boolean): Entry | null {
  let dispatch = -1;
  for (let i = 0; i < kernel.length; i++) {
    const n = kernel[i].name;
    const name = syscallNameOf(n);
    if (name !== null) return { category: 'syscall', syscall: name, at: i };
    if (isSyscallDispatch(n)) {
      dispatch = i;
      continue;
    }
    if (i === dispatch + 1 && (dispatch !== -1 || (i === 0 && !kernelOnly))) {
      const bare = bareSyscallNameOf(n);
      if (bare !== null) return { category: 'syscall', syscall: bare, at: i };
    }
  }
  for (let i = 0; i < kernel.length; i++) {
    const helper = syscallHelperNameOf(kernel[i].name);
    if (helper !== null && (dispatch !== -1 || !kernelOnly))
      return { category: 'syscall', syscall: helper, at: i };
  }
  if (dispatch !== -1) return { category: 'syscall', syscall: UNNAMED_SYSCALL, at: dispatch + 1 };
  return null;
}

/** Memoised attribution of every stack node of a profile (shared by analyze and diagnose). */
export class Attributions {
  private readonly memo: (StackAttribution | undefined)[];
  constructor(private readonly profile: Profile) {
    this.memo = new Array(profile.stacks.length);
  }

  of(stack: StackIndex): StackAttribution {
    if (stack === -1) return attributeStack(this.profile, -1, this.profile.meta.callGraph);
    let a = this.memo[stack];
    if (a === undefined) {
      a = attributeStack(this.profile, stack, this.profile.meta.callGraph);
      this.memo[stack] = a;
    }
    return a;
  }
}
