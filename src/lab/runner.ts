/**
 * runScenario: builds the workloads, opens a lab run (lock, stale sweep, cgroups), measures the
 * victim in every phase for every run, optionally holds an extra unfixed phase open while the
 * caller records, and removes everything it created on every exit path.
 */
import { statfsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cgroupSupport } from './cgroupfs.ts';
import { probeNamespaces } from './container.ts';
import { guardInterrupts, type InterruptGuard, LabInterruptedError, reraise } from './interrupt.ts';
import { closeRun, containerCgroup, defaultWorkRoot, type LabRun, openRun } from './lab-run.ts';
import { buildWorkloads } from './native-build.ts';
import { type PhaseEnv, runHeldPhase, runPhase } from './phase.ts';
import type { PhasePlan, ScenarioDefinition } from './scenario.ts';
import { findScenario, listScenarios } from './scenarios.ts';
import { summarizeLatency } from './stats.ts';
import type {
  ContendedContext,
  ContendedResult,
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
  onProgress?: (msg: string) => void;
  signal?: AbortSignal;
  /** Seconds to wait for another lab run to finish before refusing (default 0). */
  waitSeconds?: number;
  /** After cleanup on SIGINT/SIGTERM: 'exit' ends the process with 130/143 (default); 'throw' rejects. */
  onSignal?: 'exit' | 'throw';
  /** Where workload files go (default /var/tmp/crosstalk-lab; must be a disk filesystem). */
  workRoot?: string;
  /** Compiled workloads cache (default $XDG_CACHE_HOME/crosstalk/lab). */
  cacheRoot?: string;
  /** Lock and state files (default /run/crosstalk-lab). */
  stateDir?: string;
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

function labContainers(run: LabRun, def: ScenarioDefinition, count: number): LabContainer[] {
  const mount = join(run.cgroupRoot, '..');
  return def.containers(count).map((c) => {
    const cgroup = containerCgroup(run, c.name);
    return { name: c.name, role: c.role, cgroup, cgroupPath: `/${relative(mount, cgroup)}` };
  });
}

export { listScenarios };

export async function runScenario<T = unknown>(
  name: string,
  opts: RunScenarioOptions<T> = {},
): Promise<ScenarioResult<T>> {
  const def = findScenario(name);
  if (def === undefined) {
    const known = listScenarios()
      .map((s) => s.name)
      .join(', ');
    throw new LabUsageError(`unknown lab scenario '${name}' (scenarios: ${known})`);
  }
  const s = settingsFor(def, opts);
  const cgroupRoot = hostCgroupRoot();
  const progress = opts.onProgress ?? (() => {});
  const bins = await buildWorkloads({ cacheRoot: opts.cacheRoot, onProgress: progress });
  const ns = await probeNamespaces();
  const guard = guardInterrupts(opts.signal);
  let run: LabRun | null = null;
  try {
    const workRoot = opts.workRoot ?? defaultWorkRoot;
    run = await openRun({
      scenario: def.name,
      cgroupRoot,
      workRoot,
      stateDir: opts.stateDir,
      waitSeconds: opts.waitSeconds,
      signal: guard.signal,
      onProgress: progress,
    });
    const notes = [...run.staleRemoved, ns.note, filesystemNote(run.workDir)].filter(
      (n): n is string => n !== null,
    );
    for (const n of run.staleRemoved) progress(n);
    if (ns.note) progress(ns.note);
    const containers = labContainers(run, def, s.containers);
    def.prepare(run.workDir, def.containers(s.containers));
    const env: PhaseEnv = {
      def,
      run,
      bins,
      ns,
      containers: def.containers(s.containers),
      durationSeconds: s.durationSeconds,
      warmupSeconds: s.warmupSeconds,
      signal: guard.signal,
    };
    const plans = def.phases(s.containers);
    const phases = await measure(env, plans, s, progress);
    let contended: ContendedResult<T> | null = null;
    if (opts.onContended) {
      progress(`recording phase: ${plans[2].label} (at least ${s.durationSeconds} s)`);
      const held = await runHeldPhase(env, plans[2], opts.onContended);
      contended = {
        durationSeconds: held.seconds,
        victim: held.victim,
        neighbours: held.neighbours,
        evidence: held.evidence,
        value: held.value,
      };
    }
    return {
      scenario: def.name,
      title: def.title,
      runName: run.name,
      cgroupRoot,
      namespaces: ns.enabled,
      containers,
      durationSeconds: s.durationSeconds,
      warmupSeconds: s.warmupSeconds,
      runs: s.runs,
      phases: { alone: phases[0], fixed: phases[1], unfixed: phases[2] },
      extraPhases: phases.slice(3),
      scaling: def.scaling?.(phases) ?? null,
      groundTruth: def.groundTruth(env.containers, bins),
      contended,
      notes,
    };
  } catch (e) {
    throw interruptedOr(guard, e);
  } finally {
    if (run !== null) closeRun(run);
    guard.release();
    const sig = guard.received();
    if (sig !== null && (opts.onSignal ?? 'exit') === 'exit') reraise(sig);
  }
}

function interruptedOr(guard: InterruptGuard, e: unknown): unknown {
  const sig = guard.received();
  return sig !== null && !(e instanceof LabInterruptedError) ? new LabInterruptedError(sig) : e;
}
