/**
 * One lab run: its cgroup directory, work directory, state file and lock, plus a process-wide
 * registry so every exit path (normal end, thrown error, signal, process.exit) removes what the run
 * created. Closing is synchronous and idempotent: signal handlers and the exit hook can call it.
 */
import { mkdtempSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { removeTreeNoFollow } from '../safety/safe-remove.ts';
import { ensurePrivateDir } from '../safety/trusted-path.ts';
import { createCgroup, labCgroupDirName, removeCgroupTree } from './cgroupfs.ts';
import { currentOwner, newRunName } from './run-owner.ts';
import {
  acquireLabLock,
  defaultStateDir,
  releaseLabLock,
  removeRunState,
  sweepStaleRuns,
  writeRunState,
} from './run-state.ts';

/**
 * Root's private work root (0700, on disk: tmpfs would hide writeback and journal effects). Never
 * under a world-writable directory such as /var/tmp, where a local user could pre-create it.
 */
export const defaultWorkRoot = '/var/lib/crosstalk-lab';

/**
 * A run's work directory: `<work root>/<run>.XXXXXX`, created by mkdtemp (0700, a name nobody can
 * predict) inside a work root checked to be root's own (UntrustedPathError otherwise).
 */
export function createWorkDir(workRoot: string, run: string): string {
  ensurePrivateDir(workRoot);
  return mkdtempSync(join(workRoot, `${run}.`));
}

export interface LabRun {
  readonly name: string;
  readonly scenario: string;
  /** `<v2 mount>/crosstalk-lab` */
  readonly cgroupRoot: string;
  /** `<v2 mount>/crosstalk-lab/<run>` */
  readonly cgroupDir: string;
  /** Files of the workloads (logs, tables, spools): `<work root>/<run>.XXXXXX` (the work root until created). */
  workDir: string;
  readonly stateDir: string;
  /** What sweeping stale runs at the start removed, one line each. */
  readonly staleRemoved: string[];
  closed: boolean;
  /**
   * Synchronous steps run first when the run closes (an engine's containers and image); one
   * that throws keeps the run open, so a later close tries again.
   */
  onClose?: () => void;
}

const active = new Set<LabRun>();
let exitHookInstalled = false;

export interface OpenRunOptions {
  scenario: string;
  cgroupRoot: string;
  workRoot?: string;
  stateDir?: string;
  /** Seconds to wait for another live lab run to finish (default 0: refuse). */
  waitSeconds?: number;
  onProgress?: (msg: string) => void;
  signal?: AbortSignal;
}

export async function openRun(opts: OpenRunOptions): Promise<LabRun> {
  const owner = currentOwner();
  const name = newRunName(owner);
  const stateDir = opts.stateDir ?? defaultStateDir;
  const workRoot = opts.workRoot ?? defaultWorkRoot;
  // Before anything is created: a work root someone else controls is refused outright.
  ensurePrivateDir(workRoot);
  await acquireLabLock(name, {
    stateDir,
    waitSeconds: opts.waitSeconds,
    onProgress: opts.onProgress,
    signal: opts.signal,
  });
  const run: LabRun = {
    name,
    scenario: opts.scenario,
    cgroupRoot: opts.cgroupRoot,
    cgroupDir: join(opts.cgroupRoot, name),
    workDir: workRoot,
    stateDir,
    staleRemoved: [],
    closed: false,
  };
  registerRun(run);
  try {
    run.workDir = createWorkDir(workRoot, name);
    run.staleRemoved.push(...sweepStaleRuns(opts.cgroupRoot, workRoot, stateDir));
    writeRunState(
      {
        run: name,
        pid: owner.pid,
        scenario: opts.scenario,
        startedAt: new Date().toISOString(),
        cgroupDir: run.cgroupDir,
        workDir: run.workDir,
      },
      stateDir,
    );
    createCgroup(run.cgroupRoot, run.cgroupDir);
  } catch (e) {
    closeRun(run);
    throw e;
  }
  return run;
}

/** Creates (if needed) the cgroup of one container of the run and returns its path. */
export function containerCgroup(run: LabRun, container: string): string {
  const path = join(run.cgroupDir, container);
  createCgroup(run.cgroupRoot, path);
  return path;
}

/** Kills the run's processes, removes its cgroups, files, state and lock. Safe to call twice. */
export function closeRun(run: LabRun): void {
  if (run.closed) return;
  const errors: string[] = [];
  const attempt = (f: () => void) => {
    try {
      f();
    } catch (e) {
      errors.push((e as Error).message);
    }
  };
  if (run.onClose) attempt(run.onClose);
  attempt(() => removeCgroupTree(run.cgroupRoot, run.cgroupDir));
  attempt(() => removeLabDirIfEmpty(run.cgroupRoot));
  if (basename(run.workDir).startsWith(`${run.name}.`)) {
    attempt(() => removeTreeNoFollow(run.workDir));
    attempt(() => removeLabDirIfEmpty(dirname(run.workDir)));
  }
  attempt(() => removeRunState(run.name, run.stateDir));
  attempt(() => releaseLabLock(run.name, run.stateDir));
  attempt(() => removeLabDirIfEmpty(run.stateDir));
  run.closed = errors.length === 0;
  if (run.closed) active.delete(run);
  if (errors.length > 0) throw new Error(`lab cleanup of ${run.name} incomplete: ${errors.join('; ')}`);
}

/**
 * The shared `crosstalk-lab` directories (cgroup root, work root, state dir) go too once no run
 * uses them; a directory with another name (a work root the caller chose) is left alone.
 */
function removeLabDirIfEmpty(dir: string): void {
  if (basename(dir) !== labCgroupDirName) return;
  try {
    rmdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Another run's directory is inside (EBUSY on cgroupfs), or it is already gone.
    if (code !== 'EBUSY' && code !== 'ENOTEMPTY' && code !== 'ENOENT') throw e;
  }
}

function registerRun(run: LabRun): void {
  active.add(run);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', closeAllRuns);
  }
}

/** Closes every run of this process (exit hook, second signal). Errors go to stderr. */
export function closeAllRuns(): void {
  for (const run of [...active]) {
    try {
      closeRun(run);
    } catch (e) {
      process.stderr.write(`crosstalk: ${(e as Error).message}\n`);
      active.delete(run);
    }
  }
}

export function activeRuns(): readonly LabRun[] {
  return [...active];
}
