/**
 * One phase of a scenario: start the victim and its neighbours in their containers, let them run,
 * collect each workload's stats. Neighbours start `warmup` seconds before the victim's measured
 * window and end after it, so the window sees the neighbours at full load throughout.
 */
import { join, relative } from 'node:path';
import { cgroupPids, isPopulated, sleepSync } from './cgroupfs.ts';
import {
  type ContainerLaunch,
  enterFailedCode,
  type NamespaceSupport,
  type RunningContainer,
  startContainer,
  stopContainer,
} from './container.ts';
import type { LabEngine } from './engine.ts';
import { LabInterruptedError } from './interrupt.ts';
import { containerCgroup, type LabRun } from './lab-run.ts';
import type { BuiltWorkloads } from './native-build.ts';
import type { PhasePlan, ScenarioContainer, ScenarioDefinition } from './scenario.ts';
import { readWorkloadStats } from './stats.ts';
import type { ContendedContext, EvidenceReading, PhaseRun, Variant, WorkloadStats } from './types.ts';

export class LabWorkloadError extends Error {
  override name = 'LabWorkloadError';
}

export interface PhaseEnv {
  def: ScenarioDefinition;
  run: LabRun;
  bins: BuiltWorkloads;
  ns: NamespaceSupport;
  containers: readonly ScenarioContainer[];
  durationSeconds: number;
  warmupSeconds: number;
  signal: AbortSignal;
  /** A real container engine; absent: the built-in cgroup containers. */
  engine?: LabEngine;
}

/** The short-lived container an engine run starts inside the recorded window (`--rm`, ~1 s). */
export const BATCH_CONTAINER: ScenarioContainer = { name: 'batch', role: 'neighbour' };
/** Seconds the batch container runs. */
const BATCH_SECONDS = 1;

/** Time for sh + unshare + exec of every container before the common start instant. */
const LAUNCH_LEAD_MS = 500;
/**
 * With an engine, `docker run` of every container: 0.3 s each here on an idle host, ~2 s for four
 * at once on 2 busy CPUs.
 */
const ENGINE_LAUNCH_LEAD_MS = 3000;

function launchLead(env: PhaseEnv): number {
  return env.engine ? ENGINE_LAUNCH_LEAD_MS : LAUNCH_LEAD_MS;
}

function start(env: PhaseEnv, launch: ContainerLaunch): RunningContainer {
  return env.engine ? env.engine.start(launch) : startContainer(launch, env.ns);
}

function stop(env: PhaseEnv, r: RunningContainer): void {
  if (env.engine) env.engine.stop(r.launch.name);
  else stopContainer(r);
}
/** Neighbours keep running this long after the victim's window. */
const tailSeconds = 0.5;

interface Member {
  container: ScenarioContainer;
  variant: Variant;
  statsPath: string;
}

function members(env: PhaseEnv, plan: PhasePlan, statsName: string): Member[] {
  const neighbours = env.containers.filter((c) => c.role === 'neighbour').slice(0, plan.neighbours);
  const statsPath = (c: ScenarioContainer) => join(env.run.workDir, c.name, statsName);
  return [
    { container: env.containers[0], variant: plan.victimVariant, statsPath: statsPath(env.containers[0]) },
    ...neighbours.map((c) => ({
      container: c,
      variant: plan.neighbourVariant ?? 'fixed',
      statsPath: statsPath(c),
    })),
  ];
}

/** duration 0 = until SIGTERM (the contended phase). */
function launchOf(env: PhaseEnv, m: Member, startAtMs: number, durationSeconds: number): ContainerLaunch {
  const index = env.containers.indexOf(m.container);
  const containerDir = join(env.run.workDir, m.container.name);
  const argv = env.def.workload({
    bins: env.bins,
    workDir: env.run.workDir,
    containerDir,
    container: m.container,
    variant: m.variant,
    index,
  });
  argv.push(`--start-at=${startAtMs}`, `--duration=${durationSeconds}`, `--stats=${m.statsPath}`);
  return { name: m.container.name, cgroup: containerCgroup(env.run, m.container.name), argv };
}

function readEvidence(env: PhaseEnv): { name: string; unit: string; value: number }[] {
  return env.def.readEvidence?.() ?? [];
}

function pairEvidence(before: ReturnType<typeof readEvidence>, after: ReturnType<typeof readEvidence>) {
  return before.map(
    (b, i): EvidenceReading => ({ name: b.name, unit: b.unit, before: b.value, after: after[i].value }),
  );
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new LabInterruptedError('SIGINT'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return abortable(new Promise((r) => setTimeout(r, Math.max(0, ms))), signal);
}

async function awaitExit(env: PhaseEnv, running: RunningContainer[], timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LabWorkloadError(`lab workloads still running after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    const exits = await abortable(
      Promise.race([Promise.all(running.map((r) => r.exited)), timeout]),
      env.signal,
    );
    exits.forEach((x, i) => {
      if (x.code === 0) return;
      const name = running[i].launch.name;
      const why =
        x.code === enterFailedCode && !env.engine
          ? 'could not enter its cgroup'
          : `exited with ${x.code ?? x.signal}`;
      throw new LabWorkloadError(`lab container ${name} ${why}${x.stderr ? `: ${x.stderr}` : ''}`);
    });
  } finally {
    clearTimeout(timer);
  }
  // The shell is gone once the workload is; wait for the kernel to empty the cgroups too.
  for (const r of running) for (let i = 0; i < 100 && isPopulated(r.launch.cgroup); i++) sleepSync(10);
}

function collect(ms: Member[]): { victim: WorkloadStats; neighbours: WorkloadStats[] } {
  const stats = ms.map((m) => readWorkloadStats(m.statsPath, m.container.name));
  return { victim: stats[0], neighbours: stats.slice(1) };
}

/** Runs one measured phase; the victim runs `durationSeconds`. */
export async function runPhase(env: PhaseEnv, plan: PhasePlan, runNo: number): Promise<PhaseRun> {
  const ms = members(env, plan, `stats-${plan.key}-${runNo}.json`);
  const before = readEvidence(env);
  const startAt = Date.now() + launchLead(env);
  const neighbourSeconds = env.warmupSeconds + env.durationSeconds + tailSeconds;
  const running = ms.map((m, i) =>
    i === 0
      ? start(env, launchOf(env, m, startAt + env.warmupSeconds * 1000, env.durationSeconds))
      : start(env, launchOf(env, m, startAt, neighbourSeconds)),
  );
  try {
    await awaitExit(env, running, launchLead(env) + (neighbourSeconds + 30) * 1000);
  } catch (e) {
    for (const r of running) stop(env, r);
    throw e;
  }
  const after = readEvidence(env);
  env.def.afterPhase?.(env.run.workDir, env.containers);
  return { run: runNo, ...collect(ms), evidence: pairEvidence(before, after) };
}

/**
 * How long an aborted phase waits for its hook to finish: perf needs a second or two to write its
 * file after SIGINT (more on a busy host); a hook that takes longer is abandoned.
 */
const HOOK_STOP_MS = 30_000;

/**
 * The recorded phase: the unfixed plan runs until `hook` resolves and at least `durationSeconds`
 * have passed in the victim's window; then the workloads are stopped with SIGTERM.
 */
export async function runHeldPhase<T>(
  env: PhaseEnv,
  plan: PhasePlan,
  hook: (ctx: ContendedContext) => Promise<T>,
): Promise<{
  value: T;
  seconds: number;
  victim: WorkloadStats;
  neighbours: WorkloadStats[];
  evidence: EvidenceReading[];
}> {
  const ms = members(env, plan, 'stats-contended.json');
  const before = readEvidence(env);
  const startAt = Date.now() + launchLead(env);
  const running = ms.map((m) => start(env, launchOf(env, m, startAt, 0)));
  let value: T;
  let seconds: number;
  let batch: RunningContainer | null = null;
  try {
    await delay(startAt + env.warmupSeconds * 1000 - Date.now(), env.signal);
    const began = Date.now();
    let windowOpen = () => {};
    const opened = new Promise<void>((r) => {
      windowOpen = r;
    });
    const ctx = contendedContext(env, running, () => windowOpen());
    const hooked = hook(ctx);
    if (env.engine) batch = await startBatch(env, opened);
    try {
      [value] = await abortable(
        Promise.all([hooked, delay(env.durationSeconds * 1000, env.signal)]),
        env.signal,
      );
    } catch (e) {
      // The hook (a recording) stops on the same signal: let it save its run before the lab exits.
      await Promise.race([hooked.catch(() => {}), new Promise((r) => setTimeout(r, HOOK_STOP_MS))]);
      throw e;
    }
    seconds = (Date.now() - began) / 1000;
  } finally {
    for (const r of running) stop(env, r);
  }
  await awaitExit(env, batch === null ? running : [...running, batch], 30_000);
  const after = readEvidence(env);
  env.def.afterPhase?.(env.run.workDir, env.containers);
  return { value, seconds, ...collect(ms), evidence: pairEvidence(before, after) };
}

/**
 * With an engine: a `--rm` container started a moment into the recorded window that runs for
 * about a second and is gone before the window ends, so only the engine's events name it. The
 * window opens when the hook says so (recordRun's preflight takes 1-2 s first), or after the
 * phase's duration at the latest.
 */
async function startBatch(env: PhaseEnv, windowOpened: Promise<void>): Promise<RunningContainer> {
  await abortable(Promise.race([windowOpened, delay(env.durationSeconds * 1000, env.signal)]), env.signal);
  await delay(300, env.signal);
  const m: Member = {
    container: BATCH_CONTAINER,
    variant: 'fixed',
    statsPath: join(env.run.workDir, BATCH_CONTAINER.name, 'stats-batch.json'),
  };
  return start(env, launchOf(env, m, 0, BATCH_SECONDS));
}

function contendedContext(
  env: PhaseEnv,
  running: RunningContainer[],
  recordingStarted: () => void,
): ContendedContext {
  const mount = join(env.run.cgroupRoot, '..');
  return {
    recordingStarted,
    runName: env.run.name,
    durationSeconds: env.durationSeconds,
    signal: env.signal,
    containers: running.map((r) => {
      const c = env.containers.find((x) => x.name === r.launch.name)!;
      if (env.engine) {
        const info = env.engine.inspect(c.name);
        const path = info?.cgroupPath ?? '';
        return {
          name: env.engine.nameOf(c.name),
          role: c.role,
          cgroup: path === '' ? '' : join(mount, path),
          cgroupPath: path,
          pids: path === '' ? [] : cgroupPids(join(mount, path)),
        };
      }
      return {
        name: c.name,
        role: c.role,
        cgroup: r.launch.cgroup,
        cgroupPath: `/${relative(mount, r.launch.cgroup)}`,
        pids: cgroupPids(r.launch.cgroup),
      };
    }),
  };
}
