/**
 * What a recording is asked to do (RecordOptions, with `crosstalk record`'s defaults), the
 * settings it resolves them to, and the progress it reports: shared by the recorder (recorder.ts)
 * and the session that runs perf (recording-session.ts).
 */
import type { RunStore } from '../store/store.ts';
import type { OffCpuRequest } from './off-cpu-policy.ts';
import type { CallGraphMode } from './preflight.ts';

/** Defaults of `crosstalk record`; see the README for why fp and 99 Hz. */
export const RECORD_DEFAULTS = {
  durationSeconds: 10,
  frequency: 99,
  callGraph: 'fp' as CallGraphMode,
  dwarfStackBytes: 8192,
  /** Off-CPU recording: decided on the host by its context-switch rate (off-cpu-policy.ts). */
  offCpu: 'auto' as OffCpuRequest,
};

export interface RecordOptions {
  /** Length of the window, seconds. Default 10. */
  durationSeconds?: number;
  /** Samples per second per CPU. Default 99 (not 100: avoids lockstep with 100 Hz timers). */
  frequency?: number;
  /** Default fp: cheap to record and decode; dwarf keeps callers of libc wrappers at ~15x the data. */
  callGraph?: CallGraphMode;
  /** User stack bytes copied per sample with dwarf. Default 8192. */
  dwarfStackBytes?: number;
  /** Label the run at creation (e.g. `healthy` for a baseline). */
  label?: string;
  store: RunStore;
  /** Run the per-container syscall counter. Default true. */
  syscallRates?: boolean;
  /**
   * Trace every syscall's latency and errors per container with eBPF (bpftrace) during the
   * window. Default true; skipped with a note where eBPF is unavailable.
   */
  syscallLatency?: boolean;
  /**
   * Tracing budget: traced calls per CPU per second before the tracer stops early. Default
   * DEFAULT_MAX_CALLS_PER_CPU_SECOND (syscall-latency.ts).
   */
  syscallLatencyBudget?: number;
  /**
   * Record every context switch with its call chain, for off-CPU time. Default 'auto': when the
   * host's switch rate keeps the cost under 5% of its CPU time (off-cpu-policy.ts).
   */
  offCpu?: OffCpuRequest;
  /**
   * Also write `perf.data.tar.bz2` (what `perf archive` packs: the build-id cache entries the
   * recording hit, kallsyms included) in the run, for analysis on a host without perf. Default false.
   */
  archive?: boolean;
  onProgress?: (p: RecordProgress) => void;
  /** Ends the window early; perf finishes its file; the run is complete and marked interrupted. */
  stop?: AbortSignal;
  /** Kills perf at once; the run is kept, marked incomplete. */
  abort?: AbortSignal;
  /** Environment for perf and the container engines (PATH). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How long perf may take to start (synthesizing every process's maps), ms. Default 60000. */
  startTimeoutMs?: number;
}

export type RecordProgress =
  | { phase: 'preflight' }
  | { phase: 'snapshot'; when: 'before' | 'after' }
  | { phase: 'starting' }
  | { phase: 'recording'; elapsedSeconds: number; durationSeconds: number }
  | { phase: 'stopping'; interrupted: boolean }
  | { phase: 'symbols' }
  | { phase: 'syscalls' }
  | { phase: 'checking'; fraction: number };

export interface Settings {
  durationSeconds: number;
  frequency: number;
  callGraph: CallGraphMode;
  dwarfStackBytes: number;
  syscallRates: boolean;
  syscallLatency: boolean;
  syscallLatencyBudget: number;
  /** Resolved before recording (decideOffCpu). */
  offCpu: boolean;
  /** Length of the syscall-counting window after the profile. */
  syscallSeconds: number;
  env: NodeJS.ProcessEnv;
}
