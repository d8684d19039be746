/**
 * Off-CPU waits split into involuntary and voluntary (wait-kind.ts has the rule): the reason of
 * each blocked interval, memoised per (state, stack), and the totals reports lead with.
 */
import { FrameKind, type Profile } from '../model/profile.ts';
import { type WaitKind, type WaitReason, waitKindOf, waitReasonLabel } from './categories.ts';
import { waitReasonOf } from './wait-kind.ts';

/** One sentence for reports: what the split rests on. */
export const WAIT_SPLIT_NOTE =
  'involuntary = uninterruptible (I/O, kernel locks), lock waits, full buffers and preemption; voluntary = sleeps, poll/epoll/select, waits for children, signals, connections, idle reads and condition waits. A heuristic from the task state at switch-out and the syscall and kernel path it stopped in.';

export class WaitClassifier {
  private readonly memo = new Map<number, WaitReason>();

  constructor(
    private readonly p: Profile,
    private readonly attributionOf: (stack: number) => { syscall: string | null; kernelPath: string[] },
  ) {}

  reasonOf(state: number, stack: number): WaitReason {
    const key = stack * 4 + state;
    let r = this.memo.get(key);
    if (r === undefined) {
      r = this.classify(state, stack);
      this.memo.set(key, r);
    }
    return r;
  }

  private classify(state: number, stack: number): WaitReason {
    if (stack === -1) return waitReasonOf({ state, syscall: null, kernelPath: [], userFrames: [] });
    const { syscall, kernelPath } = this.attributionOf(stack);
    const { stacks, frames, strings } = this.p;
    const userFrames: string[] = [];
    for (let s = stack; s !== -1; s = stacks.prefix[s]) {
      const f = stacks.frame[s];
      if (frames.kind[f] === FrameKind.user) userFrames.push(strings[frames.name[f]]);
    }
    return waitReasonOf({ state, syscall, kernelPath, userFrames });
  }
}

export interface OffCpuWaits {
  /** Blocked involuntary (D, locks, full buffers) plus preempted (runnable) task-seconds. */
  involuntarySeconds: number;
  voluntarySeconds: number;
  /** Of the involuntary seconds, those waiting runnable for a CPU. */
  preemptedSeconds: number;
  /** By reason, largest first; involuntary reasons before voluntary ones. */
  reasons: { reason: WaitReason; kind: WaitKind; label: string; seconds: number }[];
  /** What the split rests on (WAIT_SPLIT_NOTE). */
  rule: string;
}

/** Totals of blocked intervals (`reasons[i]`, `ns[i]`) and of the runnable nanoseconds. */
export function waitTotals(
  reasons: readonly WaitReason[],
  ns: ArrayLike<number>,
  runnableNs: number,
): OffCpuWaits {
  const by = new Map<WaitReason, number>();
  for (let i = 0; i < reasons.length; i++) by.set(reasons[i], (by.get(reasons[i]) ?? 0) + ns[i] / 1e9);
  if (runnableNs > 0) by.set('preempted', (by.get('preempted') ?? 0) + runnableNs / 1e9);
  const list = [...by]
    .map(([reason, seconds]) => ({
      reason,
      kind: waitKindOf[reason],
      label: waitReasonLabel[reason],
      seconds,
    }))
    .sort((a, b) => (a.kind === b.kind ? b.seconds - a.seconds : a.kind === 'involuntary' ? -1 : 1));
  const sum = (k: WaitKind) => list.filter((x) => x.kind === k).reduce((s, x) => s + x.seconds, 0);
  return {
    involuntarySeconds: sum('involuntary'),
    voluntarySeconds: sum('voluntary'),
    preemptedSeconds: by.get('preempted') ?? 0,
    reasons: list,
    rule: WAIT_SPLIT_NOTE,
  };
}
