/**
 * Attribution of one stack: user or kernel time, and for kernel time the way the kernel was
 * entered (syscall, page fault, interrupt, kernel thread, idle), the syscall, its user-space
 * call site and the kernel path below the entry. Computed once per distinct stack node.
 */
import { type CallGraphMode, FrameKind, type Profile, type StackIndex } from '../model/profile.ts';
import { type CallSite, functionNameOf, locateCallSite, type UserFrame } from './call-site.ts';
import type { Category } from './categories.ts';
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
  /**
   * A found call site's frame and the address of the call inside it (StackTable.callerSite of
   * the next inner node; NaN when the input kept none). Absent otherwise.
   */
  callSiteAt?: { frame: number; site: number };
}

/** Per-frame facts the attribution needs, computed once per frame (frame names are tested by regex). */
class FrameClasses {
  private readonly done: Uint8Array;
  private readonly bits: Uint8Array;
  private readonly syscall: (string | null)[];
  private readonly bare: (string | null)[];
  private readonly helper: (string | null)[];

  constructor(private readonly p: Profile) {
    const n = p.frames.length;
    this.done = new Uint8Array(n);
    this.bits = new Uint8Array(n);
    this.syscall = new Array(n);
    this.bare = new Array(n);
    this.helper = new Array(n);
  }

  static readonly hardIrq = 1;
  static readonly dispatch = 2;
  static readonly pageFault = 4;
  static readonly softIrqThread = 8;
  static readonly idle = 16;
  static readonly kthread = 32;

  private compute(f: number): void {
    const n = this.p.strings[this.p.frames.name[f]];
    let b = 0;
    if (isHardIrqEntry(n)) b |= FrameClasses.hardIrq;
    if (isSyscallDispatch(n)) b |= FrameClasses.dispatch;
    if (isPageFaultEntry(n)) b |= FrameClasses.pageFault;
    if (isSoftIrqThread(n)) b |= FrameClasses.softIrqThread;
    if (isIdleFrame(n)) b |= FrameClasses.idle;
    if (isKthreadFrame(n)) b |= FrameClasses.kthread;
    this.bits[f] = b;
    this.syscall[f] = syscallNameOf(n);
    this.bare[f] = bareSyscallNameOf(n);
    this.helper[f] = syscallHelperNameOf(n);
    this.done[f] = 1;
  }

  has(f: number, bit: number): boolean {
    if (this.done[f] === 0) this.compute(f);
    return (this.bits[f] & bit) !== 0;
  }

  syscallOf(f: number): string | null {
    if (this.done[f] === 0) this.compute(f);
    return this.syscall[f];
  }

  bareSyscallOf(f: number): string | null {
    if (this.done[f] === 0) this.compute(f);
    return this.bare[f];
  }

  helperSyscallOf(f: number): string | null {
    if (this.done[f] === 0) this.compute(f);
    return this.helper[f];
  }
}

/** Frame indexes of a stack, root first. */
function framesOf(p: Profile, stack: StackIndex): number[] {
  const out: number[] = [];
  for (let s = stack; s !== -1; s = p.stacks.prefix[s]) out.push(p.stacks.frame[s]);
  return out.reverse();
}

export function attributeStack(
  p: Profile,
  stack: StackIndex,
  mode: CallGraphMode,
  classes: FrameClasses = new FrameClasses(p),
): StackAttribution {
  if (stack === -1)
    return { category: 'no_stack', syscall: null, callSite: null, kernelPath: [], kernelOnly: false };
  const frames = framesOf(p, stack);
  const kind = p.frames.kind;
  // Kernel frames are the innermost run of kernel-kind frames; user frames lie above them.
  let k = frames.length;
  while (k > 0 && kind[frames[k - 1]] === FrameKind.kernel) k--;
  const kernelOnly = k === 0;
  if (kind[frames[frames.length - 1]] !== FrameKind.kernel) {
    return { category: 'user', syscall: null, callSite: null, kernelPath: [], kernelOnly: false };
  }
  const kernel = frames.slice(k);
  const entry = kernelEntryOf(kernel, kernelOnly, classes);
  const kernelPath = kernel.slice(entry.at).map((f) => p.strings[p.frames.name[f]]);
  let callSite: CallSite | null = null;
  if (entry.category === 'syscall' && !kernelOnly) {
    const user: UserFrame[] = [];
    for (let i = k - 1; i >= 0; i--) {
      const f = frames[i];
      user.push({
        name: functionNameOf(p.strings[p.frames.name[f]]),
        module: p.strings[p.frames.module[f]],
        unknown: kind[f] === FrameKind.unknown,
      });
    }
    const located = locateCallSite(user, mode);
    callSite = located.site;
    if (located.at !== -1) {
      // frames[pos] is the call site. Its callee's node holds the call's address; when the callee
      // is the kernel (a syscall made right there), the leaf's node does: the kernel entry node is
      // shared by every syscall the function makes, the leaf's path is this syscall's.
      const pos = k - 1 - located.at;
      let node = stack;
      if (pos + 1 < k) for (let j = frames.length - 1; j > pos + 1; j--) node = p.stacks.prefix[node];
      const at = { frame: frames[pos], site: p.stacks.callerSite[node] };
      return {
        category: entry.category,
        syscall: entry.syscall,
        callSite,
        kernelPath,
        kernelOnly,
        callSiteAt: at,
      };
    }
  }
  return { category: entry.category, syscall: entry.syscall, callSite, kernelPath, kernelOnly };
}

interface Entry {
  category: Category;
  syscall: string | null;
  /** Index in the kernel frames where the attributed path starts. */
  at: number;
}

/** Decides how the kernel was entered; `kernel` holds frame indexes, root first. */
function kernelEntryOf(kernel: number[], kernelOnly: boolean, c: FrameClasses): Entry {
  // An interrupt took the CPU from whatever ran: the innermost hardirq entry wins.
  for (let i = kernel.length - 1; i >= 0; i--) {
    if (c.has(kernel[i], FrameClasses.hardIrq)) return { category: 'interrupt', syscall: null, at: i };
  }
  const sys = syscallEntryOf(kernel, kernelOnly, c);
  if (sys) return sys;
  for (let i = 0; i < kernel.length; i++) {
    if (c.has(kernel[i], FrameClasses.pageFault)) return { category: 'page_fault', syscall: null, at: i };
    if (c.has(kernel[i], FrameClasses.softIrqThread)) return { category: 'interrupt', syscall: null, at: i };
  }
  for (let i = 0; i < kernel.length; i++) {
    if (c.has(kernel[i], FrameClasses.idle)) return { category: 'idle', syscall: null, at: i };
  }
  if (kernelOnly) {
    for (let i = 0; i < kernel.length; i++) {
      if (c.has(kernel[i], FrameClasses.kthread)) return { category: 'kernel_thread', syscall: null, at: i };
    }
  }
  return { category: 'kernel_other', syscall: null, at: 0 };
}

/** The outermost syscall entry frame; bare `sys_X` only right below the dispatcher. */
function syscallEntryOf(kernel: number[], kernelOnly: boolean, c: FrameClasses): Entry | null {
  let dispatch = -1;
  for (let i = 0; i < kernel.length; i++) {
    const name = c.syscallOf(kernel[i]);
    if (name !== null) return { category: 'syscall', syscall: name, at: i };
    if (c.has(kernel[i], FrameClasses.dispatch)) {
      dispatch = i;
      continue;
    }
    if (i === dispatch + 1 && (dispatch !== -1 || (i === 0 && !kernelOnly))) {
      const bare = c.bareSyscallOf(kernel[i]);
      if (bare !== null) return { category: 'syscall', syscall: bare, at: i };
    }
  }
  for (let i = 0; i < kernel.length; i++) {
    const helper = c.helperSyscallOf(kernel[i]);
    if (helper !== null && (dispatch !== -1 || !kernelOnly))
      return { category: 'syscall', syscall: helper, at: i };
  }
  if (dispatch !== -1) return { category: 'syscall', syscall: UNNAMED_SYSCALL, at: dispatch + 1 };
  return null;
}

/** Memoised attribution of every stack node of a profile (shared by analyze and diagnose). */
export class Attributions {
  private readonly memo: (StackAttribution | undefined)[];
  private readonly classes: FrameClasses;
  constructor(private readonly profile: Profile) {
    this.memo = new Array(profile.stacks.length);
    this.classes = new FrameClasses(profile);
  }

  of(stack: StackIndex): StackAttribution {
    if (stack === -1) return attributeStack(this.profile, -1, this.profile.meta.callGraph, this.classes);
    let a = this.memo[stack];
    if (a === undefined) {
      a = attributeStack(this.profile, stack, this.profile.meta.callGraph, this.classes);
      this.memo[stack] = a;
    }
    return a;
  }
}
