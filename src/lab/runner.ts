/**
 * runScenario: builds the workloads, opens a lab run (lock, stale sweep, cgroups), measures the
 * victim in every phase for every run, optionally holds an extra unfixed phase open while the
 * caller records, and removes everything it created on every exit path.
 */
import { statfsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cgroupSupport } from './cgroupfs.ts';
import { type NamespaceSupport, probeNamespaces } from './container.ts';
import { type EngineName, LabEngine } from './engine.ts';
import { guardInterrupts, type InterruptGuard, LabInterruptedError, reraise } from './interrupt.ts';
import { closeRun, containerCgroup, defaultWorkRoot, type LabRun, openRun } from './lab-run.ts';
import { type BuiltWorkloads, buildWorkloads } from './native-build.ts';
import { BATCH_CONTAINER, type PhaseEnv, runHeldPhase, runPhase } from './phase.ts';
import type { PhasePlan, ScenarioDefinition } from './scenario.ts';
import { findScenario, listScenarios } from './scenarios.ts';
import { summarizeLatency } from './stats.ts';
import type {
  ContendedContext,
  ContendedResult,
  GroundTruth,
  LabContainer,
  PhaseResult,
  PhaseRun,
  ScenarioResult,
} from './types.ts';

/** Bad scenario name or options. */
export class LabUsageError extends Error {
  override name = 'LabUsageError';
}

/** The host does not let the lab make containers (not root, no cgroup v2). */
export class LabPermissionError extends Error {
  override name = 'LabPermissionError';
}

export interface RunScenarioOptions<T> {
  /** Containers in the contended phases, victim included (default: the scenario's). */
  containers?: number;
  /** Seconds the victim is measured in each phase (default: the scenario's). */
  durationSeconds?: number;
  /** Repetitions of every phase, for the spread (default: the scenario's, 1). */
  runs?: number;
  /** Seconds the neighbours run before each measured window (default: the scenario's). */
  warmupSeconds?: number;
  /** Called once in an extra unfixed phase, while the containers run: record system-wide here. */
  onContended?: (ctx: ContendedContext) => Promise<T>;
  /**
   * Called once in an extra phase with the victim alone (before the contended one): record a
   * healthy baseline here. Default: no such phase.
   */
  onAlone?: (ctx: ContendedContext) => Promise<void>;
  onProgress?: (msg: string) => void;
  signal?: AbortSignal;
  /** Seconds to wait for another lab run to finish before refusing (default 0). */
  waitSeconds?: number;
  /** After cleanup on SIGINT/SIGTERM: 'exit' ends the process with 130/143 (default); 'throw' rejects. */
  onSignal?: 'exit' | 'throw';
  /** Where workload files go (default /var/lib/crosstalk-lab, root's own; must be a disk filesystem). */
  workRoot?: string;
  /** Compiled workloads cache (default $XDG_CACHE_HOME/crosstalk/lab). */
  cacheRoot?: string;
  /** Lock and state files (default /run/crosstalk-lab). */
  stateDir?: string;
  /** Run the containers on this engine (default: the built-in cgroup containers). */
  engine?: EngineName;
  /** Environment of the engine's CLI (DOCKER_HOST, CONTAINER_HOST). Default process.env. */
  engineEnv?: NodeJS.ProcessEnv;
}

interface Settings {
  containers: number;
  durationSeconds: number;
  runs: number;
  warmupSeconds: number;
}

function settingsFor(def: ScenarioDefinition, opts: RunScenarioOptions<unknown>): Settings {
  const s: Settings = {
    containers: opts.containers ?? def.defaults.containers,
    durationSeconds: opts.durationSeconds ?? def.defaults.durationSeconds,
    runs: opts.runs ?? def.defaults.runs,
    warmupSeconds: opts.warmupSeconds ?? def.defaults.warmupSeconds,
  };
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new LabUsageError(what);
  };
  check(
    Number.isInteger(s.containers) && s.containers >= def.minContainers && s.containers <= 32,
    `--containers must be an integer from ${def.minContainers} to 32`,
  );
  check(
    s.durationSeconds > 0 && s.durationSeconds <= 3600,
    '--duration must be more than 0 and at most 3600 seconds',
  );
  check(Number.isInteger(s.runs) && s.runs >= 1 && s.runs <= 50, '--runs must be an integer from 1 to 50');
  check(s.warmupSeconds >= 0 && s.warmupSeconds <= 600, 'warm-up must be 0 to 600 seconds');
  return s;
}

function hostCgroupRoot(): string {
  if (process.getuid?.() !== 0) {
    throw new LabPermissionError('the lab needs root: it creates cgroups and namespaces');
  }
  const support = cgroupSupport();
  if (!support.ok)
    throw new LabPermissionError(`the lab needs a writable cgroup v2 hierarchy: ${support.reason}`);
  return support.root;
}

/** tmpfs has no writeback or journal: the fadvise and fsync scenarios would measure nothing there. */
function filesystemNote(workRoot: string): string | null {
  try {
    const type = statfsSync(join(workRoot, '..')).type;
    const tmpfs = 0x01021994;
    return type === tmpfs
      ? `work directory ${workRoot} is on tmpfs: writeback and journal effects will not show`
      : null;
  } catch {
    return null;
  }
}

function phaseResult(plan: PhasePlan, runs: PhaseRun[]): PhaseResult {
  return {
    key: plan.key,
    label: plan.label,
    containers: 1 + plan.neighbours,
    victimVariant: plan.victimVariant,
    neighbourVariant: plan.neighbourVariant,
    runs,
    victim: summarizeLatency(runs.map((r) => r.victim.latency)),
  };
}

async function measure(env: PhaseEnv, plans: PhasePlan[], s: Settings, progress: (m: string) => void) {
  const byKey = new Map<string, PhaseRun[]>(plans.map((p) => [p.key, []]));
  for (let r = 1; r <= s.runs; r++) {
    for (const plan of plans) {
      progress(`run ${r}/${s.runs}: ${plan.label} (${s.durationSeconds} s)`);
      byKey.get(plan.key)!.push(await runPhase(env, plan, r));
    }
  }
  return plans.map((p) => phaseResult(p, byKey.get(p.key)!));
}

function labContainers(
  run: LabRun,
  def: ScenarioDefinition,
  count: number,
  engine: LabEngine | undefined,
): LabContainer[] {
  const mount = join(run.cgroupRoot, '..');
  return def.containers(count).map((c) => {
    const cgroup = containerCgroup(run, c.name);
    const entry: LabContainer = {
      name: c.name,
      role: c.role,
      cgroup,
      cgroupPath: `/${relative(mount, cgroup)}`,
    };
    if (engine) entry.engineName = engine.nameOf(c.name);
    return entry;
  });
}

function engineNote(engine: LabEngine, containers: LabContainer[]): string {
  const names = containers.map((c) => c.engineName).join(', ');
  return `${engine.engine}: containers ${names} (image ${engine.image}, --rm); a short-lived container ${engine.nameOf(BATCH_CONTAINER.name)} ran ~1 s inside the recorded window; all were removed before the analysis, the image at the end`;
}

/** On an engine the diagnosis sees the engine's names (`ctlab-<run>-query-1`): so does the truth. */
function engineGroundTruth(truth: GroundTruth, engine: LabEngine | undefined): GroundTruth {
  if (!engine) return truth;
  return {
    ...truth,
    victim: engine.nameOf(truth.victim),
    antagonists: truth.antagonists.map((a) => engine.nameOf(a)),
  };
}

export { listScenarios };

interface RunContext {
  def: ScenarioDefinition;
  settings: Settings;
  run: LabRun;
  bins: BuiltWorkloads;
  ns: NamespaceSupport;
  signal: AbortSignal;
  progress: (msg: string) => void;
  engine?: LabEngine;
}

async function contendedPhase<T>(
  env: PhaseEnv,
  plan: PhasePlan,
  hook: (ctx: ContendedContext) => Promise<T>,
  progress: (msg: string) => void,
): Promise<ContendedResult<T>> {
  progress(`recording phase: ${plan.label} (at least ${env.durationSeconds} s)`);
  const held = await runHeldPhase(env, plan, hook);
  const { seconds, victim, neighbours, evidence, value } = held;
  return { durationSeconds: seconds, victim, neighbours, evidence, value };
}

async function measureRun<T>(
  c: RunContext,
  onContended?: (ctx: ContendedContext) => Promise<T>,
  onAlone?: (ctx: ContendedContext) => Promise<void>,
) {
  const { def, settings: s, run, ns } = c;
  const notes = [...run.staleRemoved, ns.note, filesystemNote(run.workDir)].filter(
    (n): n is string => n !== null,
  );
  for (const n of notes) c.progress(n);
  const containers = labContainers(run, def, s.containers, c.engine);
  const env: PhaseEnv = {
    ...c,
    containers: def.containers(s.containers),
    durationSeconds: s.durationSeconds,
    warmupSeconds: s.warmupSeconds,
  };
  def.prepare(run.workDir, c.engine ? [...env.containers, BATCH_CONTAINER] : env.containers);
  const plans = def.phases(s.containers);
  const phases = await measure(env, plans, s, c.progress);
  if (onAlone) await contendedPhase(env, plans[0], onAlone, c.progress);
  const contended = onContended ? await contendedPhase(env, plans[2], onContended, c.progress) : null;
  if (c.engine) notes.push(engineNote(c.engine, containers));
  const idle = idleWakeNote(phases[0], phases[1]);
  if (idle !== null) notes.push(idle);
  const result: ScenarioResult<T> = {
    scenario: def.name,
    title: def.title,
    runName: run.name,
    cgroupRoot: run.cgroupRoot,
    namespaces: ns.enabled,
    containers,
    durationSeconds: s.durationSeconds,
    warmupSeconds: s.warmupSeconds,
    runs: s.runs,
    phases: { alone: phases[0], fixed: phases[1], unfixed: phases[2] },
    extraPhases: phases.slice(3),
    scaling: def.scaling?.(phases) ?? null,
    engine: c.engine?.engine ?? null,
    groundTruth: engineGroundTruth(def.groundTruth(env.containers, c.bins), c.engine),
    contended,
    notes,
  };
  return result;
}

/**
 * A victim much slower alone than among busy neighbours is the signature of slow idle wake-ups
 * (virtual machines without halt polling): say so rather than let "alone" read as the best case.
 * 1.5x the mean: fdatasync alone measured 1.3-5x slower than with busy neighbours on a 2-vCPU
 * Firecracker VM, while sharing a host never makes a victim 1.5x faster on its own.
 */
function idleWakeNote(alone: PhaseResult, fixed: PhaseResult): string | null {
  const a = alone.victim.meanUs.median;
  const f = fixed.victim.meanUs.median;
  if (!(a > 1.5 * f)) return null;
  return (
    `the victim was slower alone (mean ${a.toFixed(0)} us) than next to neighbours (${f.toFixed(0)} us): ` +
    'a lone request waits for an idle vCPU and virtual disk to wake up (typical of virtual machines); ' +
    'compare the two phases with neighbours'
  );
}

function scenarioNamed(name: string): ScenarioDefinition {
  const def = findScenario(name);
  if (def !== undefined) return def;
  const known = listScenarios()
    .map((s) => s.name)
    .join(', ');
  throw new LabUsageError(`unknown lab scenario '${name}' (scenarios: ${known})`);
}

/**
 * Runs a scenario end to end and returns the measurements. Cleans up on every exit path; on
 * SIGINT/SIGTERM it exits with 130/143 after cleanup unless `onSignal: 'throw'`.
 */
export async function runScenario<T = unknown>(
  name: string,
  opts: RunScenarioOptions<T> = {},
): Promise<ScenarioResult<T>> {
  const def = scenarioNamed(name);
  const settings = settingsFor(def, opts);
  const cgroupRoot = hostCgroupRoot();
  const progress = opts.onProgress ?? (() => {});
  const bins = await buildWorkloads({ cacheRoot: opts.cacheRoot, onProgress: progress });
  const ns = await probeNamespaces();
  const guard = guardInterrupts(opts.signal);
  let run: LabRun | null = null;
  try {
    run = await openRun({
      scenario: def.name,
      cgroupRoot,
      workRoot: opts.workRoot ?? defaultWorkRoot,
      stateDir: opts.stateDir,
      waitSeconds: opts.waitSeconds,
      signal: guard.signal,
      onProgress: progress,
    });
    const engine = opts.engine ? openEngine(opts.engine, run, bins, opts.engineEnv, progress) : undefined;
    const context = { def, settings, run, bins, ns, signal: guard.signal, progress, engine };
    return await measureRun(context, opts.onContended, opts.onAlone);
  } catch (e) {
    throw interruptedOr(guard, e);
  } finally {
    if (run !== null) closeRun(run);
    guard.release();
    const sig = guard.received();
    if (sig !== null && (opts.onSignal ?? 'exit') === 'exit') reraise(sig);
  }
}

/** The engine's image, built now; its containers and image go when the run closes, on every path. */
function openEngine(
  name: EngineName,
  run: LabRun,
  bins: BuiltWorkloads,
  env: NodeJS.ProcessEnv | undefined,
  progress: (msg: string) => void,
): LabEngine {
  const engine = new LabEngine(name, run.name, run.workDir, env);
  run.onClose = () => engine.cleanup();
  progress(`${name}: building image ${engine.image} from the workloads (docker import, no registry)`);
  engine.buildImage(bins);
  return engine;
}

function interruptedOr(guard: InterruptGuard, e: unknown): unknown {
  const sig = guard.received();
  return sig !== null && !(e instanceof LabInterruptedError) ? new LabInterruptedError(sig) : e;
}
