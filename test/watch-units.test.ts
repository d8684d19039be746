// watch's parts without the host: /proc/stat, interval series from two readings, the history's
// copy on disk (rotation, resume, a cut line), retention, the metrics exposition and events.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containerOf } from '../src/analysis/containers.ts';
import { parseProcStat } from '../src/collect/proc-stat.ts';
import { watchEventSchema } from '../src/report/watch-event-schema.ts';
import type { RunSummary } from '../src/store/store.ts';
import { EventLog } from '../src/watch/events.ts';
import { HISTORY_FILE, History } from '../src/watch/history.ts';
import { type MetricsSource, parseListenAddress, watchRegistry } from '../src/watch/metrics.ts';
import {
  type CounterReading,
  containerTotalsOf,
  type IntervalValues,
  intervalValues,
} from '../src/watch/series.ts';
import { TRIGGER_DEFAULTS } from '../src/watch/trigger.ts';
import { RETENTION_DEFAULTS, selectForRemoval, type WatchRun } from '../src/watch/watch-runs.ts';

const dir = mkdtempSync(join(tmpdir(), 'crosstalk-watch-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LAB = '/crosstalk-lab/run-1-a-abcdef';

function reading(
  at: number,
  t: {
    uptime: number;
    neg: number;
    ctxt: number;
    steal: number;
    total: number;
    psi: number;
    usage: number;
    pgscan: number;
  },
): CounterReading {
  const psi = (total: number) => ({ some: { avg10: 0, avg60: 0, avg300: 0, total }, full: null });
  return {
    at,
    kernel: {
      uptimeSeconds: t.uptime,
      dentryState: { nrDentry: 1000 + t.neg, nrNegative: t.neg },
      slabinfo: [{ name: 'dentry', bytes: 4096 }],
      vmstat: { pgscan_kswapd: t.pgscan, pgscan_direct: 0, allocstall_normal: 0 },
      pressure: { cpu: psi(t.psi), memory: psi(0), io: psi(0) },
      cgroups: [
        {
          path: `${LAB}/web-1`,
          hierarchy: 'v2',
          pressure: { cpu: psi(t.psi) },
          cpuStat: { usage_usec: t.usage, nr_periods: 0, nr_throttled: 0 },
        },
      ],
    },
    procStat: {
      cpu: {
        user: 0,
        nice: 0,
        system: 0,
        idle: t.total - t.steal,
        iowait: 0,
        irq: 0,
        softirq: 0,
        steal: t.steal,
        total: t.total,
      },
      contextSwitches: t.ctxt,
    },
  };
}

describe('/proc/stat', () => {
  it('reads steal and ctxt', () => {
    const s = parseProcStat(
      'cpu  11040 0 6030 70928 519 0 120 285 0 0\ncpu0 1 2 3 4 5 6 7 8\nctxt 987654321\n',
    );
    expect(s.cpu?.steal).toBe(285);
    expect(s.cpu?.total).toBe(11040 + 6030 + 70928 + 519 + 120 + 285);
    expect(s.contextSwitches).toBe(987654321);
    expect(parseProcStat('intr 1\n')).toEqual({ cpu: null, contextSwitches: null });
  });
});

describe('interval series', () => {
  const a = reading(0, {
    uptime: 100,
    neg: 1000,
    ctxt: 5000,
    steal: 10,
    total: 1000,
    psi: 0,
    usage: 0,
    pgscan: 0,
  });
  const b = reading(2000, {
    uptime: 102,
    neg: 1_201_000,
    ctxt: 25_000,
    steal: 60,
    total: 1400,
    psi: 500_000,
    usage: 3_000_000,
    pgscan: 40_000,
  });
  it('turns two readings into rates and ratios over the uptime between them', () => {
    const v = intervalValues(a, b, containerOf)!;
    expect(v.seconds).toBe(2);
    expect(v.host['dentry.negative.rate']).toBe(600_000);
    expect(v.host['context_switches.rate']).toBe(10_000);
    expect(v.host['cpu.steal.ratio']).toBeCloseTo(50 / 400);
    expect(v.host['psi.host.cpu.some']).toBeCloseTo(0.25);
    expect(v.host['vmstat.pgscan.rate']).toBe(20_000);
    const web = v.containers.get(containerOf(`${LAB}/web-1`).id)!;
    expect(web.name).toBe('web-1');
    expect(web.values['cgroup.cpu.pressure.some']).toBeCloseTo(0.25);
    expect(web.values['cgroup.cpu.usage.cores']).toBeCloseTo(1.5);
  });

  it('keeps cumulative totals per container for _total metrics', () => {
    const t = containerTotalsOf(b, containerOf).get(containerOf(`${LAB}/web-1`).id)!;
    expect(t).toMatchObject({ name: 'web-1', usageSeconds: 3, throttledPeriods: 0 });
    expect(t.stalledSeconds.cpu).toBeCloseTo(0.5);
  });
});

function interval(at: number, neg: number, containers = 1): IntervalValues {
  const m = new Map<string, { name: string; values: IntervalValues['host'] }>();
  for (let i = 0; i < containers; i++)
    m.set(`c${i}`, {
      name: `c${i}`,
      values: { 'cgroup.cpu.pressure.some': 0.01, 'cgroup.cpu.usage.cores': i },
    });
  return { at, seconds: 1, host: { 'dentry.negative.rate': neg }, containers: m };
}

describe('history', () => {
  it('persists, rotates within its bound, and resumes the last window after a cut line', async () => {
    const d = mkdtempSync(join(dir, 'h-'));
    const rule = { ...TRIGGER_DEFAULTS, window: 20, minSamples: 5 };
    const h = new History({ dir: d, rule, maxBytes: 4000 });
    for (let i = 0; i < 100; i++) {
      const v = interval(i * 1000, 0);
      h.observe(v);
      h.persist(v);
    }
    const sizes = ['history.jsonl', 'history.1.jsonl'].map((f) => readFileSync(join(d, f)).length);
    expect(sizes[0] + sizes[1]).toBeLessThanOrEqual(4000 + 200);
    appendFileSync(join(d, HISTORY_FILE), '{"t":12,"s":1,"h":{"dentry.nega');
    const again = new History({ dir: d, rule, maxBytes: 4000 });
    expect(await again.resume()).toEqual({ loaded: 20, skipped: 1 });
    // The resumed window judges at once: no minSamples wait after a restart.
    expect(again.observe(interval(200_000, 1e6)).map((f) => f.series)).toEqual([]);
    expect(again.observe(interval(201_000, 1e6)).map((f) => f.series)).toEqual(['dentry.negative.rate']);
  });

  it('keeps only the busiest max containers', () => {
    const h = new History({ dir, rule: TRIGGER_DEFAULTS, maxContainers: 3 });
    h.observe(interval(0, 0, 10));
    expect([...h.latest!.containers.keys()].sort()).toEqual(['c7', 'c8', 'c9']);
  });
});

function run(
  id: string,
  o: {
    kind?: WatchRun['watch']['kind'];
    labels?: string[];
    bytes?: number;
    ageDays?: number;
    state?: RunSummary['state'];
  },
  now: number,
): WatchRun {
  const createdAt = new Date(now - (o.ageDays ?? 0) * 86400_000).toISOString();
  return {
    run: {
      id,
      dir: `/x/${id}`,
      state: o.state ?? 'complete',
      labels: o.labels ?? [],
      bytes: o.bytes ?? 10,
      metadata: {
        schema: 'crosstalk.run/1',
        id,
        createdAt,
        labels: o.labels ?? [],
        status: 'complete',
        recorderPid: 1,
        recording: null,
      },
    },
    watch: {
      schema: 'crosstalk.watch-run/1',
      kind: o.kind ?? 'triggered',
      trigger: null,
      baseline: null,
      diagnosed: true,
      findings: 0,
      report: null,
      note: null,
    },
  };
}

describe('retention', () => {
  const now = Date.parse('2026-12-04T00:00:00Z');
  it('removes old baselines beyond the kept few, old runs and the oldest past the size, never labelled ones', () => {
    const runs = [
      run('b1', { kind: 'baseline', ageDays: 9 }, now),
      run('t1', { ageDays: 8, labels: ['keep'] }, now),
      run('t2', { ageDays: 8 }, now),
      run('b2', { kind: 'baseline', ageDays: 3 }, now),
      run('b3', { kind: 'baseline', ageDays: 2 }, now),
      run('t3', { ageDays: 1, bytes: 600 }, now),
      run('b4', { kind: 'baseline', ageDays: 1 }, now),
      run('t4', { ageDays: 0, bytes: 500, state: 'recording' }, now),
    ];
    const picked = selectForRemoval(runs, { ...RETENTION_DEFAULTS, keepBaselines: 2, maxBytes: 1000 }, now);
    expect(picked.map((r) => [r.run.id, r.reason])).toEqual([
      ['b1', 'baselines'],
      ['b2', 'baselines'],
      ['t2', 'age'],
      ['b3', 'size'],
      ['t3', 'size'],
    ]);
  });

  it('keeps the newest quiet baseline even when it alone is over the size', () => {
    const runs = [run('b1', { kind: 'baseline', bytes: 5000 }, now)];
    expect(selectForRemoval(runs, { ...RETENTION_DEFAULTS, maxBytes: 10 }, now)).toEqual([]);
  });
});

describe('metrics', () => {
  const source: MetricsSource = {
    latest: () => interval(0, 12.5, 2),
    totals: () =>
      new Map([
        [
          'c0',
          {
            name: 'c0',
            stalledSeconds: { cpu: 1.5 },
            usageSeconds: 10,
            throttledSeconds: 0,
            throttledPeriods: 0,
          },
        ],
      ]),
    contextSwitches: () => 1234,
    lastRecording: () => ({
      containers: new Map([
        [
          'c1',
          {
            name: 'c1',
            kernelShare: 0.25,
            runnableTasks: 0.5,
            topSyscall: { name: 'newfstatat', perSecond: 9000 },
          },
        ],
      ]),
    }),
    activeFindings: () => [{ signature: 'negative-dentries', severity: 'warning', count: 1 }],
    health: () => ({
      lastSampleAt: 1_000_000,
      intervalSeconds: 5,
      historySamples: 3,
      recording: false,
      diskFull: false,
      cpuSeconds: { always_on: 0.5, triggered: 2 },
      newestBaselineAt: null,
    }),
  };

  it('are text exposition with units in names and _total counters', async () => {
    const { registry, counters } = watchRegistry(source);
    counters.recordings.inc({ kind: 'triggered', status: 'complete' });
    const text = await registry.metrics();
    expect(registry.contentType).toMatch(/^text\/plain; version=0.0.4/);
    expect(text).toContain('# TYPE crosstalk_container_pressure_stalled_seconds_total counter');
    expect(text).toContain(
      'crosstalk_container_pressure_stalled_seconds_total{container="c0",id="c0",resource="cpu"} 1.5',
    );
    expect(text).toContain(
      'crosstalk_container_pressure_stall_ratio{container="c1",id="c1",resource="cpu"} 0.01',
    );
    expect(text).toContain('crosstalk_host_context_switches_total 1234');
    expect(text).toContain(
      'crosstalk_container_top_syscall_calls_per_second{container="c1",id="c1",syscall="newfstatat"} 9000',
    );
    expect(text).toContain('crosstalk_findings_active{signature="negative-dentries",severity="warning"} 1');
    expect(text).toContain('crosstalk_watch_recordings_total{kind="triggered",status="complete"} 1');
    expect(text).toContain('crosstalk_watch_cpu_seconds_total{layer="always_on"} 0.5');
    expect(text).toContain('crosstalk_watch_last_sample_timestamp_seconds 1000');
    for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE'))) {
      const [, , name, type] = line.split(' ');
      expect(name).toMatch(/^crosstalk_[a-z_]+$/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
    }
  });

  it('parse listen addresses', () => {
    expect(parseListenAddress('127.0.0.1:19713')).toEqual({ host: '127.0.0.1', port: 19713 });
    expect(parseListenAddress('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseListenAddress('localhost')).toBeNull();
    expect(parseListenAddress('1.2.3.4:99999')).toBeNull();
  });
});

describe('events log', () => {
  it('writes one schema-valid JSON line per event and rotates past its size', async () => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, 'x'.repeat(300));
    const log = new EventLog({ file, stdout: false, maxBytes: 200 });
    log.emit({ event: 'error', stage: 'sample', message: 'EACCES' });
    log.emit({ event: 'stopped', signal: 'SIGTERM' });
    await log.flush();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.map((l) => watchEventSchema.parse(JSON.parse(l)).event)).toEqual(['error', 'stopped']);
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('x'.repeat(300));
  });
});
