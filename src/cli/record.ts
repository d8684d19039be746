/**
 * `crosstalk record`: record the whole host for a while and keep it as a run in the store.
 * Ctrl-C (or SIGTERM) once ends the window early and keeps a whole run; twice kills perf and keeps
 * what there is, marked incomplete. Progress (a countdown) is shown on a TTY only.
 */
import type { Command } from 'commander';
import {
  type CallGraphMode,
  formatProblem,
  type PreflightProblem,
  type ProblemKind,
} from '../collect/preflight.ts';
import { RECORD_DEFAULTS, type RecordProgress } from '../collect/record-options.ts';
import {
  PreflightFailedError,
  RecordingCancelledError,
  type RunInfo,
  recordRun,
} from '../collect/recorder.ts';
import { DEFAULT_MAX_CALLS_PER_CPU_SECOND } from '../collect/syscall-latency.ts';
import { RunStore, storeLocation } from '../store/store.ts';
import { CliError, oneLine, storeErrorToCli } from './errors.ts';
import { ExitCode } from './exit-codes.ts';

export interface RecordFlags {
  duration: string;
  frequency: string;
  callGraph: string;
  label?: string;
  store?: string;
  syscallRates: boolean;
  /** --no-syscall-latency sets it false. */
  syscallLatency?: boolean;
  latencyBudget?: string;
  /** undefined: decided on the host (RECORD_DEFAULTS.offCpu, 'auto'). */
  offCpu?: boolean;
  /** --archive: perf.data.tar.bz2 in the run. */
  archive?: boolean;
  json?: boolean;
}

/** The recording options `record` and `doctor` share. */
export function withRecordingOptions(cmd: Command): Command {
  return cmd
    .option('--duration <seconds>', 'length of the recording window', String(RECORD_DEFAULTS.durationSeconds))
    .option('--frequency <hz>', 'samples per second per CPU', String(RECORD_DEFAULTS.frequency))
    .option(
      '--call-graph <mode>',
      'fp (cheap; loses the caller of libc wrappers) or dwarf (keeps it; ~15x the data)',
      RECORD_DEFAULTS.callGraph,
    )
    .option('--label <name>', 'label the run, e.g. healthy for a baseline to compare against later')
    .option(
      '--store <dir>',
      'run store directory (default: $CROSSTALK_STORE, else $XDG_DATA_HOME/crosstalk/runs)',
    )
    .option(
      '--no-syscall-rates',
      'skip counting syscalls per container (done for 1-3 s after the profile window; costs ~170 ns per syscall while it runs)',
    )
    .option(
      '--no-syscall-latency',
      'skip measuring syscall latency and errors per container with eBPF (bpftrace) during the window',
    )
    .option(
      '--latency-budget <calls>',
      'stop the eBPF latency tracer once it has traced this many calls per CPU per second of the window so far (each traced call costs 1.5-5 us on a 2-vCPU VM)',
      String(DEFAULT_MAX_CALLS_PER_CPU_SECOND),
    )
    .option(
      '--off-cpu',
      'record every context switch with its call chain (off-CPU time: who waits, and where); default: when the host switches rarely enough that it costs under 5% CPU',
    )
    .option('--no-off-cpu', 'do not record context switches')
    .option(
      '--archive',
      'also write perf.data.tar.bz2 in the run (what perf archive packs: kallsyms and the sampled binaries by build id), so analyze works on a host without perf',
    );
}

export function registerRecord(program: Command): void {
  withRecordingOptions(
    program
      .command('record')
      .description(
        'record the whole host with perf (all cgroups, call graphs) plus kernel counters, kept as a run',
      ),
  )
    .option('--json', 'print the run as JSON on stdout')
    .action(async (flags: RecordFlags) => {
      const info = await recordFromFlags(flags);
      process.exitCode = exitCodeOf(info);
    });
}

/** Parses the flags, records, prints the outcome; shared with `doctor`. */
export async function recordFromFlags(flags: RecordFlags, print = true): Promise<RunInfo> {
  const opts = parseRecordFlags(flags);
  const store = new RunStore(storeLocation(flags.store).root);
  const interrupts = listenForInterrupts((n) =>
    process.stderr.write(
      n === 1
        ? '\ncrosstalk: stopping: perf is finishing the file (Ctrl-C again to abort and keep an incomplete run)\n'
        : '\ncrosstalk: aborting: perf killed; the run is kept, marked incomplete\n',
    ),
  );
  const view = progressView(process.stderr.isTTY === true);
  let info: RunInfo;
  try {
    info = await recordRun({
      ...opts,
      store,
      stop: interrupts.stop,
      abort: interrupts.abort,
      onProgress: view.update,
    });
  } catch (e) {
    throw recordErrorToCli(e);
  } finally {
    view.done();
    interrupts.dispose();
  }
  if (print) printOutcome(info, flags.json === true);
  return info;
}

export function parseRecordFlags(
  flags: Pick<
    RecordFlags,
    | 'duration'
    | 'frequency'
    | 'callGraph'
    | 'label'
    | 'syscallRates'
    | 'offCpu'
    | 'syscallLatency'
    | 'latencyBudget'
    | 'archive'
  >,
) {
  const budget = Number(flags.latencyBudget ?? DEFAULT_MAX_CALLS_PER_CPU_SECOND);
  if (!Number.isFinite(budget) || budget <= 0) {
    throw new CliError(
      `--latency-budget: expected a positive number of calls per CPU per second, got ${JSON.stringify(flags.latencyBudget)}`,
      ExitCode.usage,
    );
  }
  const durationSeconds = Number(flags.duration);
  if (!Number.isFinite(durationSeconds) || durationSeconds <= 0 || durationSeconds > 86400) {
    throw new CliError(
      `--duration: expected seconds above 0 and at most 86400 (one day), got ${JSON.stringify(flags.duration)}`,
      ExitCode.usage,
    );
  }
  const frequency = Number(flags.frequency);
  if (!Number.isInteger(frequency) || frequency <= 0 || frequency > 100_000) {
    throw new CliError(
      `--frequency: expected an integer number of Hz (1-100000), got ${JSON.stringify(flags.frequency)}`,
      ExitCode.usage,
    );
  }
  const callGraph = flags.callGraph;
  if (callGraph !== 'fp' && callGraph !== 'dwarf') {
    throw new CliError(
      `--call-graph: expected fp or dwarf, got ${JSON.stringify(callGraph)}`,
      ExitCode.usage,
    );
  }
  return {
    durationSeconds,
    frequency,
    callGraph: callGraph as CallGraphMode,
    label: flags.label,
    syscallRates: flags.syscallRates,
    syscallLatency: flags.syscallLatency !== false,
    syscallLatencyBudget: budget,
    offCpu: flags.offCpu ?? RECORD_DEFAULTS.offCpu,
    archive: flags.archive === true,
  };
}

export interface Interrupts {
  /** Aborted on the first SIGINT/SIGTERM: end the window early. */
  stop: AbortSignal;
  /** Aborted on the second: kill perf. */
  abort: AbortSignal;
  dispose(): void;
}

/** SIGINT/SIGTERM handlers for the length of a recording; `notice(n)` is told of the n-th signal. */
export function listenForInterrupts(notice: (n: number) => void): Interrupts {
  const stop = new AbortController();
  const abort = new AbortController();
  let count = 0;
  const handler = () => {
    count++;
    notice(count);
    if (count === 1) stop.abort();
    else abort.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    stop: stop.signal,
    abort: abort.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

const PHASE_TEXT: Record<Exclude<RecordProgress['phase'], 'recording' | 'checking'>, string> = {
  preflight: 'checking perf and permissions',
  snapshot: 'reading kernel counters and cgroups',
  starting: 'starting perf',
  stopping: 'stopping perf (it writes its file)',
  syscalls: 'counting syscalls per cgroup',
  symbols: 'keeping the sampled binaries for symbols',
};

/** One status line on stderr, redrawn in place; silent when stderr is not a terminal. */
export function progressView(enabled: boolean): { update: (p: RecordProgress) => void; done: () => void } {
  let shown = false;
  const draw = (text: string) => {
    shown = true;
    process.stderr.write(`\r\u001b[K${text}`);
  };
  return {
    update(p) {
      if (!enabled) return;
      if (p.phase === 'recording') {
        const left = Math.max(0, Math.ceil(p.durationSeconds - p.elapsedSeconds));
        draw(`recording the whole host: ${left} s left (Ctrl-C to stop early)`);
      } else if (p.phase === 'checking') {
        draw(`reading perf.data back ${Math.floor(p.fraction * 100)}%`);
      } else {
        draw(`${PHASE_TEXT[p.phase]}${p.phase === 'snapshot' ? ` (${p.when})` : ''}...`);
      }
    },
    done() {
      if (shown) process.stderr.write('\r\u001b[K');
    },
  };
}

const KIND_EXIT: Record<ProblemKind, number> = {
  permission: ExitCode.noPermission,
  'missing-tool': ExitCode.unavailable,
  unsupported: ExitCode.unavailable,
  resources: ExitCode.cantCreate,
};

/** Preflight problems become one line each (all but the last written here, the last thrown). */
export function recordErrorToCli(e: unknown): unknown {
  if (e instanceof PreflightFailedError) {
    const [first, ...rest] = e.problems;
    for (const p of rest) process.stderr.write(`crosstalk: ${oneLine(formatProblem(p))}\n`);
    return new CliError(formatProblem(first), KIND_EXIT[first.kind]);
  }
  if (e instanceof RecordingCancelledError)
    return new CliError(`${e.message}; nothing was recorded`, ExitCode.interrupted);
  if (e instanceof RangeError) return new CliError(e.message, ExitCode.usage);
  const io = e as NodeJS.ErrnoException;
  if (io?.path && ['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT'].includes(io.code ?? '')) {
    return new CliError(
      `cannot write the run store: ${io.path}: ${io.code}; choose another with --store DIR`,
      ExitCode.cantCreate,
    );
  }
  return storeErrorToCli(e);
}

export function printWarnings(problems: readonly PreflightProblem[]): void {
  for (const p of problems) process.stderr.write(`crosstalk: warning: ${oneLine(formatProblem(p))}\n`);
}

/**
 * What the recording holds, named per event: `analyze` counts samples of the profiled event
 * only, so "1,632 samples, 14,232 context switches" rather than one sum that matches nothing.
 */
export function samplesText(check: {
  samples: number;
  byEvent?: { event: string; samples: number }[];
}): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const isSwitch = (e: { event: string }) => /^sched:sched_switch\b/.test(e.event);
  // perf adds a `dummy` event for side-band records; it has no samples.
  const events = (check.byEvent ?? []).filter((e) => e.samples > 0);
  if (events.length === 0) return `${n(check.samples)} samples`;
  const profiled = events.filter((e) => !isSwitch(e));
  return events
    .map((e) =>
      isSwitch(e)
        ? `${n(e.samples)} context switches`
        : `${n(e.samples)} ${profiled.length > 1 ? `${oneLine(e.event)} ` : ''}samples`,
    )
    .join(', ');
}

function printOutcome(info: RunInfo, json: boolean): void {
  printWarnings(info.preflight.problems.filter((p) => p.severity === 'warning'));
  for (const note of info.metadata.recording?.notes ?? [])
    process.stderr.write(`crosstalk: note: ${oneLine(note)}\n`);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ id: info.id, dir: info.dir, status: info.status, interrupted: info.interrupted, incompleteReason: info.incompleteReason }, null, 2)}\n`,
    );
    return;
  }
  const r = info.metadata.recording;
  const seconds = r?.window.actualSeconds?.toFixed(1) ?? '0';
  const samples = r?.perf.check?.kind === 'read' ? `, ${samplesText(r.perf.check)}` : '';
  if (info.status === 'complete') {
    const how = info.interrupted ? `interrupted after ${seconds} s` : `${seconds} s`;
    process.stdout.write(`run ${info.id} recorded (${how}${samples}): ${info.dir}\n`);
  } else {
    process.stdout.write(
      `run ${info.id} is INCOMPLETE (${oneLine(info.incompleteReason ?? '')}); kept in ${info.dir}\n`,
    );
  }
}

/** 0 for a whole run (interrupted or not); otherwise by why it is incomplete. */
export function exitCodeOf(info: RunInfo): number {
  if (info.status === 'complete') return ExitCode.ok;
  const reason = info.incompleteReason ?? '';
  if (/aborted|interrupted/.test(reason)) return ExitCode.interrupted;
  if (/disk filled/.test(reason)) return ExitCode.cantCreate;
  return ExitCode.unavailable;
}
