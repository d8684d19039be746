/**
 * The flame graph's data: one call tree of the whole profile (root, process name, then frames
 * root-first, merged by function name, module and kind), with the inclusive weight of every node
 * for all samples and for each container, pruned to what a browser can draw.
 *
 * A diff profile (baseline samples with negative weights) is accepted as is: per node the target's
 * (positive) and the baseline's (negative) weights are summed separately, so the page can colour a
 * node by (target - baseline) / (target + baseline) and size it by both.
 */
import type { Profile } from '../model/profile.ts';
import type { SampleLabels } from './sample-labels.ts';
import { type FlameData, FlameKind, type FlameView } from './view-data.ts';

export interface FlameTreeOptions {
  /**
   * Nodes below this share of every view's total are left out. Default 1e-5: at 1,500 px wide a
   * frame of 0.001% is 0.015 px, still under a pixel when its 1%-wide ancestor is zoomed to full
   * width; a busy host's 205k-sample profile keeps about 10k of its 31k nodes.
   */
  minShare?: number;
  /**
   * The most nodes kept: when more reach `minShare`, the largest are kept (the effective threshold
   * is reported in `pruning.minShare`). Default 40,000: a canvas draws that in a few ms.
   */
  maxNodes?: number;
  /** Containers with a filter of their own, heaviest first; the rest are only in `all`. Default 40. */
  maxViews?: number;
  /**
   * Most (node, weight) entries over all views; containers past it get no filter. Default 200,000:
   * about 20 bytes of JSON each, so views stay under ~4 MB even for many identical replicas.
   */
  maxViewEntries?: number;
}

/** The unpruned tree: node arrays plus the node each sample lands on. */
interface GrownTree {
  parent: number[];
  /** Profile string index of the node's name. */
  name: number[];
  /** Profile string index of the module, or -1. */
  module: number[];
  kind: number[];
  sampleNode: Int32Array;
}

/** Function id of every frame: frames with the same name, module and kind are one function. */
function functionsOf(p: Profile): { ofFrame: Int32Array; count: number } {
  const { frames } = p;
  const ofFrame = new Int32Array(frames.length);
  const ids = new Map<number, number>();
  for (let f = 0; f < frames.length; f++) {
    const key = (frames.name[f] * p.strings.length + frames.module[f]) * 4 + frames.kind[f];
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    ofFrame[f] = id;
  }
  return { ofFrame, count: Math.max(1, ids.size) };
}

/** Places samples in the tree: one node per (parent node, function), under a node per process name. */
class TreeGrower {
  readonly tree: GrownTree = {
    parent: [-1],
    name: [-1],
    module: [-1],
    kind: [FlameKind.root],
    sampleNode: new Int32Array(0),
  };
  private readonly functions: { ofFrame: Int32Array; count: number };
  private readonly children = new Map<number, number>();
  private readonly processNode = new Map<number, number>();
  /** (process name, stack node) -> tree node. */
  private readonly placed = new Map<number, number>();
  private readonly chain: number[] = [];

  constructor(private readonly p: Profile) {
    this.functions = functionsOf(p);
  }

  private add(parent: number, name: number, module: number, kind: number): number {
    const t = this.tree;
    t.parent.push(parent);
    t.name.push(name);
    t.module.push(module);
    t.kind.push(kind);
    return t.parent.length - 1;
  }

  private child(node: number, frame: number): number {
    const { frames } = this.p;
    const key = node * this.functions.count + this.functions.ofFrame[frame];
    let c = this.children.get(key);
    if (c === undefined) {
      c = this.add(node, frames.name[frame], frames.module[frame], frames.kind[frame]);
      this.children.set(key, c);
    }
    return c;
  }

  /** The node of a sample: walks up to the nearest stack node already placed, places the rest. */
  place(comm: number, stack: number): number {
    let node = this.processNode.get(comm);
    if (node === undefined) {
      node = this.add(0, comm, -1, FlameKind.process);
      this.processNode.set(comm, node);
    }
    const { stacks } = this.p;
    const base = comm * (stacks.length + 1);
    const chain = this.chain;
    chain.length = 0;
    for (let s = stack; s !== -1; s = stacks.prefix[s]) {
      const m = this.placed.get(base + s);
      if (m !== undefined) {
        node = m;
        break;
      }
      chain.push(s);
    }
    for (let k = chain.length - 1; k >= 0; k--) {
      node = this.child(node, stacks.frame[chain[k]]);
      this.placed.set(base + chain[k], node);
    }
    return node;
  }
}

/** The unpruned call tree of a profile and the node each sample lands on. */
export function growTree(p: Profile): GrownTree {
  const grower = new TreeGrower(p);
  const { samples } = p;
  const sampleNode = new Int32Array(samples.length);
  for (let i = 0; i < samples.length; i++) sampleNode[i] = grower.place(samples.comm[i], samples.stack[i]);
  grower.tree.sampleNode = sampleNode;
  return grower.tree;
}

interface ViewDef {
  id: string;
  label: string;
  /** Samples in this view, ascending. */
  samples: Int32Array;
}

/** `all` plus the heaviest containers; one container alone adds no view (it would equal `all`). */
function viewsOf(labels: SampleLabels, maxViews: number): { views: ViewDef[]; leftOut: number } {
  const { samples } = labels.profile;
  const weight = new Map<string, { id: string; name: string; weight: number; count: number }>();
  const containerOfSample = new Array<string>(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const { key, label } = labels.containerOf(i);
    containerOfSample[i] = key;
    const acc = weight.get(key) ?? { id: key, name: label, weight: 0, count: 0 };
    acc.weight += Math.abs(samples.weight[i]);
    acc.count++;
    weight.set(key, acc);
  }
  const all: ViewDef = { id: 'all', label: 'all samples', samples: Int32Array.from(samples.stack.keys()) };
  if (weight.size < 2) return { views: [all], leftOut: 0 };
  const ranked = [...weight.values()].sort((a, b) => b.weight - a.weight || a.id.localeCompare(b.id));
  const chosen = ranked.slice(0, maxViews);
  const index = new Map(chosen.map((c, k) => [c.id, k]));
  const members = chosen.map((c) => ({ list: new Int32Array(c.count), n: 0 }));
  for (let i = 0; i < samples.length; i++) {
    const k = index.get(containerOfSample[i]);
    if (k === undefined) continue;
    const m = members[k];
    m.list[m.n++] = i;
  }
  const views = chosen.map((c, k) => ({ id: c.id, label: c.name, samples: members[k].list }));
  return { views: [all, ...views], leftOut: ranked.length - chosen.length };
}

/** Inclusive weights of one view: target (positive) and baseline (negative, as magnitudes). */
class ViewSums {
  readonly pos: Float64Array;
  readonly neg: Float64Array;
  readonly posCount: Uint32Array;
  readonly negCount: Uint32Array;
  posTotal = 0;
  negTotal = 0;

  constructor(private readonly parent: number[]) {
    const n = parent.length;
    this.pos = new Float64Array(n);
    this.neg = new Float64Array(n);
    this.posCount = new Uint32Array(n);
    this.negCount = new Uint32Array(n);
  }

  fill(p: Profile, sampleNode: Int32Array, members: Int32Array): void {
    this.pos.fill(0);
    this.neg.fill(0);
    this.posCount.fill(0);
    this.negCount.fill(0);
    this.posTotal = 0;
    this.negTotal = 0;
    const w = p.samples.weight;
    for (const i of members) {
      const node = sampleNode[i];
      if (w[i] < 0) {
        this.neg[node] -= w[i];
        this.negCount[node]++;
        this.negTotal -= w[i];
      } else {
        this.pos[node] += w[i];
        this.posCount[node]++;
        this.posTotal += w[i];
      }
    }
    // Children come after their parents: one backward pass makes every sum inclusive.
    for (let n = this.parent.length - 1; n > 0; n--) {
      const up = this.parent[n];
      this.pos[up] += this.pos[n];
      this.neg[up] += this.neg[n];
      this.posCount[up] += this.posCount[n];
      this.negCount[up] += this.negCount[n];
    }
  }
}

/** Seven significant digits: far below a pixel, and diff shares lose their float noise. */
function round(x: number): number {
  return x === 0 || Number.isInteger(x) ? x : Number(x.toPrecision(7));
}

/** The call tree of the labelled profile, with a view per container (containers as `labels` names them). */
export function buildFlameTree(labels: SampleLabels, opts: FlameTreeOptions = {}): FlameData {
  const p = labels.profile;
  const tree = growTree(p);
  const n = tree.parent.length;
  const { views, leftOut } = viewsOf(labels, opts.maxViews ?? 40);
  const sums = new ViewSums(tree.parent);
  const score = new Float64Array(n);
  let signed = false;
  for (const v of views) {
    sums.fill(p, tree.sampleNode, v.samples);
    if (sums.negTotal > 0) signed = true;
    const total = sums.posTotal + sums.negTotal;
    if (total <= 0) continue;
    for (let i = 0; i < n; i++) {
      const s = (sums.pos[i] + sums.neg[i]) / total;
      if (s > score[i]) score[i] = s;
    }
  }
  const chosen = keptNodes(score, opts.minShare ?? 1e-5, opts.maxNodes ?? 40_000);
  const minShare = chosen.minShare;
  const keep = new Int32Array(n).fill(-1);
  let kept = 0;
  for (let i = 0; i < n; i++) if (chosen.keep[i]) keep[i] = kept++;
  const out = compactTree(p, tree, keep, kept);
  const maxEntries = opts.maxViewEntries ?? 200_000;
  let entries = 0;
  let overBudget = 0;
  for (const v of views) {
    sums.fill(p, tree.sampleNode, v.samples);
    const view = viewOut(v, sums, keep, signed);
    if (v.id !== 'all' && entries + view.nodes.length > maxEntries) {
      overBudget++;
      continue;
    }
    entries += view.nodes.length;
    out.views.push(view);
  }
  out.signed = signed;
  out.pruning = { minShare, nodesBefore: n, nodesKept: kept, viewsLeftOut: leftOut + overBudget };
  return out;
}

/**
 * Nodes kept: those at `minShare` or above, and if that is more than `maxNodes`, the `maxNodes`
 * largest by (score, then index). A parent's score is never below its child's and its index is
 * smaller, so it always ranks first: the kept nodes form a connected tree.
 */
function keptNodes(
  score: Float64Array,
  minShare: number,
  maxNodes: number,
): { keep: Uint8Array; minShare: number } {
  const keep = new Uint8Array(score.length);
  const candidates: number[] = [];
  for (let i = 0; i < score.length; i++)
    if (i === 0 || (score[i] > 0 && score[i] >= minShare)) candidates.push(i);
  if (candidates.length > maxNodes) {
    candidates.sort((a, b) => score[b] - score[a] || a - b);
    candidates.length = Math.max(1, maxNodes);
    minShare = score[candidates[candidates.length - 1]];
  }
  for (const i of candidates) keep[i] = 1;
  return { keep, minShare };
}

function compactTree(p: Profile, tree: GrownTree, keep: Int32Array, kept: number): FlameData {
  const strings: string[] = [];
  const stringIndex = new Map<string, number>();
  const intern = (s: string): number => {
    let i = stringIndex.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      stringIndex.set(s, i);
    }
    return i;
  };
  const out: FlameData = {
    signed: false,
    strings,
    parent: new Array(kept),
    name: new Array(kept),
    module: new Array(kept),
    kind: new Array(kept),
    views: [],
    pruning: { minShare: 0, nodesBefore: 0, nodesKept: 0, viewsLeftOut: 0 },
  };
  for (let i = 0; i < tree.parent.length; i++) {
    const k = keep[i];
    if (k === -1) continue;
    out.parent[k] = i === 0 ? -1 : keep[tree.parent[i]];
    out.name[k] = intern(i === 0 ? 'all' : p.strings[tree.name[i]]);
    out.module[k] = tree.module[i] === -1 ? -1 : intern(p.strings[tree.module[i]]);
    out.kind[k] = tree.kind[i];
  }
  return out;
}

function viewOut(v: ViewDef, sums: ViewSums, keep: Int32Array, signed: boolean): FlameView {
  const view: FlameView = {
    id: v.id,
    label: v.label,
    total: round(sums.posTotal),
    baseTotal: round(sums.negTotal),
    nodes: [],
    value: [],
    samples: [],
    base: signed ? [] : null,
    baseSamples: signed ? [] : null,
  };
  for (let i = 0; i < keep.length; i++) {
    const k = keep[i];
    if (k === -1 || (sums.pos[i] === 0 && sums.neg[i] === 0)) continue;
    view.nodes.push(k);
    view.value.push(round(sums.pos[i]));
    view.samples.push(sums.posCount[i]);
    view.base?.push(round(sums.neg[i]));
    view.baseSamples?.push(sums.negCount[i]);
  }
  return view;
}
