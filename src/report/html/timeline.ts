/**
 * Kernel time over the recording, per container and per top syscall, in the windows diagnosis
 * correlates (signature-match.ts windowsOf: about one per second, 10 to 60), so the chart shows
 * exactly the series behind a finding's "correlated" evidence.
 */
import { Attributions, modeOf } from '../../analysis/attribute.ts';
import { isIdleComm } from '../../analysis/kernel-entry.ts';
import { type Windows, windowOf, windowsOf } from '../../analysis/signature-match.ts';
import type { Profile } from '../../model/profile.ts';
import { weightUnitOf } from '../../model/units.ts';
import { type ReportContainer, sampleContainers } from './report-containers.ts';
import type { TimelineData, TimelineSeries } from './report-data.ts';

export interface TimelineOptions {
  containers?: ReportContainer[];
  /** Syscalls with a series of their own, in this order (e.g. the analysis' top syscalls). */
  syscalls?: string[];
  /** Containers drawn, heaviest kernel time first; findings' containers are always drawn. Default 8. */
  maxContainers?: number;
  /** Report keys (reportKey) of findings' antagonists and victims, and findings' syscalls: drawn emphasised. */
  antagonists?: string[];
  findingSyscalls?: string[];
  victims?: string[];
  /** Attributions to reuse. Default: computed here. */
  attributions?: Attributions;
  /**
   * Only samples with positive weight (the target of a diff profile), windowed over their own
   * time range. Default false.
   */
  positiveOnly?: boolean;
}

/** Mirrors windowsOf for a subset of samples (a diff's target side). */
function windowsOfTimes(times: number[]): Windows {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    if (t < start) start = t;
    if (t > end) end = t;
  }
  const d = end - start;
  if (!(d > 0)) return { count: 1, start: 0, width: Number.POSITIVE_INFINITY };
  const count = Math.max(10, Math.min(60, Math.round(d)));
  return { count, start, width: (d / count) * (1 + 1e-9) };
}

/**
 * Kernel time as analyze counts it: kernel-mode categories, except kernel-only stacks of the idle
 * task, which analyze's refineCategory moves to idle.
 */
function isKernelTime(a: ReturnType<Attributions['of']>, comm: string, pid: number): boolean {
  if (modeOf(a.category) !== 'kernel') return false;
  return !(a.category === 'kernel_other' && a.kernelOnly && (pid === 0 || isIdleComm(comm)));
}

/** Samples with a time (and, for a diff's target, a positive weight). */
function timedSamples(p: Profile, positiveOnly: boolean): number[] {
  const { samples } = p;
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
export function timelineOf(p: Profile, opts: TimelineOptions = {}): TimelineData | null {
  const { samples } = p;
  const selected = timedSamples(p, opts.positiveOnly ?? false);
  if (selected.length === 0) return null;
  const windows = opts.positiveOnly ? windowsOfTimes(selected.map((i) => samples.time[i])) : windowsOf(p);
  if (windows.count === 1) return null;
  const attributions = opts.attributions ?? new Attributions(p);
  const containerOf = sampleContainers(p, opts.containers ?? []);
  const byContainer: ContainerSeries = new Map();
  const bySyscall = new Map<string, Float64Array>();
  for (const name of opts.syscalls ?? []) bySyscall.set(name, new Float64Array(windows.count));
  for (const i of selected) {
    const a = attributions.of(samples.stack[i]);
    if (!isKernelTime(a, p.strings[samples.comm[i]], samples.pid[i])) continue;
    const { key, label } = containerOf(i);
    let acc = byContainer.get(key);
    if (acc === undefined) {
      acc = { label, values: new Float64Array(windows.count), total: 0 };
      byContainer.set(key, acc);
    }
    const w = samples.weight[i];
    const k = windowOf(windows, samples.time[i]);
    acc.values[k] += w;
    acc.total += w;
    const s = a.category === 'syscall' && a.syscall !== null ? bySyscall.get(a.syscall) : undefined;
    if (s) s[k] += w;
  }
  return seriesOf(p, windows, byContainer, bySyscall, opts);
}

function seriesOf(
  p: Profile,
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
