/**
 * Kernel time over the recording, per container and per top syscall, in the windows diagnosis
 * correlates (windows.ts), so the chart shows exactly the series behind a finding's "correlated"
 * evidence. Kernel time and containers are the labeller's (sample-labels.ts), as analyze counts them.
 */
import { weightUnitOf } from '../model/units.ts';
import { modeOf } from './categories.ts';
import type { SampleLabels } from './sample-labels.ts';
import type { TimelineData, TimelineSeries } from './view-data.ts';
import { type Windows, windowOf, windowsOfTimes } from './windows.ts';

export interface TimelineOptions {
  /** Syscalls with a series of their own, in this order (e.g. the analysis' top syscalls). */
  syscalls?: string[];
  /** Containers drawn, heaviest kernel time first; findings' containers are always drawn. Default 8. */
  maxContainers?: number;
  /** Container keys (containerKey) of findings' antagonists and victims, and findings' syscalls: drawn emphasised. */
  antagonists?: string[];
  findingSyscalls?: string[];
  victims?: string[];
  /**
   * Only samples with positive weight (the target of a diff profile), windowed over their own
   * time range. Default false.
   */
  positiveOnly?: boolean;
}

/** Samples with a time (and, for a diff's target, a positive weight). */
function timedSamples(labels: SampleLabels, positiveOnly: boolean): number[] {
  const { samples } = labels.profile;
  const out: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    if (Number.isNaN(samples.time[i])) continue;
    if (positiveOnly && !(samples.weight[i] > 0)) continue;
    out.push(i);
  }
  return out;
}

type ContainerSeries = Map<string, { label: string; values: Float64Array; total: number }>;

/** Null when samples carry no time (folded input): there is no timeline to draw. */
export function timelineOf(labels: SampleLabels, opts: TimelineOptions = {}): TimelineData | null {
  const p = labels.profile;
  const { samples } = p;
  const positiveOnly = opts.positiveOnly ?? false;
  const selected = timedSamples(labels, positiveOnly);
  if (selected.length === 0) return null;
  const windows = positiveOnly ? windowsOfTimes(selected.map((i) => samples.time[i])) : labels.windows;
  if (windows.count === 1) return null;
  const windowOfSample = (i: number) =>
    positiveOnly ? windowOf(windows, samples.time[i]) : labels.window[i];
  const byContainer: ContainerSeries = new Map();
  const bySyscall = new Map<string, Float64Array>();
  for (const name of opts.syscalls ?? []) bySyscall.set(name, new Float64Array(windows.count));
  for (const i of selected) {
    if (modeOf(labels.categoryOf(i)) !== 'kernel') continue;
    const a = labels.attributions.of(samples.stack[i]);
    const { key, label } = labels.containerOf(i);
    let acc = byContainer.get(key);
    if (acc === undefined) {
      acc = { label, values: new Float64Array(windows.count), total: 0 };
      byContainer.set(key, acc);
    }
    const w = samples.weight[i];
    const k = windowOfSample(i);
    acc.values[k] += w;
    acc.total += w;
    const s = a.category === 'syscall' && a.syscall !== null ? bySyscall.get(a.syscall) : undefined;
    if (s) s[k] += w;
  }
  return seriesOf(p, windows, byContainer, bySyscall, opts);
}

function seriesOf(
  p: SampleLabels['profile'],
  windows: Windows,
  byContainer: ContainerSeries,
  bySyscall: Map<string, Float64Array>,
  opts: TimelineOptions,
): TimelineData {
  const ns = weightUnitOf(p.meta.event) === 'ns';
  // ns of CPU per second of recording = CPUs busy; other events: occurrences per second.
  const perWindow = (v: Float64Array) =>
    Array.from(v, (x) => Number(((ns ? x / 1e9 : x) / windows.width).toPrecision(4)));
  const antagonists = new Set(opts.antagonists ?? []);
  const victims = new Set(opts.victims ?? []);
  const roleOf = (id: string) => (antagonists.has(id) ? 'antagonist' : victims.has(id) ? 'victim' : null);
  const ranked = [...byContainer].sort((a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0]));
  const max = opts.maxContainers ?? 8;
  const containers: TimelineSeries[] = ranked
    .filter(([id], k) => k < max || roleOf(id) !== null)
    .map(([id, acc]) => ({ id, label: acc.label, values: perWindow(acc.values), role: roleOf(id) }));
  const findingSyscalls = new Set(opts.findingSyscalls ?? []);
  const syscalls: TimelineSeries[] = [...bySyscall].map(([name, v]) => ({
    id: name,
    label: name,
    values: perWindow(v),
    role: findingSyscalls.has(name) ? 'finding' : null,
  }));
  const times = Array.from({ length: windows.count }, (_, k) => Number((k * windows.width).toFixed(3)));
  return {
    times,
    windowSeconds: Number(windows.width.toFixed(4)),
    unit: ns ? 'cpus' : 'events/s',
    containers,
    syscalls,
    note: opts.positiveOnly ? 'the target run' : null,
  };
}
