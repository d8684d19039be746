/**
 * The flame graph's data: one call tree of the whole profile (root, process name, then frames
 * root-first, merged by function name, module and kind), with the inclusive weight of every node
 * for all samples and for each container, pruned to what a browser can draw.
 *
 * A diff profile (baseline samples with negative weights) is accepted as is: per node the target's
 * (positive) and the baseline's (negative) weights are summed separately, so the page can colour a
 * node by (target - baseline) / (target + baseline) and size it by both.
 */
import { type ContainerIdentity, containerOf } from '../../analysis/containers.ts';
import type { Profile } from '../../model/profile.ts';
import { type FlameData, FlameKind, type FlameView } from './report-data.ts';

export interface FlameContainer {
  id: string;
  name: string;
  /** cgroup paths whose samples belong to this container. */
  cgroups: string[];
}

export interface FlameTreeOptions {
  /**
   * Containers as the analysis named them (id, display name, cgroups). A cgroup not listed is
   * identified by containerOf(path). Default: none listed.
   */
  containers?: FlameContainer[];
  /**
   * Nodes below this share of every view's total are left out. Default 1e-4: at 1,500 px wide a
   * frame of 0.01% is 0.15 px, invisible until zoomed 7x into its parent.
   */
  minShare?: number;
  /**
   * About the most nodes kept (ties at the cut may add a few); the share threshold rises until the
   * tree fits. Default 40,000: a canvas draws that in a few ms and the JSON stays around 2 MB.
   */
  maxNodes?: number;
  /** Containers with a filter of their own, heaviest first; the rest are only in `all`. Default 40. */
  maxViews?: number;
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

/** Grows the call tree: one node per (parent node, function), where a function is name+module+kind. */
export function growTree(p: Profile): GrownTree {
  const t: GrownTree = {
    parent: [-1],
    name: [-1],
    module: [-1],
    kind: [FlameKind.root],
    sampleNode: new Int32Array(0),
  };
  const { frames, stacks, samples } = p;
  const nStrings = p.strings.length;
  const funcOfFrame = new Int32Array(frames.length);
  const funcIds = new Map<number, number>();
  for (let f = 0; f < frames.length; f++) {
    const key = (frames.name[f] * nStrings + frames.module[f]) * 4 + frames.kind[f];
    let id = funcIds.get(key);
    if (id === undefined) {
      id = funcIds.size;
      funcIds.set(key, id);
    }
    funcOfFrame[f] = id;
  }
  const nFuncs = Math.max(1, funcIds.size);
  const children = new Map<number, number>();
  const commNode = new Map<number, number>();
  const memo = new Map<number, number>();
  const addNode = (parent: number, name: number, module: number, kind: number): number => {
    t.parent.push(parent);
    t.name.push(name);
    t.module.push(module);
    t.kind.push(kind);
    return t.parent.length - 1;
  };
  const childOf = (node: number, frame: number): number => {
    const key = node * nFuncs + funcOfFrame[frame];
    let c = children.get(key);
    if (c === undefined) {
      c = addNode(node, frames.name[frame], frames.module[frame], frames.kind[frame]);
      children.set(key, c);
    }
    return c;
  };
  const chain: number[] = [];
  const sampleNode = new Int32Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const comm = samples.comm[i];
    let node = commNode.get(comm);
    if (node === undefined) {
      node = addNode(0, comm, -1, FlameKind.process);
      commNode.set(comm, node);
    }
    // Walk up to the nearest stack node already placed under this process, then place the rest.
    const base = comm * (stacks.length + 1);
    let s = samples.stack[i];
    chain.length = 0;
    while (s !== -1) {
      const m = memo.get(base + s);
      if (m !== undefined) {
        node = m;
        break;
      }
      chain.push(s);
      s = stacks.prefix[s];
    }
    for (let k = chain.length - 1; k >= 0; k--) {
      node = childOf(node, stacks.frame[chain[k]]);
      memo.set(base + chain[k], node);
    }
    sampleNode[i] = node;
  }
  t.sampleNode = sampleNode;
  return t;
}

interface ViewDef {
  id: string;
  label: string;
  /** Samples in this view, ascending. */
  samples: Int32Array;
}

/** `all` plus the heaviest containers; one container alone adds no view (it would equal `all`). */
function viewsOf(
  p: Profile,
  containers: FlameContainer[],
  maxViews: number,
): { views: ViewDef[]; leftOut: number } {
  const { samples } = p;
  const listed = new Map<string, FlameContainer>();
  for (const c of containers) for (const cg of c.cgroups) listed.set(cg, c);
  const byCgroup = new Map<number, { id: string; name: string }>();
  const identityOf = (cg: number) => {
    let id = byCgroup.get(cg);
    if (id === undefined) {
      const path = p.strings[cg];
      const c: FlameContainer | ContainerIdentity = listed.get(path) ?? containerOf(path);
      id = { id: c.id, name: c.name };
      byCgroup.set(cg, id);
    }
    return id;
  };
  const weight = new Map<string, { id: string; name: string; weight: number; count: number }>();
  const containerOfSample = new Array<string>(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const id = identityOf(samples.cgroup[i]);
    containerOfSample[i] = id.id;
    const acc = weight.get(id.id) ?? { ...id, weight: 0, count: 0 };
    acc.weight += Math.abs(samples.weight[i]);
    acc.count++;
    weight.set(id.id, acc);
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

export function buildFlameTree(p: Profile, opts: FlameTreeOptions = {}): FlameData {
  const tree = growTree(p);
  const n = tree.parent.length;
  const { views, leftOut } = viewsOf(p, opts.containers ?? [], opts.maxViews ?? 40);
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
  const minShare = thresholdOf(score, opts.minShare ?? 1e-4, opts.maxNodes ?? 40_000);
  const keep = new Int32Array(n).fill(-1);
  let kept = 0;
  for (let i = 0; i < n; i++) if (i === 0 || (score[i] > 0 && score[i] >= minShare)) keep[i] = kept++;
  const out = compactTree(p, tree, keep, kept);
  for (const v of views) {
    sums.fill(p, tree.sampleNode, v.samples);
    out.views.push(viewOut(v, sums, keep, signed));
  }
  out.signed = signed;
  out.pruning = { minShare, nodesBefore: n, nodesKept: kept, viewsLeftOut: leftOut };
  return out;
}

/** The share a node needs to be kept: `minShare`, raised until about `maxNodes` nodes remain. */
function thresholdOf(score: Float64Array, minShare: number, maxNodes: number): number {
  let above = 0;
  for (const s of score) if (s > 0 && s >= minShare) above++;
  if (above <= maxNodes) return minShare;
  const sorted = Float64Array.from(score.filter((s) => s >= minShare))
    .sort()
    .reverse();
  // A parent's score is never below its child's, so a threshold keeps a connected tree.
  return sorted[Math.max(0, maxNodes - 1)];
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
