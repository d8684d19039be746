/**
 * `crosstalk watch`: a foreground process (run it under systemd: contrib/crosstalk-watch.service)
 * that reads cheap counters continuously, records and diagnoses a perf window when a series
 * departs from its baseline, keeps quiet baselines, writes events and serves Prometheus metrics.
 * SIGTERM/SIGINT once: finish the current window (the run stays whole) and exit 0; twice: kill
 * perf (the run is kept, marked incomplete).
 */
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { preflight } from '../collect/preflight.ts';
import { RECORD_DEFAULTS } from '../collect/record-options.ts';
import { PreflightFailedError } from '../collect/recorder.ts';
import { DEFAULT_MAX_CALLS_PER_CPU_SECOND } from '../collect/syscall-latency.ts';
import { RunStore, storeLocation } from '../store/store.ts';
import { EventLog } from '../watch/events.ts';
import { parseListenAddress } from '../watch/metrics.ts';
import { WatchBusyError } from '../watch/pid-file.ts';
import { TRIGGER_DEFAULTS } from '../watch/trigger.ts';
import { RETENTION_DEFAULTS } from '../watch/watch-runs.ts';
import { Watcher, type WatchOptions } from '../watch/watcher.ts';
import { CliError, oneLine } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { listenForInterrupts, parseRecordFlags, printWarnings, recordErrorToCli } from './record.ts';

/**
 * Loopback, and a port outside every range Prometheus components and exporters use: the server
 * ports 9090-9094 and the exporter allocations 9100-9999 (fully allocated by 2023).
 */
export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:19713';

interface WatchFlags {
  interval: string;
  metricsAddress: string;
  events?: string;
  eventsLog?: string;
  stateDir?: string;
  store?: string;
  profileEvery?: string;
  duration: string;
  frequency: string;
  callGraph: string;
  offCpu?: boolean;
  syscallRates: boolean;
  baselineEvery: string;
  baselineDuration: string;
  keepBaselines: string;
  cooldown: string;
  thresholdMads: string;
  baselineSamples: string;
  minSamples: string;
  sustain: string;
  retainDays: string;
  retainMib: string;
  minFreeMib: string;
  historyMib: string;
  maxContainers: string;
  maxCpuPercent: string;
  rescan: string;
}

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description(
      'always on: read cheap counters every few seconds; when a container or kernel counter departs from its baseline, record, diagnose against a quiet baseline and report',
    )
    .option('--interval <seconds>', 'seconds between counter readings', '5')
    .option(
      '--metrics-address <host:port>',
      "serve Prometheus metrics here ('off': none)",
      DEFAULT_METRICS_ADDRESS,
    )
    .option('--events <dest>', "'-': also write the events (JSON lines) to stdout")
    .option('--events-log <file>', 'the events log (default: STATE_DIR/events.jsonl)')
    .option('--state-dir <dir>', "history, events and pid file (default: 'watch' beside the run store)")
    .option('--store <dir>', 'run store (default: $CROSSTALK_STORE, else $XDG_DATA_HOME/crosstalk/runs)')
    .option('--profile-every <seconds>', 'also record and diagnose on a schedule')
    .option(
      '--duration <seconds>',
      'perf window of a triggered or scheduled recording',
      String(RECORD_DEFAULTS.durationSeconds),
    )
    .option('--frequency <hz>', 'samples per second per CPU', String(RECORD_DEFAULTS.frequency))
    .option('--call-graph <mode>', 'fp or dwarf', RECORD_DEFAULTS.callGraph)
    .option('--off-cpu', 'always record context switches (default: decided on the host, as record does)')
    .option('--no-off-cpu', 'never record context switches')
    .option('--no-syscall-rates', 'skip counting syscalls per container after each window')
    .option(
      '--no-syscall-latency',
      'skip measuring syscall latency and errors per container with eBPF (bpftrace) in each window',
    )
    .option(
      '--latency-budget <calls>',
      'stop the eBPF latency tracer of a window once it has traced this many calls per CPU per second of the window so far',
      String(DEFAULT_MAX_CALLS_PER_CPU_SECOND),
    )
    .option('--baseline-every <seconds>', 'record a quiet baseline when the newest is this old', '3600')
    .option(
      '--baseline-duration <seconds>',
      'perf window of a quiet baseline',
      String(RECORD_DEFAULTS.durationSeconds),
    )
    .option('--keep-baselines <n>', 'quiet baselines kept', String(RETENTION_DEFAULTS.keepBaselines))
    .option('--cooldown <seconds>', 'after a triggered recording, wait this long before the next', '300')
    .option(
      '--threshold-mads <k>',
      'a series fires above median + k scaled MADs of its window',
      String(TRIGGER_DEFAULTS.k),
    )
    .option(
      '--baseline-samples <n>',
      "readings in each series' rolling baseline",
      String(TRIGGER_DEFAULTS.window),
    )
    .option(
      '--min-samples <n>',
      'readings needed before a series may fire',
      String(TRIGGER_DEFAULTS.minSamples),
    )
    .option(
      '--sustain <n>',
      'consecutive departing readings needed to fire',
      String(TRIGGER_DEFAULTS.sustain),
    )
    .option('--retain-days <days>', "remove watch's unlabelled runs older than this", '7')
    .option(
      '--retain-mib <MiB>',
      "keep watch's runs together under this size",
      String(RETENTION_DEFAULTS.maxBytes / 1024 ** 2),
    )
    .option('--min-free-mib <MiB>', 'stop recording while the store has less free space', '1024')
    .option('--history-mib <MiB>', 'size of the history kept on disk', '64')
    .option('--max-containers <n>', 'containers with series and metrics (the busiest)', '100')
    .option('--max-cpu-percent <percent>', "cap of the always-on layer's own CPU, percent of one CPU", '0.5')
    .option('--rescan <seconds>', 'how often the list of cgroups is refreshed', '30')
    .action(async (flags: WatchFlags) => {
      const stop = new AbortController();
      const abort = new AbortController();
      const opts = await watchOptions(flags, stop.signal, abort.signal);
      const interrupts = listenForInterrupts((n) => {
        opts.log(
          n === 1
            ? 'stopping: finishing the current window'
            : 'aborting: perf killed; the run is kept, marked incomplete',
        );
        if (n === 1) stop.abort();
        else abort.abort();
      });
      try {
        await new Watcher(opts).run();
      } catch (e) {
        if (e instanceof WatchBusyError) throw new CliError(e.message, ExitCode.cantCreate);
        const io = e as NodeJS.ErrnoException;
        if (io?.code === 'EADDRINUSE' || io?.code === 'EADDRNOTAVAIL' || io?.code === 'EACCES')
          throw new CliError(
            `--metrics-address ${flags.metricsAddress}: ${io.code}; choose another`,
            ExitCode.unavailable,
          );
        throw recordErrorToCli(e);
      } finally {
        interrupts.dispose();
      }
    });
}

async function watchOptions(flags: WatchFlags, stop: AbortSignal, abort: AbortSignal): Promise<WatchOptions> {
  const rec = parseRecordFlags({ ...flags, label: undefined });
  const storeRoot = storeLocation(flags.store).root;
  const stateDir = resolve(flags.stateDir ?? join(dirname(storeRoot), 'watch'));
  const log = (line: string) => process.stderr.write(`crosstalk watch: ${oneLine(line)}\n`);
  if (flags.events !== undefined && flags.events !== '-')
    throw new CliError(
      `--events: expected '-' (stdout), got ${JSON.stringify(flags.events)}; the log file is --events-log`,
      ExitCode.usage,
    );
  // Fail at start, not at the first trigger, when perf cannot record here.
  const pre = await preflight({ ...rec, storeRoot });
  if (pre.fatal)
    throw recordErrorToCli(new PreflightFailedError(pre.problems.filter((p) => p.severity === 'fatal')));
  printWarnings(pre.problems.filter((p) => p.severity === 'warning'));
  const seconds = (v: string, flag: string, min = 0.1) => num(v, flag, min, 7 * 86400);
  const int = (v: string, flag: string, min = 1) => {
    const n = num(v, flag, min, 1_000_000);
    if (!Number.isInteger(n))
      throw new CliError(`${flag}: expected an integer, got ${JSON.stringify(v)}`, ExitCode.usage);
    return n;
  };
  const rule = {
    k: num(flags.thresholdMads, '--threshold-mads', 0.5, 1000),
    window: int(flags.baselineSamples, '--baseline-samples', 3),
    minSamples: int(flags.minSamples, '--min-samples', 2),
    sustain: int(flags.sustain, '--sustain'),
  };
  if (rule.minSamples > rule.window)
    throw new CliError('--min-samples: cannot exceed --baseline-samples', ExitCode.usage);
  return {
    store: new RunStore(storeRoot),
    stateDir,
    intervalSeconds: seconds(flags.interval, '--interval'),
    rule,
    cooldownSeconds: num(flags.cooldown, '--cooldown', 0, 7 * 86400),
    windowSeconds: rec.durationSeconds,
    profileEverySeconds:
      flags.profileEvery === undefined ? null : seconds(flags.profileEvery, '--profile-every', 1),
    baselineEverySeconds: seconds(flags.baselineEvery, '--baseline-every', 1),
    baselineSeconds: seconds(flags.baselineDuration, '--baseline-duration'),
    retention: {
      maxAgeMs: num(flags.retainDays, '--retain-days', 0, 36500) * 86400_000,
      maxBytes: num(flags.retainMib, '--retain-mib', 1, 1e9) * 1024 ** 2,
      keepBaselines: int(flags.keepBaselines, '--keep-baselines'),
    },
    minFreeBytes: num(flags.minFreeMib, '--min-free-mib', 0, 1e9) * 1024 ** 2,
    historyBytes: num(flags.historyMib, '--history-mib', 1, 1e6) * 1024 ** 2,
    maxContainers: int(flags.maxContainers, '--max-containers'),
    maxCpuShare: num(flags.maxCpuPercent, '--max-cpu-percent', 0.01, 100) / 100,
    rescanSeconds: seconds(flags.rescan, '--rescan', 1),
    record: {
      frequency: rec.frequency,
      callGraph: rec.callGraph,
      offCpu: rec.offCpu,
      syscallRates: rec.syscallRates,
      syscallLatency: rec.syscallLatency,
      syscallLatencyBudget: rec.syscallLatencyBudget,
    },
    metrics: metricsAddress(flags.metricsAddress),
    events: new EventLog({
      file: resolve(flags.eventsLog ?? join(stateDir, 'events.jsonl')),
      stdout: flags.events === '-',
      onError: (e) => log(`cannot write the events log: ${(e as Error).message}`),
    }),
    log,
    stop,
    abort,
  };
}

function metricsAddress(v: string): WatchOptions['metrics'] {
  if (v === 'off') return null;
  const a = parseListenAddress(v);
  if (a === null)
    throw new CliError(
      `--metrics-address: expected HOST:PORT (e.g. ${DEFAULT_METRICS_ADDRESS}) or off, got ${JSON.stringify(v)}`,
      ExitCode.usage,
    );
  return a;
}

function num(v: string, flag: string, min: number, max: number): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new CliError(
      `${flag}: expected a number from ${min} to ${max}, got ${JSON.stringify(v)}`,
      ExitCode.usage,
    );
  return n;
}
