/**
 * Lab-wide state on the host: one lock (only one lab run measures at a time: two would disturb each
 * other's numbers), one state file per run, and the sweep that removes what killed runs left behind.
 *
 *   /run/crosstalk-lab/lock          the run name of the current holder
 *   /run/crosstalk-lab/<run>.json    owner pid, scenario, cgroup and work directories
 */
import { readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { removeTreeNoFollow } from '../safety/safe-remove.ts';
import { ensurePrivateDir } from '../safety/trusted-path.ts';
import { cgroupPids, childCgroups, removeCgroupTree, runNamePattern } from './cgroupfs.ts';
import { isOwnerAlive, ownerOfRun } from './run-owner.ts';

export const defaultStateDir = '/run/crosstalk-lab';

export interface RunStateRecord {
  run: string;
  pid: number;
  scenario: string;
  startedAt: string;
  cgroupDir: string;
  workDir: string;
}

/** Another live lab run holds the lock. */
export class LabBusyError extends Error {
  override name = 'LabBusyError';
  constructor(
    readonly holder: string,
    readonly holderPid: number,
  ) {
    super(`another lab run is in progress (${holder}, pid ${holderPid}); wait for it to finish or stop it`);
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

export interface LockOptions {
  stateDir?: string;
  /** Seconds to wait for a live holder before giving up (default 0: refuse at once). */
  waitSeconds?: number;
  onProgress?: (msg: string) => void;
  /** Stops waiting when aborted (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** One attempt at the lock: null when taken, else the live holder. A dead holder's lock is removed. */
function tryLock(lock: string, run: string): { holder: string; pid: number } | null {
  for (;;) {
    try {
      writeFileSync(lock, `${run}\n`, { flag: 'wx' });
      return null;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // A finishing run removed the empty state directory just now.
        ensurePrivateDir(dirname(lock));
        continue;
      }
      if (code !== 'EEXIST') throw e;
    }
    const holder = readText(lock);
    if (holder === null) continue;
    const owner = ownerOfRun(holder);
    if (owner !== null && isOwnerAlive(owner)) return { holder, pid: owner.pid };
    // A dead holder: remove its lock unless someone replaced it meanwhile.
    if (readText(lock) === holder) rmSync(lock, { force: true });
  }
}

/** Takes the lab lock for `run`, waiting up to `waitSeconds` for a live holder. */
export async function acquireLabLock(run: string, opts: LockOptions = {}): Promise<void> {
  const dir = opts.stateDir ?? defaultStateDir;
  ensurePrivateDir(dir);
  const lock = join(dir, 'lock');
  const deadline = Date.now() + (opts.waitSeconds ?? 0) * 1000;
  let told = false;
  for (;;) {
    const busy = tryLock(lock, run);
    if (busy === null) return;
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (Date.now() >= deadline) throw new LabBusyError(busy.holder, busy.pid);
    if (!told) opts.onProgress?.(`waiting for lab run ${busy.holder} (pid ${busy.pid}) to finish`);
    told = true;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function releaseLabLock(run: string, stateDir = defaultStateDir): void {
  const lock = join(stateDir, 'lock');
  if (readText(lock) === run) unlinkSync(lock);
}

export function writeRunState(record: RunStateRecord, stateDir = defaultStateDir): void {
  ensurePrivateDir(stateDir);
  writeFileSync(join(stateDir, `${record.run}.json`), `${JSON.stringify(record, null, 2)}\n`);
}

export function removeRunState(run: string, stateDir = defaultStateDir): void {
  rmSync(join(stateDir, `${run}.json`), { force: true });
}

function readRunState(run: string, stateDir: string): RunStateRecord | null {
  const text = readText(join(stateDir, `${run}.json`));
  if (text === null) return null;
  try {
    return JSON.parse(text) as RunStateRecord;
  } catch {
    return null;
  }
}

function countTree(path: string): { cgroups: number; pids: number } {
  let cgroups = 1;
  let pids = cgroupPids(path).length;
  for (const child of childCgroups(path)) {
    const c = countTree(join(path, child));
    cgroups += c.cgroups;
    pids += c.pids;
  }
  return { cgroups, pids };
}

/** The run an entry of the state dir (`<run>.json`) or the work root (`<run>.XXXXXX`) belongs to. */
function runOfEntry(entry: string): string {
  return entry.replace(/\.json$/, '').replace(/\.[A-Za-z0-9]{6}$/, '');
}

/** Names of runs (in cgroupfs, the state dir or the work root) whose owner is gone. */
function deadRuns(cgroupRoot: string, stateDir: string, workRoot: string): Set<string> {
  const names = new Set<string>(childCgroups(cgroupRoot));
  for (const dir of [stateDir, workRoot]) {
    try {
      for (const entry of readdirSync(dir)) names.add(runOfEntry(entry));
    } catch {
      // Not there: nothing to sweep.
    }
  }
  const dead = new Set<string>();
  for (const name of names) {
    const owner = runNamePattern.test(name) ? ownerOfRun(name) : null;
    if (owner !== null && !isOwnerAlive(owner)) dead.add(name);
  }
  return dead;
}

function workEntriesOf(workRoot: string, run: string): string[] {
  try {
    return readdirSync(workRoot)
      .filter((e) => e === run || runOfEntry(e) === run)
      .map((e) => join(workRoot, e));
  } catch {
    return [];
  }
}

/**
 * Removes cgroups, processes, work directories and state files of runs whose owner died (SIGKILL,
 * crash). Runs of live owners are left alone. Returns one message per run swept.
 */
export function sweepStaleRuns(cgroupRoot: string, workRoot: string, stateDir = defaultStateDir): string[] {
  const messages: string[] = [];
  for (const run of deadRuns(cgroupRoot, stateDir, workRoot)) {
    const owner = ownerOfRun(run)!;
    const cgroupDir = join(cgroupRoot, run);
    const counts = childCgroups(cgroupRoot).includes(run) ? countTree(cgroupDir) : { cgroups: 0, pids: 0 };
    if (counts.cgroups > 0) removeCgroupTree(cgroupRoot, cgroupDir);
    const state = readRunState(run, stateDir);
    // Only entries of the work root named after the run are removed, and never through a link.
    const workDirs = new Set(workEntriesOf(workRoot, run));
    if (
      typeof state?.workDir === 'string' &&
      dirname(state.workDir) === workRoot &&
      runOfEntry(basename(state.workDir)) === run
    )
      workDirs.add(state.workDir);
    for (const dir of workDirs) removeTreeNoFollow(dir);
    removeRunState(run, stateDir);
    const what = [`${counts.cgroups} stale lab cgroup${counts.cgroups === 1 ? '' : 's'}`];
    if (counts.pids > 0) what.push(`${counts.pids} process${counts.pids === 1 ? '' : 'es'} killed`);
    messages.push(`removed ${what.join(', ')} from ${run}, a run that was killed (pid ${owner.pid} gone)`);
  }
  return messages;
}
