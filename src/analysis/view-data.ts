/**
 * The shapes analysis computes for pictures: the flame graph's call tree (flame-tree.ts) and the
 * timeline's series (timeline.ts). Data only: the HTML report embeds them as they are and its
 * browser app reads them (report/html/report-data.ts re-exports them).
 */

/** Frame kinds in the flame tree: the model's four, plus the synthetic process and root levels. */
export const FlameKind = { user: 0, kernel: 1, jit: 2, unknown: 3, process: 4, root: 5 } as const;

/**
 * One filter of the flame graph (all samples, or one container): the nodes it has weight in and
 * their inclusive weight. In a diff, `value` is the target's weight and `base` the baseline's
 * (as a positive number); otherwise `base` is null.
 */
export interface FlameView {
  /** `all`, or a container id. */
  id: string;
  label: string;
  /** Sum of the view's target (or only) weights, pruned frames included. */
  total: number;
  /** Sum of the view's baseline weights (diff), else 0. */
  baseTotal: number;
  /** Node indexes, ascending. */
  nodes: number[];
  value: number[];
  /** Samples per node (target side in a diff). */
  samples: number[];
  base: number[] | null;
  baseSamples: number[] | null;
}

/**
 * A call tree (root, then process name, then frames root-first) with frames merged by function
 * name and module; frames smaller than `pruning.minShare` of every view are left out, and a
 * parent's weight then exceeds the sum of its children's.
 */
export interface FlameData {
  signed: boolean;
  /** Interned text: frame names, modules, process names. */
  strings: string[];
  /** Parent node, -1 for the root (node 0). Parents come before children. */
  parent: number[];
  name: number[];
  /** String index of the module (DSO), -1 when there is none. */
  module: number[];
  kind: number[];
  views: FlameView[];
  pruning: {
    /** Smallest share of a view's total a kept node has in at least one view. */
    minShare: number;
    nodesBefore: number;
    nodesKept: number;
    /** Containers beyond this many have no filter of their own (they are in `all`). */
    viewsLeftOut: number;
  };
}

export interface TimelineSeries {
  id: string;
  label: string;
  /** One value per window. */
  values: number[];
  /** The container is a finding's antagonist or victim; the syscall is a finding's. */
  role: 'antagonist' | 'victim' | 'finding' | null;
}

export interface TimelineData {
  /** Seconds from the first sample to the start of each window. */
  times: number[];
  windowSeconds: number;
  /** cpus: CPUs busy on average over the window (cpu-clock / task-clock); events: per second. */
  unit: 'cpus' | 'events/s';
  containers: TimelineSeries[];
  syscalls: TimelineSeries[];
  /** What the series cover, e.g. "the target run" in a diff. */
  note: string | null;
}
