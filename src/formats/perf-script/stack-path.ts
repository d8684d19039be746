/**
 * The frames of the sample being read (leaf first, as perf prints them), each with its caller
 * address (StackTable.callerSite: the frame's `+0x` symbol offset, NaN when none), turned into a
 * stack node. A thread's consecutive samples usually share most of their root side, so the nodes
 * of the same thread's previous sample are reused for the common prefix instead of being looked
 * up frame by frame.
 */
import type { ProfileBuilder } from '../../model/builder.ts';
import type { FrameIndex, StackIndex } from '../../model/profile.ts';

/** A thread's previous sample: frames root first, and the stack node at each depth. */
interface Previous {
  frames: Int32Array;
  nodes: Int32Array;
  length: number;
}

/**
 * Typed buffers with explicit lengths: emptying a JS array (`length = 0`) per sample made V8
 * shrink and regrow its store, a tenth of the text import's time in GC and `set length`.
 */
export class StackPath {
  /** Leaf first. */
  private frames = new Int32Array(256);
  /** Per frame: its `+0x` offset, the address of its call to the next inner frame (NaN: none, or not user code). */
  private sites = new Float64Array(256);
  length = 0;
  private readonly prevOf = new Map<number, Previous>();

  push(frame: FrameIndex, site: number): void {
    const i = this.length;
    if (i === this.frames.length) {
      this.frames = grown(this.frames, new Int32Array(i * 2));
      this.sites = grown(this.sites, new Float64Array(i * 2));
    }
    this.frames[i] = frame;
    this.sites[i] = site;
    this.length = i + 1;
  }

  clear(): void {
    this.length = 0;
  }

  /** The stack node of the frames; a new node records the site of the nearest frame above it that has one. */
  node(builder: ProfileBuilder, tid: number): StackIndex {
    const { frames, sites } = this;
    const n = this.length;
    let prev = this.prevOf.get(tid);
    if (prev === undefined) {
      prev = { frames: new Int32Array(Math.max(16, n)), nodes: new Int32Array(Math.max(16, n)), length: 0 };
      this.prevOf.set(tid, prev);
    } else if (prev.frames.length < n) {
      prev.frames = grown(prev.frames, new Int32Array(n * 2));
      prev.nodes = grown(prev.nodes, new Int32Array(n * 2));
    }
    const { frames: prevFrames, nodes: prevNodes } = prev;
    const had = prev.length;
    let depth = 0;
    let stack = -1;
    let near = Number.NaN;
    while (depth < n && depth < had && prevFrames[depth] === frames[n - 1 - depth]) {
      stack = prevNodes[depth];
      if (!Number.isNaN(sites[n - 1 - depth])) near = sites[n - 1 - depth];
      depth++;
    }
    for (; depth < n; depth++) {
      const f = frames[n - 1 - depth];
      stack = builder.stack(stack, f, near);
      if (!Number.isNaN(sites[n - 1 - depth])) near = sites[n - 1 - depth];
      prevFrames[depth] = f;
      prevNodes[depth] = stack;
    }
    prev.length = n;
    return stack;
  }
}

function grown<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
