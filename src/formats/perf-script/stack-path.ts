/**
 * The frames of the sample being read (leaf first, as perf prints them), each with its caller
 * address (StackTable.callerSite: the frame's `+0x` symbol offset, NaN when none), turned into a
 * stack node. A thread's consecutive samples usually share most of their root side, so the nodes
 * of the same thread's previous sample are reused for the common prefix instead of being looked
 * up frame by frame.
 */
import type { ProfileBuilder } from '../../model/builder.ts';
import type { FrameIndex, StackIndex } from '../../model/profile.ts';

export class StackPath {
  /** Leaf first. */
  readonly frames: FrameIndex[] = [];
  /** Per frame: its `+0x` offset, the address of its call to the next inner frame (NaN: none, or not user code). */
  readonly sites: number[] = [];
  /** Per thread: its previous sample's frames, root first, and the stack node at each depth. */
  private readonly prevOf = new Map<number, { frames: FrameIndex[]; nodes: StackIndex[] }>();

  push(frame: FrameIndex, site: number): void {
    this.frames.push(frame);
    this.sites.push(site);
  }

  get length(): number {
    return this.frames.length;
  }

  clear(): void {
    this.frames.length = 0;
    this.sites.length = 0;
  }

  /** The stack node of the frames; a new node records the site of the nearest frame above it that has one. */
  node(builder: ProfileBuilder, tid: number): StackIndex {
    const { frames, sites } = this;
    let prev = this.prevOf.get(tid);
    if (prev === undefined) {
      prev = { frames: [], nodes: [] };
      this.prevOf.set(tid, prev);
    }
    const { frames: prevFrames, nodes: prevNodes } = prev;
    const n = frames.length;
    let depth = 0;
    let stack = -1;
    let near = Number.NaN;
    while (depth < n && depth < prevFrames.length && prevFrames[depth] === frames[n - 1 - depth]) {
      stack = prevNodes[depth];
      if (!Number.isNaN(sites[n - 1 - depth])) near = sites[n - 1 - depth];
      depth++;
    }
    prevFrames.length = depth;
    prevNodes.length = depth;
    for (; depth < n; depth++) {
      const f = frames[n - 1 - depth];
      stack = builder.stack(stack, f, near);
      if (!Number.isNaN(sites[n - 1 - depth])) near = sites[n - 1 - depth];
      prevFrames.push(f);
      prevNodes.push(stack);
    }
    return stack;
  }
}
