/**
 * `analyze`: per container, how CPU time splits between user, kernel and idle; which syscalls the
 * kernel time belongs to; which user-space functions issued them; which kernel paths are hot.
 * Shares are fractions of the total weight (sum of periods) of all samples of the chosen event.
 */
import type { Profile } from '../model/profile.ts';
import { type AnalysisInput, inputOf } from './analysis-input.ts';
import type { Attributions } from './attribute.ts';
import { type Category, categories, modeOf } from './categories.ts';
import type { ContainerIdentity, NameResolver } from './containers.ts';
import { type Limitation, limitationsOf } from './limitations.ts';
import { type OffCpuSummary, offCpuProfiles, summarizeOffCpu } from './off-cpu.ts';
import { labelSamples, type SampleLabels } from './sample-labels.ts';
import { type SyscallSummary, type SyscallTables, summarizeSyscalls } from './syscalls.ts';

export interface AnalyzeOptions {
  /** Syscalls listed, by kernel time. Default 25. */
  topSyscalls?: number;
  /** Call sites per syscall. Default 5. */
  topCallSites?: number;
  /** Kernel paths per syscall. Default 5. */
  topKernelPaths?: number;
  /** Hot kernel functions per syscall. Default 8. */
  topKernelFunctions?: number;
  /** Processes listed per container. Default 5. */
  topProcesses?: number;
  /** Stack attributions to reuse (diagnose shares them). Default: computed here. */
  attributions?: Attributions;
  /** Names for container ids (from docker / crictl at record time); default: short ids. */
  nameOf?: NameResolver;
  /** The profile's sample labels (sample-labels.ts), shared with diagnosis and reports. Default: computed from `attributions` and `nameOf`. */
  labels?: SampleLabels;
}

export interface ShareByCategory {
  category: Category;
  share: number;
}

export interface ContainerSummary {
  identity: ContainerIdentity;
  /** The host the container ran on ('' for single-host input): hosts never share a container. */
  host: string;
  /** All cgroup paths whose samples were attributed to this container. */
  cgroups: string[];
  samples: number;
  share: number;
  userShare: number;
  kernelShare: number;
  idleShare: number;
  categories: ShareByCategory[];
  syscalls: { name: string; share: number }[];
  processes: { comm: string; pid: number; share: number }[];
}

/** One host of a multi-host profile. Shares are of the whole profile's weight. */
export interface HostSummary {
  name: string;
  source: string;
  samples: number;
  share: number;
  userShare: number;
  kernelShare: number;
  idleShare: number;
  durationSeconds: number | null;
}

export interface AnalysisResult {
  /** Off-CPU time by container, syscall and wait path, when context switches were recorded. */
  offCpu: OffCpuSummary | null;
  input: AnalysisInput;
  /** Per host, in input order; empty for single-host input. */
  hosts: HostSummary[];
  split: { user: number; kernel: number; idle: number; unknown: number };
  categories: ShareByCategory[];
  containers: ContainerSummary[];
  syscalls: SyscallSummary[];
  limitations: Limitation[];
}

interface ContainerAcc {
  identity: ContainerIdentity;
  host: string;
  cgroups: string[];
  samples: number;
  weight: number;
  byCategory: Float64Array;
  bySyscall: Map<string, number>;
  byProcess: Map<number, Map<number, number>>;
}

export function analyzeProfile(p: Profile, opts: AnalyzeOptions = {}): AnalysisResult {
  const { samples } = p;
  const labels = opts.labels ?? labelSamples(p, { attributions: opts.attributions, nameOf: opts.nameOf });
  const { attributions } = labels;
  const attributionOf = (s: number) => attributions.of(s);
  // By the labeller's container index: the same cgroup path on two hosts is two containers.
  const byIndex: ContainerAcc[] = [];
  const containers = new Map<string, ContainerAcc>();
  const tables: SyscallTables = { weightByStackAndContainer: new Map(), attributionOf };
  const byCategory = new Float64Array(categories.length);
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const w = samples.weight[i];
    total += w;
    const index = labels.container[i];
    let acc = byIndex[index];
    if (acc === undefined) {
      const c = labels.containers.list[index];
      acc = {
        identity: c.identity,
        host: c.host,
        cgroups: labels.cgroups[index],
        samples: 0,
        weight: 0,
        byCategory: new Float64Array(categories.length),
        bySyscall: new Map(),
        byProcess: new Map(),
      };
      byIndex[index] = acc;
      containers.set(c.key, acc);
    }
    const c = labels.category[i];
    byCategory[c] += w;
    acc.samples++;
    acc.weight += w;
    acc.byCategory[c] += w;
    const stack = samples.stack[i];
    const a = attributionOf(stack);
    if (a.syscall !== null && categories[c] === 'syscall') {
      acc.bySyscall.set(a.syscall, (acc.bySyscall.get(a.syscall) ?? 0) + w);
      addStackWeight(tables, stack, labels.containers.list[index].key, w);
    }
    addProcess(acc, samples.pid[i] < -1 ? samples.tid[i] : samples.pid[i], samples.comm[i], w);
  }
  const share = (w: number) => (total > 0 ? w / total : 0);
  const containerList = [...containers.values()]
    .map((acc) => containerSummary(p, acc, share, opts.topProcesses ?? 5))
    .sort((a, b) => b.share - a.share || a.identity.id.localeCompare(b.identity.id));
  const syscalls = summarizeSyscalls(tables, containers, share, {
    top: opts.topSyscalls ?? 25,
    callSites: opts.topCallSites ?? 5,
    kernelPaths: opts.topKernelPaths ?? 5,
    kernelFunctions: opts.topKernelFunctions ?? 8,
  });
  const split = { user: 0, kernel: 0, idle: 0, unknown: 0 };
  categories.forEach((c, i) => {
    split[modeOf(c)] += share(byCategory[i]);
  });
  const input = inputOf(p, total);
  const offCpu = offCpuOf(p, labels);
  return {
    input,
    hosts: hostSummaries(p, containerList),
    split,
    categories: categories
      .map((category, i) => ({ category, share: share(byCategory[i]) }))
      .filter((c) => c.share > 0),
    containers: containerList,
    syscalls,
    offCpu,
    limitations: limitationsOf(p, input, syscalls, offCpu),
  };
}

function hostSummaries(p: Profile, containers: ContainerSummary[]): HostSummary[] {
  if (p.meta.hosts.length === 0) return [];
  return p.meta.hosts.map((h) => {
    const own = containers.filter((c) => c.host === h.name);
    const sum = (f: (c: ContainerSummary) => number) => own.reduce((a, c) => a + f(c), 0);
    return {
      name: h.name,
      source: h.source,
      samples: sum((c) => c.samples),
      share: sum((c) => c.share),
      userShare: sum((c) => c.userShare),
      kernelShare: sum((c) => c.kernelShare),
      idleShare: sum((c) => c.idleShare),
      durationSeconds: h.durationSeconds,
    };
  });
}

function offCpuOf(p: Profile, labels: SampleLabels) {
  const off = offCpuProfiles(p);
  if (off === null) return null;
  // The off-CPU profiles share the profile's string, frame and stack tables: same indexes.
  return summarizeOffCpu(
    off,
    (q, i) => labels.containers.of(q.samples.host[i], q.samples.cgroup[i]),
    (_q, stack) => labels.attributions.of(stack),
  );
}

function addStackWeight(t: SyscallTables, stack: number, container: string, w: number): void {
  let m = t.weightByStackAndContainer.get(stack);
  if (m === undefined) {
    m = new Map();
    t.weightByStackAndContainer.set(stack, m);
  }
  m.set(container, (m.get(container) ?? 0) + w);
}

function addProcess(acc: ContainerAcc, pid: number, comm: number, w: number): void {
  let m = acc.byProcess.get(pid);
  if (m === undefined) {
    m = new Map();
    acc.byProcess.set(pid, m);
  }
  m.set(comm, (m.get(comm) ?? 0) + w);
}

function containerSummary(
  p: Profile,
  acc: ContainerAcc,
  share: (w: number) => number,
  topProcesses: number,
): ContainerSummary {
  const byMode = { user: 0, kernel: 0, idle: 0, unknown: 0 };
  categories.forEach((c, i) => {
    byMode[modeOf(c)] += acc.byCategory[i];
  });
  const processes: ContainerSummary['processes'] = [];
  for (const [pid, comms] of acc.byProcess) {
    for (const [comm, w] of comms) processes.push({ comm: p.strings[comm], pid, share: share(w) });
  }
  processes.sort((a, b) => b.share - a.share || a.pid - b.pid);
  return {
    identity: acc.identity,
    host: acc.host,
    cgroups: [...acc.cgroups].sort(),
    samples: acc.samples,
    share: share(acc.weight),
    userShare: share(byMode.user),
    kernelShare: share(byMode.kernel),
    idleShare: share(byMode.idle),
    categories: categories
      .map((category, i) => ({ category, share: share(acc.byCategory[i]) }))
      .filter((c) => c.share > 0),
    syscalls: [...acc.bySyscall]
      .map(([name, w]) => ({ name, share: share(w) }))
      .sort((a, b) => b.share - a.share || a.name.localeCompare(b.name))
      .slice(0, 5),
    processes: processes.slice(0, topProcesses),
  };
}
