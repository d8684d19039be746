/**
 * Types of lab scenarios and their results. A scenario measures one victim container in three
 * phases (alone; with neighbours that do the same work with the fix; with neighbours without the
 * fix) so that the kernel effect is separated from plain CPU sharing.
 */

/** A neighbour (or, in fadvise-logger, every container) with or without the fix. */
export type Variant = 'fixed' | 'unfixed';

export type ContainerRole = 'victim' | 'neighbour';

/** Latency of one workload in one phase, from its own clock (CLOCK_MONOTONIC around each operation). */
export interface LatencyStats {
  /** Operations completed (queries, requests, transactions). */
  ops: number;
  throughputPerSec: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
}

export interface WorkloadStats {
  container: string;
  workload: string;
  /** The workload's own mode string (`always`, `ratelimit`, `unique`, `sync-every-1`, ...). */
  variant: string;
  latency: LatencyStats;
  /** Workload counters: fadvise_calls, stat_calls, misses, fsyncs, log_bytes, ... */
  counters: Record<string, number>;
}

/** The median and the range of one statistic across runs. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface LatencySummary {
  runs: number;
  meanUs: Spread;
  p50Us: Spread;
  p90Us: Spread;
  p99Us: Spread;
  throughputPerSec: Spread;
}

/** A reading taken before and after a phase (e.g. nr_negative from /proc/sys/fs/dentry-state). */
export interface EvidenceReading {
  name: string;
  unit: string;
  before: number;
  after: number;
}

export interface PhaseRun {
  /** 1-based run number. */
  run: number;
  victim: WorkloadStats;
  neighbours: WorkloadStats[];
  evidence: EvidenceReading[];
}

export interface PhaseResult {
  /** `alone`, `fixed`, `unfixed`, or a scenario's extra phase such as `alone-unfixed`. */
  key: string;
  label: string;
  /** Containers running in this phase, the victim included. */
  containers: number;
  victimVariant: Variant;
  /** null when the victim runs alone. */
  neighbourVariant: Variant | null;
  runs: PhaseRun[];
  /** The victim's latency across runs. */
  victim: LatencySummary;
}

/** What the scenario does on purpose: the answer a blind diagnosis should find. */
export interface GroundTruth {
  /** The container whose latency is measured. */
  victim: string;
  /** Containers whose syscalls cause the contention (in the unfixed phase). */
  antagonists: string[];
  /**
   * Syscall name as the kernel's entry symbol spells it (`fadvise64`, `newfstatat`, `fsync`); null
   * when the neighbour harms by CPU time alone (cpu-hog): a finding then names no syscall.
   */
  syscall: string | null;
  /** The user-space function that issues it, without argument list (`LogFileObject::Write`); null with syscall. */
  callSite: string | null;
  /** The symbol as perf prints it for this build (demangled, with arguments when C++); null with syscall. */
  callSiteSymbol: string | null;
  /** The kernel resource the containers contend on. */
  kernelResource: string;
  fix: string;
}

export interface LabContainer {
  name: string;
  role: ContainerRole;
  /** Absolute path of the container's cgroup: `<v2 mount>/crosstalk-lab/<run>/<name>`. */
  cgroup: string;
  /** The same path relative to the v2 mount, as perf prints it: `/crosstalk-lab/<run>/<name>`. */
  cgroupPath: string;
}

/** Handed to `onContended` while the unfixed containers run. */
export interface ContendedContext {
  runName: string;
  containers: { name: string; role: ContainerRole; cgroup: string; cgroupPath: string; pids: number[] }[];
  /** How long the caller should record; the workloads run at least this long and until the hook returns. */
  durationSeconds: number;
  /** Aborted when the lab run is interrupted; stop recording then. */
  signal: AbortSignal;
}

export interface ContendedResult<T> {
  /** Seconds the workloads actually ran while the hook was active. */
  durationSeconds: number;
  victim: WorkloadStats;
  neighbours: WorkloadStats[];
  evidence: EvidenceReading[];
  /** What onContended returned. */
  value: T;
}

/** fadvise-logger's product view: 1 and N containers, all with or all without the fix. */
export interface ScalingRow {
  containers: number;
  fixed: LatencySummary;
  unfixed: LatencySummary;
}

export interface ScenarioResult<T = unknown> {
  scenario: string;
  title: string;
  runName: string;
  /** `<v2 mount>/crosstalk-lab` */
  cgroupRoot: string;
  /** Whether containers had their own mount/pid/uts namespaces. */
  namespaces: boolean;
  containers: LabContainer[];
  durationSeconds: number;
  warmupSeconds: number;
  runs: number;
  phases: { alone: PhaseResult; fixed: PhaseResult; unfixed: PhaseResult };
  /** Further phases a scenario measures (fadvise-logger: the victim alone without the fix). */
  extraPhases: PhaseResult[];
  scaling: ScalingRow[] | null;
  groundTruth: GroundTruth;
  contended: ContendedResult<T> | null;
  /** Stale runs swept, namespace fallback, filesystem warnings: one line each. */
  notes: string[];
}
