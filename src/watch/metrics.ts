/**
 * Prometheus metrics of `crosstalk watch` (prom-client, text exposition format 0.0.4) and the
 * loopback HTTP server that serves them on GET /metrics.
 *
 * Names follow Prometheus conventions: `crosstalk_` prefix, base units in the name (`_seconds`,
 * `_bytes`, `_ratio` for 0..1), `_total` for counters. Label cardinality is bounded:
 *   container, id   at most --max-containers containers (default 100; the busiest by CPU kept)
 *   resource        cpu | memory | io
 *   syscall         one (the container's top syscall in the last recording) per container
 *   signature       the signature catalog (src/signatures, 11 ids) plus `generic` and `cannot-answer`
 *   severity        critical | warning | info
 *   kind, status    run kind (triggered | scheduled | baseline) x status (complete | interrupted | incomplete | failed)
 *   series          the judged series of src/watch/series.ts (12)
 *   stage           sample | history | record | diagnose | retention | metrics
 *   layer           always_on | triggered
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ContainerTotals, IntervalValues, SeriesName } from './series.ts';

export interface RecordingFigures {
  /** Container id -> figures from the last diagnosed recording. */
  containers: Map<
    string,
    {
      name: string;
      kernelShare: number;
      runnableTasks: number | null;
      topSyscall: { name: string; perSecond: number } | null;
    }
  >;
}

/** What the metrics read at scrape time; the watcher keeps it current. */
export interface MetricsSource {
  latest(): IntervalValues | null;
  totals(): Map<string, ContainerTotals>;
  contextSwitches(): number | null;
  lastRecording(): RecordingFigures | null;
  /** Findings of the latest triggered or scheduled run: counts by signature and severity. */
  activeFindings(): { signature: string; severity: string; count: number }[];
  health(): {
    lastSampleAt: number | null;
    intervalSeconds: number;
    historySamples: number;
    recording: boolean;
    diskFull: boolean;
    cpuSeconds: { always_on: number; triggered: number };
    newestBaselineAt: number | null;
  };
}

export interface WatchCounters {
  samples: Counter<string>;
  recordings: Counter<'kind' | 'status'>;
  triggers: Counter<'series'>;
  errors: Counter<'stage'>;
  findings: Counter<'signature' | 'severity'>;
  harmedVictims: Counter<'signature'>;
}

const RESOURCES = ['cpu', 'memory', 'io'] as const;

export function watchRegistry(src: MetricsSource): { registry: Registry; counters: WatchCounters } {
  const registry = new Registry();
  const r = [registry];
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    collect: (g: Gauge<L>) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: r,
      collect() {
        this.reset();
        collect(this);
      },
    });
  const mirror = <L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    collect: (c: Counter<L>) => void,
  ) =>
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: r,
      collect() {
        // A kernel counter mirrored: the value is the kernel's, not incremented here.
        this.reset();
        collect(this);
      },
    });
  containerMetrics(src, gauge, mirror);
  hostMetrics(src, gauge, mirror);
  recordingMetrics(src, gauge);
  healthMetrics(src, gauge, mirror);
  const counters: WatchCounters = {
    samples: new Counter({
      name: 'crosstalk_watch_samples_total',
      help: 'counter readings taken by the always-on layer',
      registers: r,
    }),
    recordings: new Counter({
      name: 'crosstalk_watch_recordings_total',
      help: 'perf recordings watch made, by kind (triggered, scheduled, baseline) and outcome',
      labelNames: ['kind', 'status'],
      registers: r,
    }),
    triggers: new Counter({
      name: 'crosstalk_watch_triggers_total',
      help: 'intervals in which a series departed from its rolling baseline and fired, by series',
      labelNames: ['series'],
      registers: r,
    }),
    errors: new Counter({
      name: 'crosstalk_watch_errors_total',
      help: 'errors by stage',
      labelNames: ['stage'],
      registers: r,
    }),
    findings: new Counter({
      name: 'crosstalk_findings_total',
      help: 'findings reported by triggered and scheduled runs, by signature and severity',
      labelNames: ['signature', 'severity'],
      registers: r,
    }),
    harmedVictims: new Counter({
      name: 'crosstalk_harmed_victims_total',
      help: 'victims named by findings whose harm was measured as degraded against the quiet baseline (syscall latency, runnable or blocked time), by signature',
      labelNames: ['signature'],
      registers: r,
    }),
  };
  return { registry, counters };
}

type GaugeOf = <L extends string>(
  name: string,
  help: string,
  labels: L[],
  collect: (g: Gauge<L>) => void,
) => Gauge<L>;
type CounterOf = <L extends string>(
  name: string,
  help: string,
  labels: L[],
  collect: (c: Counter<L>) => void,
) => Counter<L>;

function containerMetrics(src: MetricsSource, gauge: GaugeOf, mirror: CounterOf): void {
  const interval = (series: SeriesName, set: (id: string, name: string, v: number) => void) => {
    for (const [id, c] of src.latest()?.containers ?? []) {
      const v = c.values[series];
      if (v !== undefined) set(id, c.name, v);
    }
  };
  gauge(
    'crosstalk_container_pressure_stall_ratio',
    'share of wall time some task of the container stalled (PSI some), last interval',
    ['container', 'id', 'resource'],
    (g) => {
      for (const res of RESOURCES)
        interval(`cgroup.${res}.pressure.some`, (id, container, v) =>
          g.set({ container, id, resource: res }, v),
        );
    },
  );
  gauge(
    'crosstalk_container_cpu_throttled_ratio',
    'share of CFS periods the container was throttled in, last interval',
    ['container', 'id'],
    (g) => interval('cgroup.cpu.throttled.ratio', (id, container, v) => g.set({ container, id }, v)),
  );
  mirror(
    'crosstalk_container_pressure_stalled_seconds_total',
    'time some task of the container stalled (PSI some total)',
    ['container', 'id', 'resource'],
    (c) => {
      for (const [id, t] of src.totals())
        for (const res of RESOURCES) {
          const v = t.stalledSeconds[res];
          if (v !== undefined) c.inc({ container: t.name, id, resource: res }, v);
        }
    },
  );
  const perContainer: [string, string, (t: ContainerTotals) => number | null][] = [
    [
      'crosstalk_container_cpu_usage_seconds_total',
      'CPU time the container used (cpu.stat usage_usec)',
      (t) => t.usageSeconds,
    ],
    [
      'crosstalk_container_cpu_throttled_seconds_total',
      'time the container was throttled (cpu.stat throttled_usec)',
      (t) => t.throttledSeconds,
    ],
    [
      'crosstalk_container_cpu_throttled_periods_total',
      'CFS periods the container was throttled in (cpu.stat nr_throttled)',
      (t) => t.throttledPeriods,
    ],
  ];
  for (const [name, help, value] of perContainer)
    mirror(name, help, ['container', 'id'], (c) => {
      for (const [id, t] of src.totals()) {
        const v = value(t);
        if (v !== null) c.inc({ container: t.name, id }, v);
      }
    });
}

function hostMetrics(src: MetricsSource, gauge: GaugeOf, mirror: CounterOf): void {
  const host = (series: SeriesName) => src.latest()?.host[series];
  const simple = (name: string, help: string, series: SeriesName) =>
    gauge(name, help, [], (g) => {
      const v = host(series);
      if (v !== undefined) g.set(v);
    });
  gauge(
    'crosstalk_host_pressure_stall_ratio',
    'share of wall time some task on the host stalled (PSI some), last interval',
    ['resource'],
    (g) => {
      for (const res of RESOURCES) {
        const v = host(`psi.host.${res}.some`);
        if (v !== undefined) g.set({ resource: res }, v);
      }
    },
  );
  simple(
    'crosstalk_host_cpu_steal_ratio',
    'share of host CPU time stolen by the hypervisor, last interval',
    'cpu.steal.ratio',
  );
  simple('crosstalk_host_negative_dentries', 'negative dentries in the dentry cache', 'dentry.negative');
  simple('crosstalk_host_dentries', 'dentries in the dentry cache', 'dentry.count');
  simple('crosstalk_host_dentry_slab_bytes', 'memory of the dentry slab cache', 'slab.dentry.bytes');
  simple(
    'crosstalk_host_reclaim_scanned_pages_per_second',
    'pages scanned for reclaim per second (kswapd and direct), last interval',
    'vmstat.pgscan.rate',
  );
  mirror(
    'crosstalk_host_context_switches_total',
    'context switches on the host since boot (/proc/stat ctxt)',
    [],
    (c) => {
      const v = src.contextSwitches();
      if (v !== null) c.inc(v);
    },
  );
}

function recordingMetrics(src: MetricsSource, gauge: GaugeOf): void {
  const each = (
    f: (
      id: string,
      c: NonNullable<ReturnType<MetricsSource['lastRecording']>>['containers'] extends Map<string, infer V>
        ? V
        : never,
    ) => void,
  ) => {
    for (const [id, c] of src.lastRecording()?.containers ?? []) f(id, c);
  };
  gauge(
    'crosstalk_container_kernel_cpu_ratio',
    "container's kernel time as a share of host CPU samples, last recording",
    ['container', 'id'],
    (g) => each((id, c) => g.set({ container: c.name, id }, c.kernelShare)),
  );
  gauge(
    'crosstalk_container_runnable_tasks',
    "container's tasks waiting for a CPU on average (off-CPU, runnable), last recording",
    ['container', 'id'],
    (g) =>
      each((id, c) => {
        if (c.runnableTasks !== null) g.set({ container: c.name, id }, c.runnableTasks);
      }),
  );
  gauge(
    'crosstalk_container_top_syscall_calls_per_second',
    "calls per second of the container's top syscall, last recording",
    ['container', 'id', 'syscall'],
    (g) =>
      each((id, c) => {
        if (c.topSyscall)
          g.set({ container: c.name, id, syscall: c.topSyscall.name }, c.topSyscall.perSecond);
      }),
  );
  gauge(
    'crosstalk_findings_active',
    'findings of the latest triggered or scheduled run, by signature and severity',
    ['signature', 'severity'],
    (g) => {
      for (const f of src.activeFindings()) g.set({ signature: f.signature, severity: f.severity }, f.count);
    },
  );
}

function unixSeconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000;
}

function healthMetrics(src: MetricsSource, gauge: GaugeOf, mirror: CounterOf): void {
  const h = () => src.health();
  const simple = (name: string, help: string, value: () => number | null) =>
    gauge(name, help, [], (g) => {
      const v = value();
      if (v !== null) g.set(v);
    });
  simple(
    'crosstalk_watch_last_sample_timestamp_seconds',
    'when the always-on layer last read its counters (Unix time)',
    () => unixSeconds(h().lastSampleAt),
  );
  simple(
    'crosstalk_watch_sample_interval_seconds',
    'seconds between counter readings (raised when over the CPU cap)',
    () => h().intervalSeconds,
  );
  simple('crosstalk_watch_history_samples', 'intervals in the rolling history', () => h().historySamples);
  simple('crosstalk_watch_recording', '1 while perf records a window', () => (h().recording ? 1 : 0));
  simple(
    'crosstalk_watch_disk_full',
    '1 while recording is stopped because the store is short of space',
    () => (h().diskFull ? 1 : 0),
  );
  simple('crosstalk_watch_resident_memory_bytes', "watch's resident memory", () => process.memoryUsage.rss());
  simple(
    'crosstalk_watch_baseline_timestamp_seconds',
    'when the newest quiet baseline was recorded (Unix time)',
    () => unixSeconds(h().newestBaselineAt),
  );
  mirror(
    'crosstalk_watch_cpu_seconds_total',
    "watch's own CPU time by layer (perf's is not included)",
    ['layer'],
    (c) => {
      const cpu = h().cpuSeconds;
      c.inc({ layer: 'always_on' }, cpu.always_on);
      c.inc({ layer: 'triggered' }, cpu.triggered);
    },
  );
}

export interface MetricsServer {
  /** host:port actually bound. */
  address: string;
  close(): Promise<void>;
}

/** `HOST:PORT` or `[IPv6]:PORT`. */
export function parseListenAddress(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? m[2], port };
}

/** Serves GET /metrics; everything else is 404. */
export function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  onError: (e: unknown) => void,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('crosstalk watch: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e) => {
        onError(e);
        res.writeHead(500).end();
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({
        address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
