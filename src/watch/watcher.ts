/**
 * `crosstalk watch`: the always-on layer reads cheap counters every interval and judges each
 * series against its own rolling baseline (trigger.ts); when one departs (or `--profile-every`
 * comes due) it records a perf window with the recorder `record` uses (same defaults and off-CPU
 * policy), diagnoses it against the newest quiet baseline (the `doctor --baseline` path), stores
 * the run with its trigger (watch.json), and writes one event per finding. While nothing departs
 * it records a quiet baseline every `baselineEverySeconds`. Old runs go by age and size
 * (watch-runs.ts); a store short of space stops recording with one clear line until it has room.
 *
 * Layers run concurrently: readings continue while perf records and the run is diagnosed.
 */
import { mkdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnalysisResult } from '../analysis/analyze.ts';
import { containerOf } from '../analysis/containers.ts';
import type { Finding } from '../analysis/findings.ts';
import { type CounterSample, CounterSampler } from '../collect/counter-sampler.ts';
import type { RecordOptions } from '../collect/record-options.ts';
import { RecordingCancelledError, recordRun } from '../collect/recorder.ts';
import type { WatchTrigger } from '../report/watch-event-schema.ts';
import { DIR_MODE } from '../safety/atomic-file.ts';
import type { RunStore } from '../store/store.ts';
import { diagnoseRun } from './diagnose-run.ts';
import type { EventLog } from './events.ts';
import { findingFields, harmedVictims, signatureLabel } from './finding-event.ts';
import { History, type SeriesFiring } from './history.ts';
import {
  type MetricsServer,
  type RecordingFigures,
  serveMetrics,
  type WatchCounters,
  watchRegistry,
} from './metrics.ts';
import { takePidFile } from './pid-file.ts';
import { type ContainerTotals, containerTotalsOf, type IntervalValues, intervalValues } from './series.ts';
import type { TriggerRule } from './trigger.ts';
import {
  listWatchRuns,
  quietBaselines,
  type RetentionPolicy,
  selectForRemoval,
  writeWatchRun,
} from './watch-runs.ts';

export interface WatchOptions {
  store: RunStore;
  /** History, events log and the pid file. */
  stateDir: string;
  /** Seconds between counter readings. Default 5. */
  intervalSeconds: number;
  rule: TriggerRule;
  /** After a triggered recording, seconds before another trigger may record. Default 300. */
  cooldownSeconds: number;
  /** Perf window of triggered and scheduled recordings, seconds. Default 10 (record's). */
  windowSeconds: number;
  /** Record on a schedule as well, every so many seconds; null: never. */
  profileEverySeconds: number | null;
  /** A quiet baseline is recorded when the newest is older than this, seconds. Default 3600. */
  baselineEverySeconds: number;
  /** Window of a quiet baseline, seconds. Default 10. */
  baselineSeconds: number;
  retention: RetentionPolicy;
  /** Recording stops while the store's filesystem has less free space than this, bytes. Default 1 GiB. */
  minFreeBytes: number;
  /** The history's copy on disk, bytes. Default 64 MiB. */
  historyBytes: number;
  /** Containers with series and metrics. Default 100. */
  maxContainers: number;
  /**
   * The always-on layer's own CPU, as a share of one CPU: past it the interval grows until the
   * readings fit. Default 0.005 (0.5%).
   */
  maxCpuShare: number;
  /** How often the cgroup map is rebuilt, seconds. Default 30. */
  rescanSeconds: number;
  record: Pick<
    RecordOptions,
    'frequency' | 'callGraph' | 'offCpu' | 'syscallRates' | 'syscallLatency' | 'syscallLatencyBudget'
  >;
  /** Where to serve /metrics; null: no server. */
  metrics: { host: string; port: number } | null;
  events: EventLog;
  /** Human-readable lines (stderr). */
  log: (line: string) => void;
  /** First SIGTERM/SIGINT: finish the current perf window (run kept whole), then exit. */
  stop: AbortSignal;
  /** Second: kill perf (run kept, marked incomplete). */
  abort: AbortSignal;
}

type RunKind = 'triggered' | 'scheduled' | 'baseline';

export class Watcher {
  private readonly history: History;
  private readonly sampler: CounterSampler;
  private counters!: WatchCounters;
  private previous: CounterSample | null = null;
  private totals = new Map<string, ContainerTotals>();
  private task: Promise<void> | null = null;
  private interval: number;
  private tickCpuEwma = 0;
  private alwaysOnCpu = 0;
  private lastSampleAt: number | null = null;
  private lastTriggeredAt = Number.NEGATIVE_INFINITY;
  private lastScheduledAt: number;
  private newestBaseline: { run: string; dir: string; createdAt: string } | null = null;
  private diskFull = false;
  private historyFailing = false;
  private findings: Finding[] = [];
  private figures: RecordingFigures | null = null;
  private server: MetricsServer | null = null;

  constructor(private readonly o: WatchOptions) {
    this.history = new History({
      dir: o.stateDir,
      rule: o.rule,
      maxBytes: o.historyBytes,
      maxContainers: o.maxContainers,
    });
    this.sampler = new CounterSampler({ rescanMs: o.rescanSeconds * 1000 });
    this.interval = o.intervalSeconds;
    this.lastScheduledAt = Date.now();
  }

  /** Runs until `stop`; resolves after a clean shutdown. */
  async run(): Promise<void> {
    await mkdir(this.o.stateDir, { recursive: true, mode: DIR_MODE });
    const releasePid = await takePidFile(join(this.o.stateDir, 'watch.pid'));
    try {
      const resumed = await this.history.resume();
      const baselines = quietBaselines(await listWatchRuns(this.o.store));
      const newest = baselines.at(-1);
      if (newest?.run.metadata)
        this.newestBaseline = {
          run: newest.run.id,
          dir: newest.run.dir,
          createdAt: newest.run.metadata.createdAt,
        };
      const { registry, counters } = watchRegistry(this.metricsSource());
      this.counters = counters;
      if (this.o.metrics)
        this.server = await serveMetrics(registry, this.o.metrics.host, this.o.metrics.port, (e) =>
          this.error('metrics', e),
        );
      this.o.events.emit({
        event: 'started',
        pid: process.pid,
        metricsAddress: this.server?.address ?? null,
        historySamples: resumed.loaded,
        historyLinesSkipped: resumed.skipped,
        baselines: baselines.map((b) => b.run.id),
      });
      this.o.log(
        `watching: a reading every ${this.interval} s${this.server ? `, metrics on http://${this.server.address}/metrics` : ''}; ${resumed.loaded} intervals of history resumed`,
      );
      while (!this.o.stop.aborted) {
        await this.tick();
        await sleep(this.interval * 1000, this.o.stop);
      }
      await this.task;
    } finally {
      await this.server?.close();
      this.o.events.emit({ event: 'stopped', signal: this.o.stop.aborted ? 'SIGTERM' : null });
      await this.o.events.flush();
      await releasePid();
    }
  }

  private async tick(): Promise<void> {
    const cpu0 = process.cpuUsage();
    let firings: SeriesFiring[] = [];
    try {
      const sample = await this.sampler.read();
      this.lastSampleAt = sample.at;
      this.counters.samples.inc();
      if (this.previous) {
        const v = intervalValues(this.previous, sample, containerOf);
        if (v) {
          firings = this.history.observe(v);
          this.persist(v);
        }
      }
      this.previous = sample;
      this.totals = containerTotalsOf(sample, containerOf);
    } catch (e) {
      this.error('sample', e);
    }
    const used = process.cpuUsage(cpu0);
    const seconds = (used.user + used.system) / 1e6;
    this.alwaysOnCpu += seconds;
    this.capInterval(seconds);
    for (const f of firings) this.counters.triggers.inc({ series: f.series });
    await this.maybeRecord(firings);
  }

  /** The history's copy on disk; a failure (a full disk) is logged once per episode, readings go on. */
  private persist(v: IntervalValues): void {
    try {
      this.history.persist(v);
      this.historyFailing = false;
    } catch (e) {
      if (!this.historyFailing) this.error('history', e);
      this.historyFailing = true;
    }
  }

  /** Keeps the always-on layer's CPU under maxCpuShare of one CPU by lengthening the interval. */
  private capInterval(tickSeconds: number): void {
    this.tickCpuEwma = this.tickCpuEwma === 0 ? tickSeconds : 0.8 * this.tickCpuEwma + 0.2 * tickSeconds;
    const needed = Math.max(this.o.intervalSeconds, Math.min(60, this.tickCpuEwma / this.o.maxCpuShare));
    if (Math.abs(needed - this.interval) / this.interval > 0.2) {
      this.o.log(
        `readings take ${(this.tickCpuEwma * 1000).toFixed(1)} ms of CPU: interval ${this.interval.toFixed(1)} -> ${needed.toFixed(1)} s to stay under ${(this.o.maxCpuShare * 100).toFixed(2)}% of a CPU`,
      );
      this.interval = needed;
    }
  }

  private async maybeRecord(firings: SeriesFiring[]): Promise<void> {
    if (this.task !== null || this.o.stop.aborted) return;
    const now = Date.now();
    let kind: RunKind | null = null;
    let trigger: WatchTrigger | null = null;
    if (firings.length > 0 && now - this.lastTriggeredAt >= this.o.cooldownSeconds * 1000) {
      kind = 'triggered';
      trigger = triggerOf(firings);
    } else if (
      this.o.profileEverySeconds !== null &&
      firings.length === 0 &&
      now - this.lastScheduledAt >= this.o.profileEverySeconds * 1000
    ) {
      kind = 'scheduled';
      trigger = {
        kind: 'schedule',
        series: null,
        container: null,
        value: null,
        median: null,
        threshold: null,
        others: 0,
      };
    } else if (firings.length === 0 && this.baselineDue(now)) {
      kind = 'baseline';
    }
    if (kind === null || !(await this.haveRoom())) return;
    if (kind === 'triggered') this.lastTriggeredAt = now;
    if (kind === 'scheduled') this.lastScheduledAt = now;
    if (trigger) this.o.events.emit({ event: 'trigger', trigger });
    const k = kind;
    this.task = this.recordAndDiagnose(k, trigger)
      .catch((e) => this.error(k === 'baseline' ? 'record' : 'diagnose', e))
      .finally(() => {
        this.task = null;
        if (k === 'triggered') this.lastTriggeredAt = Date.now();
      });
  }

  private baselineDue(now: number): boolean {
    if (this.history.departing() || this.history.samples < this.o.rule.minSamples) return false;
    if (this.newestBaseline === null) return true;
    return now - Date.parse(this.newestBaseline.createdAt) >= this.o.baselineEverySeconds * 1000;
  }

  /** False (with one log line per episode) while the store's filesystem is short of space. */
  private async haveRoom(): Promise<boolean> {
    await mkdir(this.o.store.root, { recursive: true, mode: DIR_MODE }).catch(() => {});
    const s = await statfs(this.o.store.root).catch(() => null);
    const free = s === null ? Number.POSITIVE_INFINITY : s.bavail * s.bsize;
    const full = free < this.o.minFreeBytes;
    if (full && !this.diskFull) {
      const message = `not recording: ${this.o.store.root} has ${mib(free)} free, below the ${mib(this.o.minFreeBytes)} minimum (--min-free); the counters are still read`;
      this.o.log(message);
      this.o.events.emit({ event: 'skipped', reason: 'disk-full', message });
    } else if (!full && this.diskFull)
      this.o.log(`recording again: ${mib(free)} free in ${this.o.store.root}`);
    this.diskFull = full;
    return !full;
  }

  private async recordAndDiagnose(kind: RunKind, trigger: WatchTrigger | null): Promise<void> {
    const durationSeconds = kind === 'baseline' ? this.o.baselineSeconds : this.o.windowSeconds;
    this.o.log(
      `${kind === 'baseline' ? 'recording a quiet baseline' : `recording (${describe(trigger)})`}: ${durationSeconds} s`,
    );
    let info: Awaited<ReturnType<typeof recordRun>>;
    try {
      info = await recordRun({
        ...this.o.record,
        store: this.o.store,
        durationSeconds,
        stop: this.o.stop,
        abort: this.o.abort,
      });
    } catch (e) {
      // Stopped before perf started: nothing was recorded, nothing went wrong.
      if (e instanceof RecordingCancelledError) return;
      this.counters.recordings.inc({ kind, status: 'failed' });
      this.error('record', e);
      return;
    }
    const status =
      info.status === 'complete' ? (info.interrupted ? 'interrupted' : 'complete') : 'incomplete';
    this.counters.recordings.inc({ kind, status });
    this.o.events.emit({
      event: 'recorded',
      run: info.id,
      kind,
      status,
      reason: info.incompleteReason,
      trigger,
    });
    const marker = { kind, trigger, baseline: null, diagnosed: false, findings: 0, report: null };
    if (status !== 'complete') {
      const note = this.o.stop.aborted
        ? 'watch was stopped during the recording; not diagnosed'
        : 'incomplete; not diagnosed';
      await writeWatchRun(info.dir, { ...marker, note });
      return;
    }
    if (kind === 'baseline') {
      await writeWatchRun(info.dir, { ...marker, note: null });
      this.newestBaseline = { run: info.id, dir: info.dir, createdAt: info.metadata.createdAt };
      await this.retain();
      return;
    }
    const baseline = this.newestBaseline;
    const diagnosis = await diagnoseRun(info.dir, baseline?.dir ?? null);
    const against = baseline ? { run: baseline.run, createdAt: baseline.createdAt } : null;
    await writeWatchRun(info.dir, {
      ...marker,
      baseline: against,
      diagnosed: true,
      findings: diagnosis.findings.length,
      report: diagnosis.report,
      note: baseline ? null : 'no quiet baseline yet: diagnosed alone',
    });
    this.findings = diagnosis.findings;
    this.figures = figuresOf(diagnosis.analysis, diagnosis.syscallRates);
    for (const f of diagnosis.findings) {
      this.counters.findings.inc({ signature: signatureLabel(f), severity: f.severity });
      this.counters.harmedVictims.inc({ signature: signatureLabel(f) }, harmedVictims(f));
      this.o.events.emit({
        event: 'finding',
        run: info.id,
        kind,
        trigger,
        baseline: against,
        ...findingFields(f),
      });
    }
    this.o.log(
      `run ${info.id}: ${diagnosis.findings.length} finding(s)${baseline ? ` against baseline ${baseline.run}` : ' (no baseline yet)'}`,
    );
    await this.retain();
  }

  private async retain(): Promise<void> {
    try {
      const runs = await listWatchRuns(this.o.store);
      for (const r of selectForRemoval(runs, this.o.retention, Date.now())) {
        await this.o.store.deleteRun(r.run);
        this.o.events.emit({ event: 'removed', run: r.run.id, reason: r.reason });
      }
    } catch (e) {
      this.error('retention', e);
    }
  }

  private error(stage: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.counters?.errors.inc({ stage });
    this.o.log(`error (${stage}): ${message}`);
    this.o.events.emit({ event: 'error', stage, message });
  }

  private metricsSource() {
    return {
      latest: () => this.history.latest,
      totals: () => this.totals,
      contextSwitches: () => this.previous?.procStat.contextSwitches ?? null,
      lastRecording: () => this.figures,
      activeFindings: () => {
        const counts = new Map<string, { signature: string; severity: string; count: number }>();
        for (const f of this.findings) {
          const key = `${signatureLabel(f)}\t${f.severity}`;
          const c = counts.get(key) ?? { signature: signatureLabel(f), severity: f.severity, count: 0 };
          c.count++;
          counts.set(key, c);
        }
        return [...counts.values()];
      },
      health: () => {
        const total = process.cpuUsage();
        const all = (total.user + total.system) / 1e6;
        return {
          lastSampleAt: this.lastSampleAt,
          intervalSeconds: this.interval,
          historySamples: this.history.samples,
          recording: this.task !== null,
          diskFull: this.diskFull,
          cpuSeconds: { always_on: this.alwaysOnCpu, triggered: Math.max(0, all - this.alwaysOnCpu) },
          newestBaselineAt: this.newestBaseline ? Date.parse(this.newestBaseline.createdAt) : null,
        };
      },
    };
  }
}

function triggerOf(firings: SeriesFiring[]): WatchTrigger {
  const top = firings[0];
  return {
    kind: 'anomaly',
    series: top.series,
    container: top.container,
    value: top.value,
    median: top.median,
    threshold: top.threshold,
    others: firings.length - 1,
  };
}

function describe(t: WatchTrigger | null): string {
  if (t === null) return 'no trigger';
  if (t.kind === 'schedule') return 'on schedule';
  const where = t.container ? ` of ${t.container.name}` : '';
  return `${t.series}${where} at ${fmt(t.value)}, median ${fmt(t.median)}, threshold +${fmt(t.threshold)}`;
}

function fmt(n: number | null): string {
  return n === null ? '-' : Number(n.toPrecision(3)).toString();
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

function figuresOf(
  a: AnalysisResult,
  rates: readonly { cgroup: string; top: { name: string; perSecond: number }[] }[] | null,
): RecordingFigures {
  const containers: RecordingFigures['containers'] = new Map();
  for (const c of a.containers) {
    if (c.identity.kind === 'host') continue;
    containers.set(c.identity.id, {
      name: c.identity.name,
      kernelShare: c.kernelShare,
      runnableTasks: null,
      topSyscall: null,
    });
  }
  for (const r of a.offCpu?.runnable ?? []) {
    const c = containers.get(r.id);
    if (c) c.runnableTasks = r.perSecond;
  }
  for (const row of rates ?? []) {
    const c = containers.get(containerOf(row.cgroup).id);
    const top = row.top[0];
    if (c && top && (c.topSyscall === null || top.perSecond > c.topSyscall.perSecond)) c.topSyscall = top;
  }
  return { containers };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
