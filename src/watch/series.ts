/**
 * The always-on layer's series: what two consecutive counter readings say about the interval
 * between them, per host and per container (pure). Pressure, throttling and the dentry counters
 * come from analysis/counters.ts (the same reduction a recording's before/after snapshots get);
 * CPU steal, context switches, CPU usage and the reclaim counters are added here.
 */

import type { ContainerIdentity } from '../analysis/containers.ts';
import { counterSetOf, type SnapshotLike } from '../analysis/counters.ts';
import type { ProcStat } from '../collect/proc-stat.ts';

/** One reading of the cheap counters. */
export interface CounterReading {
  /** Wall clock, ms since the epoch. */
  at: number;
  kernel: SnapshotLike & { vmstat: Record<string, number> | null };
  procStat: ProcStat;
}

export type SeriesUnit = 'ratio' | 'per_second' | 'cores' | 'count' | 'bytes';

export interface SeriesSpec {
  scope: 'host' | 'container';
  unit: SeriesUnit;
  /**
   * The smallest rise above the rolling median that counts as an episode, in the series' unit;
   * null: graphed, never a trigger (a level, or usage, which is not contention by itself).
   */
  floor: number | null;
  help: string;
}

/**
 * Every series watch keeps. Floors: a tenth of wall time more stalled or throttled than usual
 * (PSI `some`; smaller rises are everyday scheduling noise on a busy host); 5% of CPU time stolen;
 * 5,000 negative dentries a second (the lab's unfixed neighbours add 600,000/s; a busy build
 * host a few hundred); 5,000 context switches a second; 10,000 pages scanned a second (40 MB/s of
 * reclaim); 10 direct-reclaim stalls a second.
 */
export const SERIES = {
  'psi.host.cpu.some': {
    scope: 'host',
    unit: 'ratio',
    floor: 0.1,
    help: 'host CPU pressure: share of wall time some task waited for a CPU',
  },
  'psi.host.memory.some': {
    scope: 'host',
    unit: 'ratio',
    floor: 0.1,
    help: 'host memory pressure (PSI some)',
  },
  'psi.host.io.some': { scope: 'host', unit: 'ratio', floor: 0.1, help: 'host I/O pressure (PSI some)' },
  'cpu.steal.ratio': {
    scope: 'host',
    unit: 'ratio',
    floor: 0.05,
    help: 'share of host CPU time stolen by the hypervisor',
  },
  'context_switches.rate': {
    scope: 'host',
    unit: 'per_second',
    floor: 5000,
    help: 'context switches per second, host-wide',
  },
  'dentry.negative.rate': {
    scope: 'host',
    unit: 'per_second',
    floor: 5000,
    help: 'negative dentries added per second',
  },
  'dentry.negative': {
    scope: 'host',
    unit: 'count',
    floor: null,
    help: 'negative dentries in the dentry cache',
  },
  'dentry.count': { scope: 'host', unit: 'count', floor: null, help: 'dentries in the dentry cache' },
  'slab.dentry.bytes': { scope: 'host', unit: 'bytes', floor: null, help: 'memory of the dentry slab cache' },
  'vmstat.pgscan.rate': {
    scope: 'host',
    unit: 'per_second',
    floor: 10000,
    help: 'pages scanned for reclaim per second (kswapd and direct)',
  },
  'vmstat.allocstall.rate': {
    scope: 'host',
    unit: 'per_second',
    floor: 10,
    help: 'direct-reclaim stalls per second',
  },
  'cgroup.cpu.pressure.some': {
    scope: 'container',
    unit: 'ratio',
    floor: 0.1,
    help: 'share of wall time some task of the container waited for a CPU',
  },
  'cgroup.memory.pressure.some': {
    scope: 'container',
    unit: 'ratio',
    floor: 0.1,
    help: 'share of wall time some task of the container stalled on memory',
  },
  'cgroup.io.pressure.some': {
    scope: 'container',
    unit: 'ratio',
    floor: 0.1,
    help: 'share of wall time some task of the container stalled on I/O',
  },
  'cgroup.cpu.throttled.ratio': {
    scope: 'container',
    unit: 'ratio',
    floor: 0.1,
    help: 'share of CFS periods in which the container was throttled',
  },
  'cgroup.cpu.usage.cores': {
    scope: 'container',
    unit: 'cores',
    floor: null,
    help: 'CPUs the container used on average',
  },
} as const satisfies Record<string, SeriesSpec>;

export type SeriesName = keyof typeof SERIES;

export interface ContainerValues {
  name: string;
  values: Partial<Record<SeriesName, number>>;
}

/** The series of one interval. */
export interface IntervalValues {
  at: number;
  seconds: number;
  host: Partial<Record<SeriesName, number>>;
  /** Container id -> its series. */
  containers: Map<string, ContainerValues>;
}

export function isSeriesName(s: string): s is SeriesName {
  return Object.hasOwn(SERIES, s);
}

/** The interval between two readings; null when the clock did not advance. */
export function intervalValues(
  prev: CounterReading,
  cur: CounterReading,
  containerOf: (cgroupPath: string) => ContainerIdentity,
): IntervalValues | null {
  const c = counterSetOf(prev.kernel, cur.kernel, containerOf);
  const seconds = c.windowSeconds > 0 ? c.windowSeconds : (cur.at - prev.at) / 1000;
  if (!(seconds > 0)) return null;
  const host: IntervalValues['host'] = {};
  for (const r of ['cpu', 'memory', 'io'] as const) {
    const v = c.host.get(`psi.host.${r}.some`);
    if (v !== undefined) host[`psi.host.${r}.some`] = v;
  }
  const neg = c.host.get('dentry.negative.delta');
  if (neg !== undefined) host['dentry.negative.rate'] = Math.max(0, neg) / seconds;
  const d = cur.kernel.dentryState;
  if (d) {
    host['dentry.count'] = d.nrDentry;
    if (d.nrNegative !== null) host['dentry.negative'] = d.nrNegative;
  }
  const slab = cur.kernel.slabinfo?.find((r) => r.name === 'dentry');
  if (slab) host['slab.dentry.bytes'] = slab.bytes;
  Object.assign(host, procStatValues(prev.procStat, cur.procStat, seconds));
  Object.assign(host, vmstatValues(prev.kernel.vmstat, cur.kernel.vmstat, seconds));
  return {
    at: cur.at,
    seconds,
    host,
    containers: containerValues(prev, cur, c.byContainer, containerOf, seconds),
  };
}

function procStatValues(a: ProcStat, b: ProcStat, seconds: number): IntervalValues['host'] {
  const out: IntervalValues['host'] = {};
  if (a.cpu && b.cpu && b.cpu.total > a.cpu.total)
    out['cpu.steal.ratio'] = Math.max(0, b.cpu.steal - a.cpu.steal) / (b.cpu.total - a.cpu.total);
  if (a.contextSwitches !== null && b.contextSwitches !== null)
    out['context_switches.rate'] = Math.max(0, b.contextSwitches - a.contextSwitches) / seconds;
  return out;
}

/** vmstat counters reclaim moves: pgscan_{kswapd,direct}[_*] and allocstall[_*] (names vary by kernel). */
function vmstatValues(
  a: Record<string, number> | null,
  b: Record<string, number> | null,
  seconds: number,
): IntervalValues['host'] {
  if (!a || !b) return {};
  const sum = (v: Record<string, number>, re: RegExp) =>
    Object.entries(v).reduce((s, [k, n]) => (re.test(k) ? s + n : s), 0);
  const pgscan = /^pgscan_(kswapd|direct)$/;
  const allocstall = /^allocstall(_\w+)?$/;
  return {
    'vmstat.pgscan.rate': Math.max(0, sum(b, pgscan) - sum(a, pgscan)) / seconds,
    'vmstat.allocstall.rate': Math.max(0, sum(b, allocstall) - sum(a, allocstall)) / seconds,
  };
}

function containerValues(
  prev: CounterReading,
  cur: CounterReading,
  byContainer: Map<string, Map<string, number>>,
  containerOf: (cgroupPath: string) => ContainerIdentity,
  seconds: number,
): Map<string, ContainerValues> {
  const out = new Map<string, ContainerValues>();
  const usageBefore = new Map(
    prev.kernel.cgroups.map((g) => [`${g.hierarchy}:${g.path}`, g.cpuStat?.usage_usec]),
  );
  for (const g of cur.kernel.cgroups) {
    const identity = containerOf(g.path);
    if (identity.kind === 'host') continue;
    let entry = out.get(identity.id);
    if (!entry) {
      entry = { name: identity.name, values: {} };
      out.set(identity.id, entry);
    }
    const before = usageBefore.get(`${g.hierarchy}:${g.path}`);
    const after = g.cpuStat?.usage_usec;
    // A container's own cgroup and its children are all read; the largest usage is the container's.
    if (before !== undefined && after !== undefined) {
      const cores = Math.max(0, after - before) / 1e6 / seconds;
      entry.values['cgroup.cpu.usage.cores'] = Math.max(entry.values['cgroup.cpu.usage.cores'] ?? 0, cores);
    }
  }
  for (const [id, metrics] of byContainer) {
    const entry = out.get(id);
    if (!entry) continue;
    for (const [k, v] of metrics) if (isSeriesName(k) && SERIES[k].scope === 'container') entry.values[k] = v;
  }
  return out;
}

export interface ContainerTotals {
  name: string;
  /** PSI `some` totals, seconds. */
  stalledSeconds: Partial<Record<'cpu' | 'memory' | 'io', number>>;
  usageSeconds: number | null;
  throttledSeconds: number | null;
  throttledPeriods: number | null;
}

/** Cumulative counters per container (its own cgroup, where the identity is rooted), for `_total` metrics. */
export function containerTotalsOf(
  reading: CounterReading,
  containerOf: (cgroupPath: string) => ContainerIdentity,
): Map<string, ContainerTotals> {
  const out = new Map<string, ContainerTotals>();
  for (const g of reading.kernel.cgroups) {
    const identity = containerOf(g.path);
    if (identity.kind === 'host' || identity.cgroup !== g.path || out.has(identity.id)) continue;
    const stalledSeconds: ContainerTotals['stalledSeconds'] = {};
    for (const r of ['cpu', 'memory', 'io'] as const) {
      const total = g.pressure[r]?.some?.total;
      if (total !== undefined) stalledSeconds[r] = total / 1e6;
    }
    const s = g.cpuStat;
    const usec = (k: string) => (s?.[k] !== undefined ? s[k] / 1e6 : null);
    out.set(identity.id, {
      name: identity.name,
      stalledSeconds,
      usageSeconds: usec('usage_usec'),
      // v1 cpu.stat gives throttled_time in ns.
      throttledSeconds:
        usec('throttled_usec') ?? (s?.throttled_time !== undefined ? s.throttled_time / 1e9 : null),
      throttledPeriods: s?.nr_throttled ?? null,
    });
  }
  return out;
}
