/**
 * One recording between preflight and the final metadata: snapshots before, the two perf
 * processes over one window, stopping (or aborting), snapshots after, reading the results back,
 * and the verdict on whether the run is whole.
 */
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerName } from '../analysis/containers.ts';
import { readPerfData } from '../formats/perf-data/reader.ts';
import { FILE_MODE } from '../safety/atomic-file.ts';
import { PERF_DATA_FILE, SYSCALLS_DATA_FILE } from '../store/metadata.ts';
import { SYSCALL_LATENCY_FILE } from '../store/syscall-latency-file.ts';
import { mapCgroups } from './cgroup-map.ts';
import { resolveContainerNames, resolveEventNames } from './container-names.ts';
import { readHostFacts } from './host-facts.ts';
import { snapshotKernelState } from './kernel-state.ts';
import { LatencyRecording } from './latency-recording.ts';
import { exitText, type PerfExit, PerfRecording, perfRecordArgs } from './perf-recording.ts';
import { callGraphArgs, type PreflightReport } from './preflight.ts';
import type { RecordOptions, RecordProgress, Settings } from './record-options.ts';
import { writeRunArchive } from './run-build-ids.ts';
import type { ProfileCheck, RecordingFacts, RunCounters } from './run-facts.ts';
import { keepSampledBinaries, type MappingProcess, type SymbolCacheFacts } from './symbol-cache.ts';
import {
  readSyscallRates,
  SYSCALL_SAMPLE_PERIOD,
  type SyscallRates,
  syscallCounterArgs,
} from './syscall-rates.ts';

/** Extra seconds perf's safety `sleep` adds to the window (perf stops itself if crosstalk dies). */
const SAFETY_SECONDS = 120;

/** The state of one recording between preflight and the final metadata. */
export class Session {
  readonly notes: string[] = [];
  readonly profileFile: string;
  readonly syscallsFile: string;
  profile: PerfRecording | null = null;
  syscalls: PerfRecording | null = null;
  latency: LatencyRecording | null = null;
  profileExit: PerfExit | null = null;
  syscallExit: PerfExit | null = null;
  counters: Partial<RunCounters> = {};
  startedAt: string | null = null;
  endedAt: string | null = null;
  actualSeconds: number | null = null;
  /** Length of the syscall-counting window that follows the profile. */
  syscallSeconds: number | null = null;
  interrupted = false;
  aborted = false;
  /** Set just before crosstalk signals perf: a perf exit before it is unexpected. */
  stopRequested = false;
  startFailure: string | null = null;
  symbols: SymbolCacheFacts | null = null;
  host: RecordingFacts['host'] | null = null;
  private names: Map<string, ContainerName> = new Map();
  private startedMs = 0;
  private endWindow: () => void = () => {};

  constructor(
    readonly opts: RecordOptions,
    readonly s: Settings,
    readonly pre: PreflightReport,
    readonly dir: string,
  ) {
    this.profileFile = join(dir, PERF_DATA_FILE);
    this.syscallsFile = join(dir, SYSCALLS_DATA_FILE);
  }

  async run(progress: (p: RecordProgress) => void): Promise<RecordingFacts> {
    const onAbort = () => {
      this.aborted = true;
      this.profile?.kill();
      this.syscalls?.kill();
      this.latency?.kill();
      this.endWindow();
    };
    this.opts.abort?.addEventListener('abort', onAbort);
    try {
      const host = await this.snapshotBefore(progress);
      if (await this.start(progress)) {
        await this.window(progress);
        await this.stopPerf(progress);
      }
      if (!this.aborted) await this.snapshotAfter(progress);
      if (this.startedAt !== null && !this.aborted) await this.keepSymbols(progress);
      if (this.startedAt !== null && !this.aborted && !this.interrupted) await this.countSyscalls(progress);
      const check = this.aborted || this.startedAt === null ? null : await this.checkProfile(progress);
      const rates = await this.decodeSyscalls(progress);
      this.counters.syscallRates = rates;
      return this.facts(host, check);
    } finally {
      this.opts.abort?.removeEventListener('abort', onAbort);
      // Never leave perf running, whatever failed above.
      this.profile?.kill();
      this.syscalls?.kill();
      this.latency?.kill();
    }
  }

  private async snapshotBefore(progress: (p: RecordProgress) => void) {
    progress({ phase: 'snapshot', when: 'before' });
    const h = this.pre.hierarchies;
    const [host, names] = await Promise.all([
      readHostFacts(h, this.pre.perfVersion),
      resolveContainerNames({ env: this.s.env, when: 'before' }),
    ]);
    this.host = host;
    this.names = names.names;
    this.counters.containerNameSources = names.notes;
    this.counters.containerNames = Object.fromEntries(this.names);
    this.counters.cgroupsBefore = await mapCgroups(h, { names: this.names });
    this.counters.kernelBefore = await snapshotKernelState(h, this.counters.cgroupsBefore);
    return host;
  }

  private async snapshotAfter(progress: (p: RecordProgress) => void): Promise<void> {
    progress({ phase: 'snapshot', when: 'after' });
    const h = this.pre.hierarchies;
    await this.namesAfter();
    this.counters.cgroupsAfter = await mapCgroups(h, { names: this.names });
    this.counters.kernelAfter = await snapshotKernelState(h, this.counters.cgroupsAfter);
  }

  /**
   * Copies the sampled binaries into the run's build-id cache while their processes still exist,
   * so symbols resolve after the containers are removed (symbol-cache.ts).
   */
  private async keepSymbols(progress: (p: RecordProgress) => void): Promise<void> {
    progress({ phase: 'symbols' });
    const processes: MappingProcess[] = [];
    for (const c of this.counters.cgroupsAfter?.cgroups ?? []) {
      const inContainer = c.container.kind === 'container' || c.container.kind === 'pod';
      if (inContainer && c.processes.length > 0) processes.push({ pid: c.processes[0].pid, inContainer });
    }
    this.symbols = await keepSampledBinaries({
      perfPath: this.pre.perfPath!,
      perfData: this.profileFile,
      runDir: this.dir,
      processes,
      env: this.s.env,
    });
    if (this.opts.archive === true)
      this.symbols.archive = await writeRunArchive(this.dir, join(this.dir, this.symbols.dir));
  }

  /**
   * Names asked again after the window, and from the engines' events of the window: containers
   * started after the first listing, and `--rm` containers that came and went inside the window.
   */
  private async namesAfter(): Promise<void> {
    const since = this.startedAt === null ? Date.now() / 1000 : Date.parse(this.startedAt) / 1000;
    const [after, events] = await Promise.all([
      resolveContainerNames({ env: this.s.env, when: 'after' }),
      resolveEventNames(since - 1, Date.now() / 1000 + 1, { env: this.s.env }),
    ]);
    for (const found of [after, events]) {
      for (const [id, name] of found.names) if (!this.names.has(id)) this.names.set(id, name);
    }
    this.counters.containerNameSources = [
      ...(this.counters.containerNameSources ?? []),
      ...after.notes,
      ...events.notes.filter((n) => n.status !== 'absent'),
    ];
    this.counters.containerNames = Object.fromEntries(this.names);
  }

  get profileCommand(): string[] {
    return ['perf', ...perfRecordArgs(this.profileOptions())];
  }

  get syscallCommand(): string[] {
    return ['perf', ...perfRecordArgs(this.syscallOptions())];
  }

  private profileOptions() {
    const cg = callGraphArgs(this.s.callGraph, this.s.dwarfStackBytes);
    return {
      perfPath: this.pre.perfPath!,
      eventArgs: profileEventArgs(this.s.frequency, this.s.offCpu, cg),
      output: this.profileFile,
      limitSeconds: this.s.durationSeconds + SAFETY_SECONDS,
      env: this.s.env,
    };
  }

  private syscallOptions() {
    return {
      perfPath: this.pre.perfPath!,
      eventArgs: syscallCounterArgs(SYSCALL_SAMPLE_PERIOD),
      output: this.syscallsFile,
      limitSeconds: this.s.syscallSeconds + SAFETY_SECONDS,
      env: this.s.env,
    };
  }

  /** Whether the syscall counter can run: asked for, and preflight saw nothing against it. */
  private syscallCounterWanted(): boolean {
    const against = new Set(['no-syscall-tracepoint', 'perf-event-paranoid']);
    return this.s.syscallRates && !this.pre.problems.some((p) => against.has(p.code));
  }

  /** Starts both perf processes and enables them together; false if the profile could not start. */
  private async start(progress: (p: RecordProgress) => void): Promise<boolean> {
    if (this.opts.stop?.aborted || this.aborted) return false;
    progress({ phase: 'starting' });
    // bpftrace compiles and attaches (about 1.5 s) while perf synthesizes the host's processes.
    const latency = this.startLatency();
    this.profile = new PerfRecording(this.profileOptions());
    const timeout = this.opts.startTimeoutMs ?? 60_000;
    try {
      await this.profile.enable(timeout);
      await latency;
    } catch (e) {
      await latency;
      await this.stopLatency();
      this.startFailure = this.aborted ? null : `perf did not start: ${(e as Error).message}`;
      this.stopRequested = true;
      this.profileExit = await this.profile.exited;
      return false;
    }
    this.startedMs = performance.now();
    this.startedAt = new Date().toISOString();
    return true;
  }

  /** Waits for the deadline, a stop or abort request, or perf ending on its own. */
  private async window(progress: (p: RecordProgress) => void): Promise<void> {
    const total = this.s.durationSeconds;
    await new Promise<void>((resolve) => {
      const tick = () =>
        progress({
          phase: 'recording',
          elapsedSeconds: (performance.now() - this.startedMs) / 1000,
          durationSeconds: total,
        });
      const ticker = setInterval(tick, 250);
      const onStop = () => {
        this.interrupted = true;
        end();
      };
      const end = () => {
        clearInterval(ticker);
        clearTimeout(timer);
        this.opts.stop?.removeEventListener('abort', onStop);
        this.endWindow = () => {};
        resolve();
      };
      const timer = setTimeout(end, total * 1000);
      this.endWindow = end;
      this.opts.stop?.addEventListener('abort', onStop);
      this.profile?.exited.then(end);
      tick();
      if (this.opts.stop?.aborted) onStop();
      if (this.aborted) end();
    });
    this.endedAt = new Date().toISOString();
    this.actualSeconds = (performance.now() - this.startedMs) / 1000;
  }

  private async stopPerf(progress: (p: RecordProgress) => void): Promise<void> {
    progress({ phase: 'stopping', interrupted: this.interrupted });
    this.stopRequested = !(this.profile?.hasExited ?? true);
    this.profile?.stop();
    await this.stopLatency();
    this.profileExit = (await this.profile?.exited) ?? null;
  }

  /** The eBPF syscall latency tracer, when asked for (it writes why when it cannot run). */
  private async startLatency(): Promise<void> {
    if (!this.s.syscallLatency) return;
    const cpus = this.host?.cpusOnline ?? 1;
    this.latency = new LatencyRecording(this.pre.hierarchies, cpus, this.s.syscallLatencyBudget, this.s.env);
    await this.latency.start();
  }

  private async stopLatency(): Promise<void> {
    if (this.latency === null) return;
    try {
      const file = await this.latency.stop();
      if (file.status !== 'recorded') this.notes.push(`syscall latency not measured: ${file.reason}`);
      else this.notes.push(...file.notes.map((n) => `syscall latency: ${n}`));
      await this.latency.write(this.dir);
    } catch (e) {
      this.notes.push(`syscall latency not saved: ${(e as Error).message}`);
    }
  }

  /**
   * Counts syscalls per cgroup in a short window right after the profile, not during it: the
   * tracepoint costs ~170 ns per syscall host-wide, which would inflate the kernel time of exactly
   * the syscall-heavy containers the profile is about. Skipped after an interrupt.
   */
  private async countSyscalls(progress: (p: RecordProgress) => void): Promise<void> {
    if (!this.syscallCounterWanted()) return;
    progress({ phase: 'syscalls' });
    this.syscalls = new PerfRecording(this.syscallOptions());
    try {
      await this.syscalls.enable(this.opts.startTimeoutMs ?? 60_000);
    } catch (e) {
      this.notes.push(`syscall counter did not start: ${(e as Error).message}`);
      this.syscalls.kill();
      this.syscallExit = await this.syscalls.exited;
      this.syscalls = null;
      return;
    }
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.opts.stop?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, this.s.syscallSeconds * 1000);
      this.opts.stop?.addEventListener('abort', done);
      this.syscalls?.exited.then(done);
    });
    this.syscallSeconds = (performance.now() - started) / 1000;
    this.syscalls.stop();
    this.syscallExit = await this.syscalls.exited;
  }

  private async checkProfile(progress: (p: RecordProgress) => void): Promise<ProfileCheck> {
    try {
      await chmod(this.profileFile, FILE_MODE);
      const r = await readPerfData(this.profileFile, {
        onProgress: (fraction) => progress({ phase: 'checking', fraction }),
      });
      return {
        kind: 'read',
        samples: r.samples,
        byEvent: r.attrs.map((a) => ({ event: a.name, samples: a.samples })),
        lost: r.lost,
        lostSamples: r.lostSamples,
        truncated: r.truncated,
        cgroups: r.cgroups.size,
        warnings: r.warnings,
      };
    } catch (e) {
      return { kind: 'unreadable', reason: (e as Error).message };
    }
  }

  /** Per-cgroup syscall rates, when the counter ran and finished its file. */
  private async decodeSyscalls(progress: (p: RecordProgress) => void): Promise<SyscallRates | null> {
    const exit = this.syscallExit;
    if (this.aborted || exit === null || this.syscallSeconds === null) return null;
    if (!finishedNormally(exit) || exit.diskFull) {
      this.notes.push(
        `syscall counter failed (${exitText(exit)}${exit.summary.length ? `: ${exit.summary[0]}` : ''})`,
      );
      return null;
    }
    progress({ phase: 'syscalls' });
    try {
      await chmod(this.syscallsFile, FILE_MODE);
      const cpus = this.host?.cpusOnline ?? 1;
      return await readSyscallRates(
        this.pre.perfPath!,
        this.syscallsFile,
        this.syscallSeconds,
        cpus,
        SYSCALL_SAMPLE_PERIOD,
      );
    } catch (e) {
      this.notes.push(`syscall rates unavailable: ${(e as Error).message}`);
      return null;
    }
  }

  /** Why the run cannot be treated as whole, or null when it can. */
  incompleteReason(check: ProfileCheck | null): string | null {
    if (this.aborted) return 'aborted by a second interrupt: perf was killed before it finished the file';
    if (this.startedAt === null)
      return this.startFailure ?? 'interrupted before the recording window started';
    const exit = this.profileExit;
    if (exit === null) return 'perf did not report how it ended';
    const said = exit.summary.length > 0 ? `: ${exit.summary[0]}` : '';
    if (exit.diskFull) return 'the disk filled up during the recording (perf: No space left on device)';
    if (!this.stopRequested) return `perf ended during the recording (${exitText(exit)})${said}`;
    if (!finishedNormally(exit)) return `perf record failed (${exitText(exit)})${said}`;
    if (check === null || check.kind === 'unreadable')
      return `perf.data cannot be read back: ${check?.reason ?? 'not checked'}`;
    if (check.truncated) return `perf.data is not whole: ${check.warnings[0] ?? 'truncated'}`;
    return null;
  }

  private async facts(host: RecordingFacts['host'], check: ProfileCheck | null): Promise<RecordingFacts> {
    const s = this.s;
    return {
      options: {
        durationSeconds: s.durationSeconds,
        frequency: s.frequency,
        callGraph: s.callGraph,
        dwarfStackBytes: s.callGraph === 'dwarf' ? s.dwarfStackBytes : null,
        syscallRates: this.syscallCounterWanted(),
        syscallSamplePeriod: SYSCALL_SAMPLE_PERIOD,
        syscallWindowSeconds: this.syscallSeconds,
        offCpu: s.offCpu,
        syscallLatency: s.syscallLatency,
        syscallLatencyBudget: s.syscallLatency ? s.syscallLatencyBudget : null,
      },
      window: {
        startedAt: this.startedAt,
        endedAt: this.endedAt,
        requestedSeconds: s.durationSeconds,
        actualSeconds: this.actualSeconds,
      },
      interrupted: this.interrupted,
      incompleteReason: this.incompleteReason(check),
      perf: { command: this.profileCommand, exit: this.profileExit, check },
      syscallPerf: this.syscallCounterWanted()
        ? { command: this.syscallCommand, exit: this.syscallExit }
        : null,
      host,
      preflight: this.pre.problems,
      notes: [...this.notes, ...(this.counters.kernelBefore?.notes ?? []).map((n) => `before: ${n}`)],
      recorderPids: [process.pid, this.profile?.pid, this.syscalls?.pid, this.latency?.pid].filter(
        (p): p is number => p !== undefined,
      ),
      files: await fileSizes(this.dir, [PERF_DATA_FILE, SYSCALLS_DATA_FILE, SYSCALL_LATENCY_FILE]),
      symbols: this.symbols,
    };
  }
}

/**
 * The profiled event and, with off-CPU, every context switch beside it. `-F` would apply to the
 * tracepoint too (sampling switches at 99 Hz, useless for pairing them), so the frequency is set
 * on cpu-clock alone and sched_switch keeps its default period of 1. With DWARF call graphs the
 * switches keep frame-pointer chains (`call-graph=fp`; perf then records their kernel part, the
 * wait path): with 8 KiB of user stack per switch, a pipe ping-pong wrote 460 MiB/s of perf.data,
 * 35 MiB/s with frame-pointer chains (bench/record-overhead.mjs).
 */
export function profileEventArgs(frequency: number, offCpu: boolean, callGraph: string[]): string[] {
  if (!offCpu) return ['-F', String(frequency), ...callGraph];
  const dwarf = callGraph.some((a) => a.startsWith('dwarf'));
  const switches = dwarf ? 'sched:sched_switch/call-graph=fp/' : 'sched:sched_switch';
  return ['-e', `cpu-clock/freq=${frequency}/`, '-e', switches, ...callGraph];
}

/** perf exits 0, or by the SIGINT/SIGTERM it was stopped with (it re-raises the signal after writing). */
function finishedNormally(e: PerfExit): boolean {
  if (e.signal !== null) return e.signal === 'SIGINT' || e.signal === 'SIGTERM';
  return e.code === 0 || e.code === 130 || e.code === 143;
}

async function fileSizes(dir: string, names: string[]): Promise<{ name: string; bytes: number }[]> {
  const out: { name: string; bytes: number }[] = [];
  for (const name of names) {
    const st = await stat(join(dir, name)).catch(() => null);
    if (st) out.push({ name, bytes: st.size });
  }
  return out;
}
