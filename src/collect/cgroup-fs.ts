/**
 * Where the cgroup hierarchies are mounted (from /proc/self/mountinfo) and a bounded walk over one.
 * perf --all-cgroups tags samples with the cgroup v2 (default hierarchy) id, so v2 is the
 * hierarchy that names containers; v1 hierarchies still carry controllers such as cpu on hybrid
 * hosts (cpu.stat throttling lives there when v2 lacks the cpu controller).
 */
import { opendir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupMount {
  version: 1 | 2;
  /** Where it is mounted, e.g. /sys/fs/cgroup/unified. */
  mountPoint: string;
  /** The hierarchy path this mount shows (`/` unless a container namespace narrowed it). */
  root: string;
  /** v1: the controllers bound to it (`cpu`, `cpuacct`, `name=systemd`); v2: from cgroup.controllers. */
  controllers: string[];
}

export type CgroupLayout = 'v2' | 'hybrid' | 'v1' | 'none';

export interface CgroupHierarchies {
  layout: CgroupLayout;
  v2: CgroupMount | null;
  v1: CgroupMount[];
}

/*
 * /proc/self/mountinfo lines (proc(5)); fields after the optional tags, past " - ":
 *   41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
 *   32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
 * Paths escape space, tab, newline and backslash as octal (\040).
 */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const before = line.slice(0, sep).split(' ');
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    if (before.length < 5 || (fstype !== 'cgroup' && fstype !== 'cgroup2')) continue;
    const options = superOptions.split(',');
    mounts.push({
      version: fstype === 'cgroup2' ? 2 : 1,
      mountPoint: unescapeMountPath(before[4]),
      root: unescapeMountPath(before[3]),
      controllers: fstype === 'cgroup2' ? [] : options.filter((o) => !V1_NON_CONTROLLER_OPTIONS.has(o)),
    });
  }
  return mounts;
}

/** Super options of a v1 mount that are not controllers. */
const V1_NON_CONTROLLER_OPTIONS = new Set([
  'rw',
  'ro',
  'noprefix',
  'clone_children',
  'xattr',
  'cpuset_v2_mode',
]);

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** The hierarchies mounted in this mount namespace; the first mount of each wins. */
export async function cgroupHierarchies(mountinfoPath = '/proc/self/mountinfo'): Promise<CgroupHierarchies> {
  const mounts = parseCgroupMounts(await readFile(mountinfoPath, 'utf8').catch(() => ''));
  const v2 = mounts.find((m) => m.version === 2) ?? null;
  if (v2) {
    const text = await readFile(join(v2.mountPoint, 'cgroup.controllers'), 'utf8').catch(() => '');
    v2.controllers = text.split(/\s+/).filter(Boolean);
  }
  const seen = new Set<string>();
  const v1 = mounts.filter((m) => {
    const key = m.controllers.join(',');
    if (m.version !== 1 || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const layout: CgroupLayout = v2 ? (v1.length > 0 ? 'hybrid' : 'v2') : v1.length > 0 ? 'v1' : 'none';
  return { layout, v2, v1 };
}

/** The v1 mount that carries `controller`, if any. */
export function v1MountWith(h: CgroupHierarchies, controller: string): CgroupMount | undefined {
  return h.v1.find((m) => m.controllers.includes(controller));
}

export interface WalkOptions {
  /** Stop after this many directories. Default 20000: far above real hosts, bounds a pathological one. */
  maxDirs?: number;
}

export interface WalkedCgroup {
  /** Path inside the hierarchy, `/` for the mount itself (as perf prints cgroup paths). */
  path: string;
  dir: string;
}

/** Every cgroup directory under a mount, parents first. `truncated` when maxDirs was reached. */
export async function walkCgroups(
  mount: CgroupMount,
  opts: WalkOptions = {},
): Promise<{ cgroups: WalkedCgroup[]; truncated: boolean }> {
  const max = opts.maxDirs ?? 20000;
  const cgroups: WalkedCgroup[] = [{ path: '/', dir: mount.mountPoint }];
  for (let i = 0; i < cgroups.length; i++) {
    const parent = cgroups[i];
    const dir = await opendir(parent.dir).catch(() => null);
    if (!dir) continue; // Removed while we walked: cgroups come and go.
    for await (const entry of dir) {
      if (!entry.isDirectory()) continue;
      if (cgroups.length >= max) return { cgroups, truncated: true };
      const path = parent.path === '/' ? `/${entry.name}` : `${parent.path}/${entry.name}`;
      cgroups.push({ path, dir: join(parent.dir, entry.name) });
    }
  }
  return { cgroups, truncated: false };
}

/** Pids in a cgroup (cgroup.procs); empty when it is gone or unreadable. */
export async function pidsOf(dir: string): Promise<number[]> {
  const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  const pids: number[] = [];
  for (const line of text.split('\n')) {
    const pid = Number.parseInt(line, 10);
    if (pid > 0) pids.push(pid);
  }
  return pids;
}
