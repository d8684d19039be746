/**
 * Kernel counters a recording captured before and after (dentry-state, slab, PSI, cpu.stat),
 * reduced to named metrics the signatures refer to. Input types are structural: analysis does not
 * depend on the collector, only on the shape of what it wrote.
 */
import type { ContainerIdentity } from './containers.ts';

interface PsiLine {
  total: number;
}
interface PressureLike {
  some: PsiLine | null;
}
type PressureMap = Partial<Record<string, PressureLike>>;

export interface SnapshotLike {
  uptimeSeconds: number | null;
  /** /proc/stat's all-CPU line (ticks); absent in older runs. */
  cpuTimes?: { steal: number; total: number } | null;
  dentryState: { nrDentry: number; nrNegative: number | null } | null;
  slabinfo: { name: string; bytes: number }[] | null;
  pressure: PressureMap;
  cgroups: {
    path: string;
    hierarchy: string;
    pressure: PressureMap;
    cpuStat: Record<string, number> | null;
  }[];
}

export interface CounterSet {
  /** Seconds between the two snapshots. */
  windowSeconds: number;
  host: Map<string, number>;
  /** Container id -> metric -> value. */
  byContainer: Map<string, Map<string, number>>;
}

/** PSI `total` is microseconds stalled; over a window it becomes a fraction of time. */
function stallFraction(
  before: PsiLine | null | undefined,
  after: PsiLine | null | undefined,
  seconds: number,
): number | null {
  if (!before || !after || seconds <= 0) return null;
  return Math.max(0, (after.total - before.total) / 1e6 / seconds);
}

export function counterSetOf(
  before: SnapshotLike,
  after: SnapshotLike,
  containerOf: (cgroupPath: string) => ContainerIdentity,
): CounterSet {
  const windowSeconds =
    before.uptimeSeconds !== null && after.uptimeSeconds !== null
      ? after.uptimeSeconds - before.uptimeSeconds
      : 0;
  const host = new Map<string, number>();
  const b = before.dentryState;
  const a = after.dentryState;
  if (b && a) {
    host.set('dentry.count.delta', a.nrDentry - b.nrDentry);
    if (a.nrNegative !== null && b.nrNegative !== null) {
      host.set('dentry.negative.delta', a.nrNegative - b.nrNegative);
      host.set('dentry.negative.after', a.nrNegative);
    }
  }
  const slab = (s: SnapshotLike) => s.slabinfo?.find((r) => r.name === 'dentry')?.bytes;
  const sb = slab(before);
  const sa = slab(after);
  if (sb !== undefined && sa !== undefined) host.set('slab.dentry.bytes.delta', sa - sb);
  for (const res of ['cpu', 'memory', 'io']) {
    const f = stallFraction(before.pressure[res]?.some, after.pressure[res]?.some, windowSeconds);
    if (f !== null) host.set(`psi.host.${res}.some`, f);
  }
  const steal = stealShare(before.cpuTimes, after.cpuTimes);
  if (steal !== null) host.set('host.cpu.steal', steal);
  const byContainer = new Map<string, Map<string, number>>();
  const beforeByPath = new Map(before.cgroups.map((c) => [`${c.hierarchy}:${c.path}`, c]));
  for (const c of after.cgroups) {
    const prev = beforeByPath.get(`${c.hierarchy}:${c.path}`);
    if (!prev) continue;
    const id = containerOf(c.path).id;
    let m = byContainer.get(id);
    if (!m) {
      m = new Map();
      byContainer.set(id, m);
    }
    for (const res of ['cpu', 'memory', 'io']) {
      const f = stallFraction(prev.pressure[res]?.some, c.pressure[res]?.some, windowSeconds);
      if (f !== null)
        m.set(`cgroup.${res}.pressure.some`, Math.max(m.get(`cgroup.${res}.pressure.some`) ?? 0, f));
    }
    const periods = delta(prev.cpuStat, c.cpuStat, 'nr_periods');
    const throttled = delta(prev.cpuStat, c.cpuStat, 'nr_throttled');
    if (periods !== null && throttled !== null && periods > 0) {
      m.set(
        'cgroup.cpu.throttled.ratio',
        Math.max(m.get('cgroup.cpu.throttled.ratio') ?? 0, throttled / periods),
      );
      m.set('cgroup.cpu.throttled.periods', throttled);
    }
  }
  return { windowSeconds, host, byContainer };
}

/** Steal ticks over all ticks between the snapshots: the share of CPU time the hypervisor took. */
function stealShare(
  a: SnapshotLike['cpuTimes'] | undefined,
  b: SnapshotLike['cpuTimes'] | undefined,
): number | null {
  if (!a || !b || !(b.total > a.total)) return null;
  return Math.max(0, (b.steal - a.steal) / (b.total - a.total));
}

function delta(
  a: Record<string, number> | null,
  b: Record<string, number> | null,
  key: string,
): number | null {
  if (!a || !b || a[key] === undefined || b[key] === undefined) return null;
  return b[key] - a[key];
}

/** A host metric, or the largest value of a per-container metric (with its container). */
export function metricValue(
  c: CounterSet,
  metric: string,
): { value: number; container: string | null } | null {
  const h = c.host.get(metric);
  if (h !== undefined) return { value: h, container: null };
  let best: { value: number; container: string | null } | null = null;
  for (const [id, m] of c.byContainer) {
    const v = m.get(metric);
    if (v !== undefined && (best === null || v > best.value)) best = { value: v, container: id };
  }
  return best;
}
