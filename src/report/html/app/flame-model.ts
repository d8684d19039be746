/**
 * The flame graph's geometry, without the DOM: children in name order, per-view weights, the
 * layout of a zoomed icicle (root on top) into pixel rectangles, and search matches. Pure, so the
 * Node tests exercise it directly.
 */
import type { FlameData, FlameView } from '../report-data.ts';

export type FlameMode = 'normal' | 'diff';

export class FlameModel {
  readonly n: number;
  readonly depth: Int32Array;
  /** Children of node i: childList[childStart[i] .. childStart[i + 1]), sorted by name. */
  readonly childStart: Int32Array;
  readonly childList: Int32Array;

  constructor(readonly data: FlameData) {
    const n = data.parent.length;
    this.n = n;
    this.depth = new Int32Array(n);
    const count = new Int32Array(n + 1);
    for (let i = 1; i < n; i++) {
      this.depth[i] = this.depth[data.parent[i]] + 1;
      count[data.parent[i] + 1]++;
    }
    for (let i = 0; i < n; i++) count[i + 1] += count[i];
    this.childStart = count.slice();
    this.childList = new Int32Array(Math.max(0, n - 1));
    const fill = count.slice();
    for (let i = 1; i < n; i++) this.childList[fill[data.parent[i]]++] = i;
    const nameOf = (i: number) => data.strings[data.name[i]];
    for (let i = 0; i < n; i++) {
      const part = this.childList.subarray(this.childStart[i], this.childStart[i + 1]);
      if (part.length > 1)
        part.sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : a - b));
    }
  }

  name(i: number): string {
    return this.data.strings[this.data.name[i]];
  }

  module(i: number): string | null {
    const m = this.data.module[i];
    return m === -1 ? null : this.data.strings[m];
  }
}

/** One view's weights as dense arrays over all nodes. */
export class ViewWeights {
  readonly value: Float64Array;
  readonly base: Float64Array;
  readonly samples: Float64Array;
  readonly baseSamples: Float64Array;

  constructor(
    model: FlameModel,
    readonly view: FlameView,
  ) {
    this.value = new Float64Array(model.n);
    this.base = new Float64Array(model.n);
    this.samples = new Float64Array(model.n);
    this.baseSamples = new Float64Array(model.n);
    view.nodes.forEach((node, k) => {
      this.value[node] = view.value[k];
      this.samples[node] = view.samples[k];
      if (view.base) this.base[node] = view.base[k];
      if (view.baseSamples) this.baseSamples[node] = view.baseSamples[k];
    });
  }

  /** Width weight of a node: the target alone, or both sides in a differential graph. */
  width(node: number, mode: FlameMode): number {
    return mode === 'diff' ? this.value[node] + this.base[node] : this.value[node];
  }

  /** (target - baseline) / (target + baseline): +1 only in the target, -1 only in the baseline. */
  change(node: number): number {
    const t = this.value[node];
    const b = this.base[node];
    return t + b > 0 ? (t - b) / (t + b) : 0;
  }
}

/** Drawn rectangles, in drawing order (depth-first). */
export interface FlameLayout {
  count: number;
  node: Int32Array;
  x: Float64Array;
  w: Float64Array;
  row: Int32Array;
  rows: number;
  /** Frames left out because they are deeper than any frame TALL_FRAME_PX wide (zoom shows them). */
  hiddenDeep: number;
}

/** Frames narrower than this many pixels are not drawn, and neither are their children. */
export const MIN_FRAME_PX = 0.35;

/**
 * The graph is as deep as its deepest frame of at least this width. A hairline tower (one deep
 * recursion in 0.1% of the samples) would otherwise make the canvas thousands of pixels tall and
 * mostly blank; zooming on a frame makes it full width and shows its deep children.
 */
export const TALL_FRAME_PX = 3;

/**
 * Lays out the icicle zoomed on `zoom`: its ancestors span the full width above it, its subtree
 * is scaled so that `zoom` spans `width` pixels.
 */
export function layoutFlame(
  model: FlameModel,
  weights: ViewWeights,
  mode: FlameMode,
  zoom: number,
  width: number,
): FlameLayout {
  const cap = model.n;
  const out: FlameLayout = {
    count: 0,
    node: new Int32Array(cap),
    x: new Float64Array(cap),
    w: new Float64Array(cap),
    row: new Int32Array(cap),
    rows: 0,
    hiddenDeep: 0,
  };
  const push = (node: number, x: number, w: number) => {
    const k = out.count++;
    out.node[k] = node;
    out.x[k] = x;
    out.w[k] = w;
    out.row[k] = model.depth[node];
    if (model.depth[node] + 1 > out.rows) out.rows = model.depth[node] + 1;
  };
  const zw = weights.width(zoom, mode);
  if (!(zw > 0)) return out;
  for (let a = model.data.parent[zoom]; a !== -1; a = model.data.parent[a]) push(a, 0, width);
  const scale = width / zw;
  const stack: number[] = [zoom];
  const xs: number[] = [0];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const x = xs.pop()!;
    const w = weights.width(node, mode) * scale;
    push(node, x, w);
    // Children left to right in name order; pushed in reverse so the leftmost is drawn first.
    let cx = x;
    const kids: [number, number][] = [];
    for (let c = model.childStart[node]; c < model.childStart[node + 1]; c++) {
      const child = model.childList[c];
      const cw = weights.width(child, mode) * scale;
      if (cw >= MIN_FRAME_PX) kids.push([child, cx]);
      cx += cw;
    }
    for (let k = kids.length - 1; k >= 0; k--) {
      stack.push(kids[k][0]);
      xs.push(kids[k][1]);
    }
  }
  return keepVisibleDepth(out);
}

/** Drops frames below the deepest row that holds a frame TALL_FRAME_PX wide (see there). */
function keepVisibleDepth(l: FlameLayout): FlameLayout {
  let rows = 0;
  for (let k = 0; k < l.count; k++) if (l.w[k] >= TALL_FRAME_PX && l.row[k] + 1 > rows) rows = l.row[k] + 1;
  if (rows === 0 || rows >= l.rows) return l;
  let kept = 0;
  for (let k = 0; k < l.count; k++) {
    if (l.row[k] >= rows) continue;
    l.node[kept] = l.node[k];
    l.x[kept] = l.x[k];
    l.w[kept] = l.w[k];
    l.row[kept] = l.row[k];
    kept++;
  }
  l.hiddenDeep = l.count - kept;
  l.count = kept;
  l.rows = rows;
  return l;
}

/** Nodes whose name contains `query` (case-insensitive); empty query: none. */
export function searchFlame(model: FlameModel, query: string): Uint8Array {
  const hit = new Uint8Array(model.n);
  const q = query.trim().toLowerCase();
  if (q === '') return hit;
  const lower = model.data.strings.map((s) => s.toLowerCase().includes(q));
  for (let i = 0; i < model.n; i++) if (lower[model.data.name[i]]) hit[i] = 1;
  return hit;
}

/** Weight of matched nodes that have no matched ancestor (so nested matches count once). */
export function matchedWeight(
  model: FlameModel,
  weights: ViewWeights,
  hit: Uint8Array,
  mode: FlameMode,
): number {
  const covered = new Uint8Array(model.n);
  let sum = 0;
  for (let i = 0; i < model.n; i++) {
    const p = model.data.parent[i];
    const above = p !== -1 && covered[p] === 1;
    if (above || hit[i]) covered[i] = 1;
    if (hit[i] && !above) sum += weights.width(i, mode);
  }
  return sum;
}
