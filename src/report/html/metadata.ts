/**
 * The report's "run" section and its side tables: recording facts as label/value rows, the kernel
 * counters a run captured, the lab's measured phases, and a diff's deltas. Only reshaping here:
 * every figure comes from an analysis, counter or lab result.
 */
import type { CounterSet } from '../../analysis/counters.ts';
import type { DiffResult } from '../../analysis/diff.ts';
import type { ScenarioResult } from '../../lab/types.ts';
import { counterLabel, formatCounter } from '../counter-labels.ts';
import type { AnalyzeJson } from '../schema.ts';
import type { CounterRow, DiffSummary, LabSummary, MetadataRow } from './report-data.ts';

/** Recording facts shown first, in this order, with their labels; the rest follow as stored. */
const knownFacts: [key: string, label: string][] = [
  ['hostname', 'host'],
  ['kernel', 'kernel'],
  ['perfVersion', 'perf version'],
  ['arch', 'architecture'],
  ['nrcpus', 'CPUs online'],
  ['cpudesc', 'CPU'],
  ['frequencyHz', 'frequency (Hz)'],
  ['period', 'sample period'],
  ['cmdline', 'perf command line'],
  ['samplesInFile', 'samples in file'],
  ['lostSamples', 'lost samples'],
  ['lostEvents', 'lost events'],
  ['cgroups', 'cgroups seen'],
  ['multiCgroupThreads', 'threads seen in more than one cgroup'],
];

export function metadataRows(input: AnalyzeJson['input'], extra: MetadataRow[] = []): MetadataRow[] {
  const rows: MetadataRow[] = [
    { label: 'input', value: input.source },
    { label: 'format', value: input.format },
  ];
  const rec = input.recording;
  for (const [key, label] of knownFacts.slice(0, 3)) {
    if (rec[key] !== undefined) rows.push({ label, value: String(rec[key]) });
  }
  rows.push(
    {
      label: 'duration',
      value:
        input.durationSeconds === null
          ? 'unknown (no sample times)'
          : `${input.durationSeconds.toFixed(2)} s`,
    },
    { label: 'call graphs', value: input.callGraph },
    { label: 'event', value: `${input.event} (chosen: ${input.eventChosenBy})` },
    {
      label: 'events in input',
      value: input.events.map((e) => `${e.name}: ${e.samples.toLocaleString('en-US')} samples`).join(', '),
    },
    { label: 'samples', value: input.samples.toLocaleString('en-US') },
    { label: 'cgroups in samples', value: input.hasCgroups ? 'yes' : 'no (recorded without --all-cgroups)' },
  );
  for (const [key, label] of knownFacts.slice(3)) {
    if (rec[key] !== undefined) rows.push({ label, value: String(rec[key]) });
  }
  const known = new Set(knownFacts.map(([k]) => k));
  for (const [key, v] of Object.entries(rec))
    if (!known.has(key)) rows.push({ label: key, value: String(v) });
  if (input.truncated) rows.push({ label: 'truncated', value: 'yes: the input ended mid-sample' });
  for (const w of input.warnings) rows.push({ label: 'warning', value: w });
  for (const o of input.oddities) {
    rows.push({
      label: 'skipped input',
      value: `${o.count} ${o.kind} (first at line ${o.firstLine}: ${o.example})`,
    });
  }
  return [...rows, ...extra];
}

function counterRow(container: string | null, metric: string, value: number): CounterRow {
  return { container, metric, label: counterLabel(metric).label, value, text: formatCounter(metric, value) };
}

export function counterRows(c: CounterSet | null | undefined, nameOf: (id: string) => string): CounterRow[] {
  if (!c) return [];
  const rows: CounterRow[] = [counterRow(null, 'counter window (s)', c.windowSeconds)];
  for (const [metric, value] of c.host) rows.push(counterRow(null, metric, value));
  for (const [id, m] of c.byContainer) {
    for (const [metric, value] of m) rows.push(counterRow(nameOf(id), metric, value));
  }
  return rows;
}

/** A diff's counters (both runs were recorded): the target's value, the baseline's and the change. */
export function counterDeltaRows(d: DiffResult | null | undefined): CounterRow[] {
  if (!d) return [];
  return d.counters.map((x) => ({
    ...counterRow(x.container, x.metric, x.change.target),
    baseline: formatCounter(x.metric, x.change.baseline),
    change: `${x.change.delta > 0 ? '+' : ''}${formatCounter(x.metric, x.change.delta)}`,
  }));
}

export function labSummary(r: ScenarioResult<unknown> | null | undefined): LabSummary | null {
  if (!r) return null;
  const phases = [r.phases.alone, r.phases.fixed, r.phases.unfixed, ...r.extraPhases];
  const g = r.groundTruth;
  return {
    scenario: r.scenario,
    title: r.title,
    runs: r.runs,
    durationSeconds: r.durationSeconds,
    phases: phases.map((ph) => ({
      label: ph.label,
      containers: ph.containers,
      p50Us: ph.victim.p50Us.median,
      p90Us: ph.victim.p90Us.median,
      p99Us: ph.victim.p99Us.median,
      throughputPerSec: ph.victim.throughputPerSec.median,
    })),
    groundTruth: {
      victim: g.victim,
      antagonists: g.antagonists,
      syscall: g.syscall,
      callSite: g.callSite,
      kernelResource: g.kernelResource,
      fix: g.fix,
    },
  };
}

export function diffSummary(d: DiffResult | null | undefined): DiffSummary | null {
  if (!d) return null;
  const row = (
    name: string,
    status: string | null,
    x: { baseline: number; target: number; delta: number },
  ) => ({
    name,
    status,
    baseline: x.baseline,
    target: x.target,
    delta: x.delta,
  });
  return {
    normalize: d.normalize,
    unit: d.unit,
    baselineSource: d.baseline.source,
    targetSource: d.target.source,
    split: {
      user: row('user', null, d.split.user),
      kernel: row('kernel', null, d.split.kernel),
      idle: row('idle', null, d.split.idle),
    },
    containers: d.containers.map((c) => row(c.name, c.status, c.kernel)),
    syscalls: d.syscalls.map((s) => row(s.name, null, s.total)),
    offCpuBlocked: d.offCpu ? d.offCpu.containers.map((c) => row(c.name, null, c.blocked)) : null,
  };
}
