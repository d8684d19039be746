// `crosstalk watch` for real: Debian's prometheus scrapes it on loopback; a lab scenario
// (negative-dentries) started beside it must be caught by the always-on layer, recorded,
// diagnosed against watch's own quiet baseline and show in Prometheus (crosstalk_findings_active)
// and in the events log naming the lab's antagonist. SIGTERM stops it cleanly (also mid-recording),
// and a restart resumes its history. Needs root, perf, cgroup v2 and /usr/bin/prometheus.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroupSupport } from '../src/lab/cgroupfs.ts';
import { runScenario } from '../src/lab/runner.ts';
import type { WatchEvent } from '../src/report/watch-event-schema.ts';
import { watchEventSchema } from '../src/report/watch-event-schema.ts';
import { RunStore } from '../src/store/store.ts';
import { BIN } from './support/cli.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const perf = spawnSync('perf', ['--version'], { encoding: 'utf8' });
const support = process.geteuid?.() === 0 ? cgroupSupport() : null;
const skip =
  support === null
    ? 'needs root'
    : !support.ok
      ? `needs cgroup v2: ${support.reason}`
      : perf.status !== 0
        ? 'needs perf (linux-perf)'
        : spawnSync(PROMETHEUS, ['--version']).status !== 0
          ? `needs Debian's prometheus at ${PROMETHEUS} (scripts/setup.sh --test)`
          : '';

const dir = mkdtempSync(join(tmpdir(), 'crosstalk-watch-e2e-'));
const store = join(dir, 'runs');
const state = join(dir, 'state');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** A watch process whose stdout carries the events (`--events -`). */
class WatchProcess {
  readonly events: WatchEvent[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private waiters: (() => void)[] = [];

  constructor(extra: string[]) {
    const args = [
      'watch',
      '--events',
      '-',
      '--store',
      store,
      '--state-dir',
      state,
      '--metrics-address',
      '127.0.0.1:0',
      // Short everything, so the episode is caught in seconds: a reading a second, judged against
      // the last 60 after 4, two departing readings in a row, 3 s windows, no cooldown.
      '--interval',
      '1',
      '--baseline-samples',
      '60',
      '--min-samples',
      '4',
      '--sustain',
      '2',
      '--cooldown',
      '0',
      '--duration',
      '3',
      '--baseline-duration',
      '2',
      '--min-free-mib',
      '50',
      '--max-cpu-percent',
      '100',
      // The lab's containers appear mid-test: walk the cgroups every 2 s, not every 30.
      '--rescan',
      '2',
      ...extra,
    ];
    this.child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(this.child);
    let buffered = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) this.events.push(watchEventSchema.parse(JSON.parse(line)));
      for (const w of this.waiters) w();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** The first event that satisfies `match`, waiting up to `ms`. */
  async waitFor<E extends WatchEvent>(match: (e: WatchEvent) => e is E, ms: number, what: string): Promise<E>;
  async waitFor(match: (e: WatchEvent) => boolean, ms: number, what: string): Promise<WatchEvent>;
  async waitFor(match: (e: WatchEvent) => boolean, ms: number, what: string): Promise<WatchEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline || this.child.exitCode !== null)
        throw new Error(
          `no ${what} within ${ms} ms; events: ${JSON.stringify(this.events)}\nstderr: ${this.stderr}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      this.waiters = [];
    }
  }

  terminate(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(port: number, promql: string): Promise<PromResult[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: PromResult[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

async function until<T>(what: string, ms: number, f: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const isStarted = (e: WatchEvent): e is Extract<WatchEvent, { event: 'started' }> => e.event === 'started';
const isFinding = (e: WatchEvent): e is Extract<WatchEvent, { event: 'finding' }> => e.event === 'finding';
const isRecorded = (e: WatchEvent): e is Extract<WatchEvent, { event: 'recorded' }> => e.event === 'recorded';

describe.skipIf(skip !== '')(
  `crosstalk watch with Prometheus and a lab episode ${skip ? `(skipped: ${skip})` : ''}`,
  () => {
    // About a minute on a quiet 2-CPU host; the limit leaves room for a busy one.
    it('is scraped, catches the lab episode against its own baseline, stops on SIGTERM and resumes', {
      timeout: 300_000,
    }, async () => {
      const watch = new WatchProcess([]);
      const started = await watch.waitFor(isStarted, 30_000, 'started event');
      expect(started.historySamples).toBe(0);
      const target = started.metricsAddress!;

      const promPort = await freePort();
      const config = join(dir, 'prometheus.yml');
      writeFileSync(
        config,
        `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: crosstalk-watch\n    static_configs:\n      - targets: ['${target}']\n`,
      );
      const prometheus = spawn(
        PROMETHEUS,
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          '--log.level=warn',
        ],
        { stdio: 'ignore' },
      );
      children.push(prometheus);
      try {
        // The series arrive through Prometheus's own query API.
        const samples = await until('crosstalk_watch_samples_total in Prometheus', 30_000, async () => {
          const r = await query(promPort, 'crosstalk_watch_samples_total');
          return r.length > 0 && Number(r[0].value[1]) > 0 ? r : null;
        });
        expect(samples[0].metric.job).toBe('crosstalk-watch');
        const pressure = await query(promPort, 'crosstalk_host_pressure_stall_ratio');
        expect(pressure.map((r) => r.metric.resource).sort()).toEqual(['cpu', 'io', 'memory']);

        // A quiet baseline first: nothing departs while only the host's usual load runs.
        const baseline = await watch.waitFor(
          (e) => isRecorded(e) && e.kind === 'baseline' && e.status === 'complete',
          60_000,
          'quiet baseline',
        );
        if (!isRecorded(baseline)) throw new Error('unreachable');

        // The episode: negative-dentries with its unfixed neighbours held running until watch reports.
        const lab = await runScenario('negative-dentries', {
          durationSeconds: 1,
          runs: 1,
          warmupSeconds: 0.5,
          waitSeconds: 120,
          onSignal: 'throw',
          onContended: async (ctx) => {
            const antagonists = new Set(
              ctx.containers.filter((c) => c.role === 'neighbour').map((c) => c.name),
            );
            return watch.waitFor(
              (e): e is Extract<WatchEvent, { event: 'finding' }> =>
                isFinding(e) && e.kind === 'triggered' && antagonists.has(e.antagonist?.name ?? ''),
              90_000,
              `a finding naming one of ${[...antagonists].join(', ')}`,
            );
          },
        });
        const finding = lab.contended!.value;
        console.log(`finding event: ${JSON.stringify(finding)}`);
        expect(finding.signature).toBe('negative-dentries');
        expect(finding.baseline?.run).toBe(baseline.run);
        expect(finding.trigger?.kind).toBe('anomaly');
        // The stored run carries its trigger and the baseline it was diagnosed against.
        const marker = JSON.parse(readFileSync(join(store, finding.run, 'watch.json'), 'utf8'));
        expect(marker).toMatchObject({ kind: 'triggered', diagnosed: true, baseline: { run: baseline.run } });
        expect(marker.trigger.series).toBeTypeOf('string');
        // The triggered window carries the victim side (eBPF latency) as record and doctor do, and
        // its diff report has it; the event says what the severity rests on.
        const latency = JSON.parse(readFileSync(join(store, finding.run, 'syscall-latency.json'), 'utf8'));
        expect(['recorded', 'unavailable']).toContain(latency.status);
        const report = JSON.parse(readFileSync(join(store, finding.run, 'report-diff.json'), 'utf8'));
        if (latency.status === 'recorded') expect(report.syscallLatency?.target).toBeTruthy();
        expect(finding.severityBasis).toBeDefined();
        // The events log on disk has the same line.
        const logged = readFileSync(join(state, 'events.jsonl'), 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => watchEventSchema.parse(JSON.parse(l)));
        expect(
          logged.some(
            (e) => isFinding(e) && e.run === finding.run && e.antagonist?.name === finding.antagonist?.name,
          ),
        ).toBe(true);

        // ... and Prometheus has the finding.
        const active = await until('crosstalk_findings_active for negative-dentries', 30_000, async () => {
          const r = await query(promPort, 'crosstalk_findings_active{signature="negative-dentries"}');
          return r.length > 0 && Number(r[0].value[1]) >= 1 ? r : null;
        });
        expect(active[0].metric.severity).toBe(finding.severity);
        // The lab's containers had their own series (the antagonist's CPU, by its container name).
        // They are gone now, so Prometheus has marked their series stale: look back over the range.
        const usage = await query(
          promPort,
          `max_over_time(crosstalk_container_cpu_usage_seconds_total{container="${finding.antagonist!.name}"}[5m])`,
        );
        const seen = await query(
          promPort,
          'count by (container) (max_over_time(crosstalk_container_cpu_usage_seconds_total[5m]))',
        );
        expect(usage.length, `containers seen: ${seen.map((r) => r.metric.container).join(', ')}`).toBe(1);
        expect(Number(usage[0].value[1])).toBeGreaterThan(0);

        // SIGTERM: a clean stop, no run left in `recording`.
        const code = await watch.terminate();
        expect(code, watch.stderr).toBe(0);
        expect(watch.events.at(-1)?.event).toBe('stopped');
        const runs = await new RunStore(store).listRuns();
        expect(runs.filter((r) => r.state === 'recording' || r.state === 'abandoned')).toEqual([]);
        const persisted = readFileSync(join(state, 'history.jsonl'), 'utf8')
          .split('\n')
          .filter((l) => l !== '').length;

        // A restart resumes its history and baselines; SIGTERM mid-recording keeps the run whole.
        const again = new WatchProcess(['--profile-every', '1']);
        const resumed = await again.waitFor(isStarted, 30_000, 'started event after the restart');
        expect(resumed.historySamples).toBe(Math.min(60, persisted));
        expect(resumed.historySamples).toBeGreaterThan(4);
        expect(resumed.baselines).toContain(baseline.run);
        await again.waitFor(
          (e) => e.event === 'trigger' && e.trigger.kind === 'schedule',
          30_000,
          'scheduled trigger',
        );
        // Mid-recording: the scheduled run exists and perf has had a moment to start.
        const known = new Set(runs.map((r) => r.id));
        await until('the scheduled run being recorded', 30_000, async () => {
          const now = await new RunStore(store).listRuns();
          return now.find((r) => !known.has(r.id) && r.state === 'recording') ?? null;
        });
        await new Promise((r) => setTimeout(r, 1000));
        expect(await again.terminate(), again.stderr).toBe(0);
        const recorded = again.events.find(isRecorded);
        expect(recorded, again.stderr).toBeDefined();
        expect(['complete', 'interrupted']).toContain(recorded!.status);
        const after = await new RunStore(store).listRuns();
        const stopped = after.find((r) => r.id === recorded!.run)!;
        expect(['interrupted', 'complete']).toContain(stopped.state);
        expect(JSON.parse(readFileSync(join(stopped.dir, 'watch.json'), 'utf8')).kind).toBe('scheduled');
      } finally {
        prometheus.kill('SIGTERM');
      }
    });
  },
);
