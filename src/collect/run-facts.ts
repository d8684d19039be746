/**
 * What a recording writes about itself: RecordingFacts go into metadata.json (small, read by
 * `crosstalk runs`), RunCounters into counters.json (the snapshots, cgroup maps and syscall rates).
 * The store owns the files' format as read back (store/metadata.ts StoredRecording,
 * store/counters-file.ts StoredCounters, validated with zod); these types must stay assignable to
 * those (the recorder writes them through the store's types, so the compiler checks it).
 */

import type { COUNTERS_SCHEMA } from '../store/counters-file.ts';
import type { CgroupMap } from './cgroup-map.ts';
import type { SourceNote } from './container-names.ts';
import type { HostFacts } from './host-facts.ts';
import type { KernelStateSnapshot } from './kernel-state.ts';
import type { PerfExit } from './perf-recording.ts';
import type { CallGraphMode, PreflightProblem } from './preflight.ts';
import type { SyscallRates } from './syscall-rates.ts';

export interface RecordingOptionsUsed {
  durationSeconds: number;
  /** Sampling frequency, Hz. */
  frequency: number;
  callGraph: CallGraphMode;
  /** Bytes of user stack copied per sample in dwarf mode; null for fp. */
  dwarfStackBytes: number | null;
  /** Whether the syscall counter ran. */
  syscallRates: boolean;
  /** One syscall sample per this many calls. */
  syscallSamplePeriod: number;
  /** Seconds syscalls were counted, in a window right after the profile's (null: not counted). */
  syscallWindowSeconds: number | null;
  /** Context switches (sched:sched_switch with call chains) were recorded beside the profile. */
  offCpu: boolean;
}

export interface RecordingWindow {
  /** When perf acknowledged enabling its events (ISO 8601); null if it never did. */
  startedAt: string | null;
  /** When perf was told to stop. */
  endedAt: string | null;
  requestedSeconds: number;
  /** endedAt - startedAt; shorter than requested when interrupted. */
  actualSeconds: number | null;
}

/** perf.data as read back after perf exited. */
export type ProfileCheck =
  | {
      kind: 'read';
      /** Sample records of every event (profile samples and context switches alike). */
      samples: number;
      /** The same, per event in the file's order (`cpu-clock/freq=99/`, `sched:sched_switch`). */
      byEvent?: { event: string; samples: number }[];
      /** Events the kernel dropped (ring buffer full). */
      lost: number;
      lostSamples: number;
      /** The data section ends early: perf did not finish the file. */
      truncated: boolean;
      cgroups: number;
      warnings: string[];
    }
  | { kind: 'unreadable'; reason: string };

export interface RecordingFacts {
  options: RecordingOptionsUsed;
  window: RecordingWindow;
  /** Stopped early by SIGINT/SIGTERM; the file is still whole (status complete). */
  interrupted: boolean;
  /** Why the run is incomplete (status incomplete); null otherwise. */
  incompleteReason: string | null;
  perf: { command: string[]; exit: PerfExit | null; check: ProfileCheck | null };
  syscallPerf: { command: string[]; exit: PerfExit | null } | null;
  host: HostFacts;
  /** Preflight warnings (fatal ones stop the recording before a run exists). */
  preflight: PreflightProblem[];
  /** What could not be collected, one line each. */
  notes: string[];
  /** crosstalk's and perf's own pids: their samples are the observer, not the observed. */
  recorderPids: number[];
  files: { name: string; bytes: number }[];
}

export interface RunCounters {
  schema: typeof COUNTERS_SCHEMA;
  cgroupsBefore: CgroupMap;
  cgroupsAfter: CgroupMap | null;
  kernelBefore: KernelStateSnapshot;
  kernelAfter: KernelStateSnapshot | null;
  syscallRates: SyscallRates | null;
  containerNameSources: SourceNote[];
}
