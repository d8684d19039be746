/**
 * What a scenario definition provides to the runner: its containers, phases, workload command
 * lines, files, ground truth and evidence. Definitions live in scenario-*.ts; the registry is here.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BuiltWorkloads } from './native-build.ts';
import type { ContainerRole, GroundTruth, PhaseResult, ScalingRow, Variant } from './types.ts';

export interface ScenarioContainer {
  name: string;
  role: ContainerRole;
}

export interface PhasePlan {
  key: string;
  label: string;
  victimVariant: Variant;
  /** Neighbours running next to the victim (0: alone). */
  neighbours: number;
  neighbourVariant: Variant | null;
}

export interface WorkloadRequest {
  bins: BuiltWorkloads;
  /** The run's work directory. */
  workDir: string;
  /** This container's own directory under workDir. */
  containerDir: string;
  container: ScenarioContainer;
  variant: Variant;
  /** Index of the container among all (victim = 0), for seeds. */
  index: number;
}

export interface ScenarioDefaults {
  /** Containers in the contended phases, the victim included. */
  containers: number;
  /** Seconds the victim is measured per phase. */
  durationSeconds: number;
  runs: number;
  /** Seconds the neighbours run before the victim's measurement starts. */
  warmupSeconds: number;
}

export interface ScenarioDefinition {
  name: string;
  title: string;
  /** One paragraph for `lab list`. */
  summary: string;
  defaults: ScenarioDefaults;
  minContainers: number;
  /** Victim first. */
  containers(count: number): ScenarioContainer[];
  /** The first three keys are alone, fixed, unfixed; more may follow. */
  phases(count: number): PhasePlan[];
  /** Creates the files the workloads need (run once per lab run). */
  prepare(workDir: string, containers: readonly ScenarioContainer[]): void;
  /** Workload binary and arguments; the runner adds --duration, --start-at, --stats, --hostname. */
  workload(req: WorkloadRequest): string[];
  groundTruth(containers: readonly ScenarioContainer[], bins: BuiltWorkloads): GroundTruth;
  /** Undoes lasting kernel state a phase built up (negative dentries), so phases stay independent. */
  afterPhase?(workDir: string, containers: readonly ScenarioContainer[]): void;
  /** Host readings taken before and after each phase. */
  readEvidence?(): { name: string; unit: string; value: number }[];
  scaling?(phases: readonly PhaseResult[]): ScalingRow[];
}

export function namedContainers(victim: string, neighbour: string, count: number): ScenarioContainer[] {
  const list: ScenarioContainer[] = [{ name: victim, role: 'victim' }];
  for (let i = 1; i < count; i++) list.push({ name: `${neighbour}-${i}`, role: 'neighbour' });
  return list;
}

/** The three phases every scenario measures. */
export function standardPhases(count: number, victimVariant: Variant = 'fixed'): PhasePlan[] {
  const n = count - 1;
  const s = n === 1 ? '' : 's';
  return [
    { key: 'alone', label: 'victim alone', victimVariant, neighbours: 0, neighbourVariant: null },
    {
      key: 'fixed',
      label: `+ ${n} neighbour${s} with the fix`,
      victimVariant,
      neighbours: n,
      neighbourVariant: 'fixed',
    },
    {
      key: 'unfixed',
      label: `+ ${n} neighbour${s} without the fix`,
      victimVariant,
      neighbours: n,
      neighbourVariant: 'unfixed',
    },
  ];
}

/** prepare() of scenarios whose workloads need only their own directory (stats, data files). */
export function makeContainerDirs(workDir: string, containers: readonly ScenarioContainer[]): void {
  for (const c of containers) mkdirSync(join(workDir, c.name), { recursive: true });
}
