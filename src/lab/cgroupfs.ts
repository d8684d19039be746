/**
 * The lab's side of the cgroup v2 filesystem. Every path this module creates, kills or removes is
 * checked to lie under `<v2 mount>/crosstalk-lab/`; nothing else on the host is touched.
 *
 * Naming contract (other parts of crosstalk map these paths to containers):
 *   <v2 mount>/crosstalk-lab/<run>/<name>
 *   <run>  = run-<owner pid>-<owner start ticks, base 36>-<random>, all [a-z0-9-]
 *   <name> matches [a-z0-9][a-z0-9_.-]*  (query-1, cache-2, db-1)
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, sep } from 'node:path';

export const labCgroupDirName = 'crosstalk-lab';
export const runNamePattern = /^run-[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const containerNamePattern = /^[a-z0-9][a-z0-9_.-]*$/;

export class CgroupError extends Error {
  override name = 'CgroupError';
}

/** Undoes the octal escapes (`\040` for a space) that mountinfo uses in paths. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/**
 * Mount point of the cgroup v2 hierarchy, from mountinfo text (`/proc/self/mountinfo`):
 *   41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
 * A mount of the hierarchy's root (field 4 = `/`) wins over a bind mount of a subtree.
 */
export function findCgroup2Mount(mountinfo: string): string | null {
  let subtreeMount: string | null = null;
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const fsType = line.slice(dash + 3).split(' ')[0];
    if (fsType !== 'cgroup2') continue;
    const fields = line.slice(0, dash).split(' ');
    if (fields.length < 5) continue;
    const mountPoint = unescapeMountPath(fields[4]);
    if (fields[3] === '/') return mountPoint;
    subtreeMount ??= mountPoint;
  }
  return subtreeMount;
}

/** `<v2 mount>/crosstalk-lab`, or a CgroupError saying why the lab cannot use cgroup v2 here. */
export function labCgroupRoot(mountinfoPath = '/proc/self/mountinfo'): string {
  let text: string;
  try {
    text = readFileSync(mountinfoPath, 'utf8');
  } catch (e) {
    throw new CgroupError(`cannot read ${mountinfoPath}: ${(e as Error).message}`);
  }
  const mount = findCgroup2Mount(text);
  if (mount === null)
    throw new CgroupError('no cgroup v2 hierarchy is mounted (no cgroup2 line in mountinfo)');
  return join(mount, labCgroupDirName);
}

/** Refuses any path that is not strictly inside the lab's cgroup directory. */
export function assertInsideLab(root: string, path: string): void {
  const rel = relative(root, path);
  if (
    rel === '' ||
    rel.startsWith('..') ||
    rel.startsWith(sep) ||
    !root.endsWith(`${sep}${labCgroupDirName}`)
  ) {
    throw new CgroupError(`refusing to touch ${path}: not inside ${root}`);
  }
}

export function createCgroup(root: string, path: string): void {
  assertInsideLab(root, path);
  mkdirSync(path, { recursive: true });
}

function readCgroupFile(path: string, file: string): string | null {
  try {
    return readFileSync(join(path, file), 'utf8');
  } catch {
    return null;
  }
}

/** Host pids in this cgroup (not its children); [] when it is gone. */
export function cgroupPids(path: string): number[] {
  const text = readCgroupFile(path, 'cgroup.procs');
  if (text === null) return [];
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

/** True while any process lives in the cgroup or below it. */
export function isPopulated(path: string): boolean {
  const events = readCgroupFile(path, 'cgroup.events');
  if (events !== null) return /^populated 1$/m.test(events);
  return existsSync(path) && cgroupPids(path).length > 0;
}

/** Direct child cgroups (directories), by name. */
export function childCgroups(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Kills every process in the cgroup and below: `cgroup.kill` when the kernel has it (5.14+), else
 * SIGKILL to each pid of each cgroup.procs until nothing is left. Synchronous so signal handlers
 * and exit hooks can use it. Returns the number of pids signalled by the fallback (0 with cgroup.kill).
 */
export function killCgroupTree(root: string, path: string, timeoutMs = 5000): number {
  assertInsideLab(root, path);
  if (!existsSync(path)) return 0;
  const deadline = Date.now() + timeoutMs;
  let signalled = 0;
  const hasKill = existsSync(join(path, 'cgroup.kill'));
  while (isPopulated(path)) {
    if (hasKill) writeFileSync(join(path, 'cgroup.kill'), '1');
    else signalled += signalTree(path, 'SIGKILL');
    if (Date.now() > deadline)
      throw new CgroupError(`processes in ${path} survived SIGKILL for ${timeoutMs} ms`);
    sleepSync(10);
  }
  return signalled;
}

/** Sends a signal to every process of the cgroup and its children; returns how many. */
export function signalTree(path: string, signal: NodeJS.Signals): number {
  let n = 0;
  for (const child of childCgroups(path)) n += signalTree(join(path, child), signal);
  for (const pid of cgroupPids(path)) {
    try {
      process.kill(pid, signal);
      n++;
    } catch {
      // Already gone.
    }
  }
  return n;
}

/** Kills and removes a lab cgroup and everything under it, leaves first. Returns cgroups removed. */
export function removeCgroupTree(root: string, path: string): number {
  assertInsideLab(root, path);
  if (!existsSync(path)) return 0;
  killCgroupTree(root, path);
  let removed = 0;
  for (const child of childCgroups(path)) removed += removeCgroupTree(root, join(path, child));
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(path);
      return removed + 1;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return removed;
      // EBUSY: a dying process has not left yet.
      if (code !== 'EBUSY' || attempt > 200)
        throw new CgroupError(`cannot remove ${path}: ${(e as Error).message}`);
      killCgroupTree(root, path);
      sleepSync(10);
    }
  }
}

/** Whether the lab can create cgroups here (v2 mounted, writable). */
export function cgroupSupport(): { ok: true; root: string } | { ok: false; reason: string } {
  let root: string;
  try {
    root = labCgroupRoot();
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  try {
    const mount = join(root, '..');
    if (!statSync(mount).isDirectory()) return { ok: false, reason: `${mount} is not a directory` };
    mkdirSync(root, { recursive: true });
    return { ok: true, root };
  } catch (e) {
    return { ok: false, reason: `cannot create ${root}: ${(e as Error).message}` };
  }
}
