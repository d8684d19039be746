/**
 * People read "negative dentries added", not `dentry.negative.delta`. Each counter metric that
 * analysis/counters.ts (and the run's facts) names gets a label and a unit here; the key stays
 * available (HTML tooltip, JSON) for scripts. Unknown keys are shown as they are.
 */
export type CounterUnit = 'count' | 'bytes' | 'fraction' | 'seconds';

export interface CounterLabel {
  label: string;
  unit: CounterUnit;
}

const resources: Record<string, string> = { cpu: 'CPU', memory: 'memory', io: 'I/O' };

const fixed: Record<string, CounterLabel> = {
  'counter window (s)': { label: 'counter window', unit: 'seconds' },
  'dentry.count.delta': { label: 'dentries added during the window', unit: 'count' },
  'dentry.negative.delta': { label: 'negative dentries added during the window', unit: 'count' },
  'dentry.negative.after': { label: 'negative dentries at the end of the window', unit: 'count' },
  'slab.dentry.bytes.delta': { label: 'dentry slab growth', unit: 'bytes' },
  'cgroup.cpu.throttled.ratio': { label: 'CFS periods throttled (share of periods)', unit: 'fraction' },
  'cgroup.cpu.throttled.periods': { label: 'CFS periods throttled', unit: 'count' },
};

export function counterLabel(metric: string): CounterLabel {
  const known = fixed[metric];
  if (known) return known;
  const host = /^psi\.host\.(\w+)\.some$/.exec(metric);
  if (host)
    return {
      label: `host ${resources[host[1]] ?? host[1]} pressure: time some task stalled`,
      unit: 'fraction',
    };
  const cg = /^cgroup\.(\w+)\.pressure\.some$/.exec(metric);
  if (cg) return { label: `${resources[cg[1]] ?? cg[1]} pressure: time some task stalled`, unit: 'fraction' };
  return { label: metric, unit: 'count' };
}

/** The value in the metric's unit: `1,289,652`, `12.5 MiB`, `3.2%`, `8.00 s`. */
export function formatCounter(metric: string, value: number): string {
  const { unit } = counterLabel(metric);
  switch (unit) {
    case 'fraction':
      return `${(100 * value).toFixed(1)}%`;
    case 'seconds':
      return `${value.toFixed(2)} s`;
    case 'bytes':
      return bytesText(value);
    case 'count':
      return Number.isInteger(value) ? Math.round(value).toLocaleString('en-US') : value.toFixed(4);
  }
}

function bytesText(v: number): string {
  const sign = v < 0 ? '-' : '';
  let x = Math.abs(v);
  for (const u of ['B', 'KiB', 'MiB', 'GiB']) {
    if (x < 1024 || u === 'GiB') return `${sign}${u === 'B' ? x.toFixed(0) : x.toFixed(1)} ${u}`;
    x /= 1024;
  }
  return `${sign}${x.toFixed(1)} TiB`;
}
