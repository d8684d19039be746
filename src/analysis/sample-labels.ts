/**
 * The one labeller: per sample, which container (host-aware), which kind of time (user, syscall,
 * page fault, ..., with the idle task's kernel-only stacks counted as idle) and which time window,
 * computed once as columns. analyze, diagnose, the timeline, the flame views and the exporters
 * read these columns, so terminal, JSON, HTML and exports cannot disagree on a sample.
 */
import type { Profile } from '../model/profile.ts';
import type { StringIndex } from '../model/strings.ts';
import { Attributions } from './attribute.ts';
import { type Category, categories } from './categories.ts';
import { type ContainerIdentity, containerOf, type NameResolver } from './containers.ts';
import { isIdleComm, isKernelThreadComm } from './kernel-entry.ts';
import { type Windows, windowOf, windowsOf } from './windows.ts';

/**
 * The key of a container across hosts: its id, qualified by its host in a multi-host profile.
 * Every per-container map and the HTML report's series and views use it.
 */
export function containerKey(host: string, id: string): string {
  return host === '' ? id : `${id}@${host}`;
}

/** A container as the labeller found it: one per (host, container id). */
export interface LabelledContainer {
  /** Position in ContainerTable.list and the value of SampleLabels.container. */
  index: number;
  /** containerKey(host, identity.id). */
  key: string;
  /** '' for single-host input. */
  host: string;
  /** Of the first cgroup seen for this key. */
  identity: ContainerIdentity;
  /** Display label: the name, with the host in parentheses for several hosts. */
  label: string;
}

/** How a (host, cgroup path) becomes a container identity. Default: named containerOf. */
export type Identify = (host: string, cgroupPath: string) => ContainerIdentity;

/** (host, cgroup) string indexes -> container, memoised; shareable by profiles with one string table. */
export class ContainerTable {
  readonly list: LabelledContainer[] = [];
  private readonly byHostCgroup = new Map<number, LabelledContainer>();
  private readonly byKey = new Map<string, LabelledContainer>();

  constructor(
    private readonly strings: readonly string[],
    private readonly identify: Identify,
  ) {}

  of(host: StringIndex, cgroup: StringIndex): LabelledContainer {
    const at = host * this.strings.length + cgroup;
    let c = this.byHostCgroup.get(at);
    if (c === undefined) {
      const hostName = this.strings[host];
      const identity = this.identify(hostName, this.strings[cgroup]);
      const key = containerKey(hostName, identity.id);
      c = this.byKey.get(key);
      if (c === undefined) {
        const label = hostName === '' ? identity.name : `${identity.name} (${hostName})`;
        c = { index: this.list.length, key, host: hostName, identity, label };
        this.list.push(c);
        this.byKey.set(key, c);
      }
      this.byHostCgroup.set(at, c);
    }
    return c;
  }
}

export interface SampleLabelOptions {
  /** Names for container ids (from a run's engines). Default: the names containerOf gives. */
  nameOf?: NameResolver;
  /** Overrides nameOf: the identity of each (host, cgroup path). Default: nameOf(containerOf(path)). */
  identify?: Identify;
  /** Stack attributions to reuse (profiles sharing a stack table may share them). Default: computed. */
  attributions?: Attributions;
  /** A container table to share (profiles sharing a string table). Default: a new one. */
  containers?: ContainerTable;
}

const categoryIndex = new Map<Category, number>(categories.map((c, i) => [c, i]));

/** Per-sample refinements the stack alone cannot decide: the idle task and kernel threads. */
export function refineCategory(c: Category, kernelOnly: boolean, comm: string, pid: number): Category {
  if (c !== 'kernel_other' || !kernelOnly) return c;
  if (pid === 0 || isIdleComm(comm)) return 'idle';
  if (isKernelThreadComm(comm)) return 'kernel_thread';
  return c;
}

export class SampleLabels {
  readonly attributions: Attributions;
  readonly containers: ContainerTable;
  /** Per sample: index into containers.list. */
  readonly container: Int32Array;
  /** Per sample: index into attribute.ts `categories`, refined per sample (refineCategory). */
  readonly category: Uint8Array;
  /** The recording's time windows (windows.ts windowsOf). */
  readonly windows: Windows;
  /** Per sample: its window. */
  readonly window: Int32Array;
  /** Per container index: its cgroup paths with samples, in order of first sample. */
  readonly cgroups: string[][] = [];

  constructor(
    readonly profile: Profile,
    opts: SampleLabelOptions = {},
  ) {
    const { samples, strings } = profile;
    this.attributions = opts.attributions ?? new Attributions(profile);
    const nameOf = opts.nameOf ?? ((i: ContainerIdentity) => i);
    this.containers =
      opts.containers ??
      new ContainerTable(strings, opts.identify ?? ((_h, path) => nameOf(containerOf(path))));
    this.windows = windowsOf(profile);
    const n = samples.length;
    this.container = new Int32Array(n);
    this.category = new Uint8Array(n);
    this.window = new Int32Array(n);
    const seen = new Set<number>();
    // Per stack: its category index when no sample field can refine it, -2 when comm and pid can
    // (refineCategory), -1 before the stack is met.
    const stackCategory = new Int16Array(profile.stacks.length + 1).fill(-1);
    for (let i = 0; i < n; i++) {
      const c = this.containers.of(samples.host[i], samples.cgroup[i]);
      this.container[i] = c.index;
      const at = samples.host[i] * strings.length + samples.cgroup[i];
      if (!seen.has(at)) {
        seen.add(at);
        if (this.cgroups[c.index] === undefined) this.cgroups[c.index] = [];
        this.cgroups[c.index].push(strings[samples.cgroup[i]]);
      }
      const stack = samples.stack[i];
      let known = stackCategory[stack + 1];
      if (known === -1) {
        const a = this.attributions.of(stack);
        known = a.category === 'kernel_other' && a.kernelOnly ? -2 : (categoryIndex.get(a.category) ?? 0);
        stackCategory[stack + 1] = known;
      }
      if (known === -2) {
        const a = this.attributions.of(stack);
        const category = refineCategory(a.category, a.kernelOnly, strings[samples.comm[i]], samples.pid[i]);
        this.category[i] = categoryIndex.get(category) ?? 0;
      } else this.category[i] = known;
      this.window[i] = windowOf(this.windows, samples.time[i]);
    }
  }

  /** The container of sample `i`. */
  containerOf(i: number): LabelledContainer {
    return this.containers.list[this.container[i]];
  }

  /** The container identity of sample `i` (exporters' labels; the host is a label of its own). */
  identity(i: number): ContainerIdentity {
    return this.containers.list[this.container[i]].identity;
  }

  categoryOf(i: number): Category {
    return categories[this.category[i]];
  }

  /** The syscall whose kernel time sample `i` is, or null (user time, faults, interrupts, ...). */
  syscall(i: number): string | null {
    const a = this.attributions.of(this.profile.samples.stack[i]);
    return a.category === 'syscall' ? a.syscall : null;
  }
}

/** Labels of every sample of a profile. */
export function labelSamples(p: Profile, opts: SampleLabelOptions = {}): SampleLabels {
  return new SampleLabels(p, opts);
}

/**
 * The `container id NUL syscall` key of sample i when it is one of `wanted`, else null. Keys are
 * made once per (container, syscall), not once per sample.
 */
export function wantedKeyOf(
  labels: SampleLabels,
  wanted: { has(key: string): boolean },
): (i: number, syscall: string) => string | null {
  const byContainer: Map<string, string | null>[] = [];
  return (i, syscall) => {
    const c = labels.container[i];
    let keys = byContainer[c];
    if (keys === undefined) {
      keys = new Map();
      byContainer[c] = keys;
    }
    let key = keys.get(syscall);
    if (key === undefined) {
      key = `${labels.identity(i).id}\u0000${syscall}`;
      if (!wanted.has(key)) key = null;
      keys.set(syscall, key);
    }
    return key;
  };
}
