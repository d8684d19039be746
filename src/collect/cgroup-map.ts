/**
 * The cgroup -> container map at record time: every cgroup of the v2 hierarchy (the one perf's
 * cgroup ids refer to) that holds processes, with its id, pids, process names and the container
 * it belongs to (named by docker / crictl / podman when they answer). Taken before and after the
 * recording, so a reader can name a cgroup that was only alive for part of the window.
 */
import { readFile, stat } from 'node:fs/promises';
import {
  applyNames,
  type ContainerIdentity,
  type ContainerNames,
  containerOf,
} from '../analysis/containers.ts';
import { type CgroupHierarchies, type CgroupMount, pidsOf, v1MountWith, walkCgroups } from './cgroup-fs.ts';
import { FILE_CONCURRENCY, mapBounded } from './concurrency.ts';

export interface CgroupProcess {
  pid: number;
  /** /proc/PID/comm, or null when the process exited before we read it. */
  comm: string | null;
}

export interface CgroupEntry {
  /** Path in the hierarchy, as perf prints it (`/system.slice/docker-<id>.scope`). */
  path: string;
  /** The cgroup id perf records (the directory's inode number on cgroup v2); null if unknown. */
  id: number | null;
  /** Number of processes in this cgroup itself (not its children). */
  pidCount: number;
  /** The first maxProcessesListed processes. */
  processes: CgroupProcess[];
  container: ContainerIdentity;
}

export interface CgroupMap {
  takenAt: string;
  /** `v2`, or `v1:<controllers>` when no v2 hierarchy is mounted (perf ids then do not match). */
  hierarchy: string;
  mountPoint: string | null;
  cgroups: CgroupEntry[];
  /** The walk stopped at its directory limit. */
  truncated: boolean;
}

export interface CgroupMapOptions {
  /** Names from container engines (resolveContainerNames). Default: none. */
  names?: ContainerNames;
  /** Processes listed per cgroup. Default 20: enough to recognize a workload, bounded on big hosts. */
  maxProcessesListed?: number;
}

/** The hierarchy to map: v2 when mounted, else the v1 hierarchy of cpu (else any). */
export function mappedMount(h: CgroupHierarchies): { mount: CgroupMount; hierarchy: string } | null {
  if (h.v2) return { mount: h.v2, hierarchy: 'v2' };
  const v1 = v1MountWith(h, 'cpu') ?? h.v1[0];
  return v1 ? { mount: v1, hierarchy: `v1:${v1.controllers.join(',')}` } : null;
}

export async function mapCgroups(h: CgroupHierarchies, opts: CgroupMapOptions = {}): Promise<CgroupMap> {
  const takenAt = new Date().toISOString();
  const target = mappedMount(h);
  if (!target) return { takenAt, hierarchy: 'none', mountPoint: null, cgroups: [], truncated: false };
  const { cgroups, truncated } = await walkCgroups(target.mount);
  const names = opts.names ?? new Map();
  const listed = opts.maxProcessesListed ?? 20;
  const entries = await mapBounded(cgroups, FILE_CONCURRENCY, async (c): Promise<CgroupEntry | null> => {
    const pids = await pidsOf(c.dir);
    if (pids.length === 0) return null;
    const id = await stat(c.dir).then(
      (s) => s.ino,
      () => null,
    );
    const processes: CgroupProcess[] = [];
    for (const pid of pids.slice(0, listed)) processes.push({ pid, comm: await commOf(pid) });
    const container = applyNames(containerOf(c.path), names);
    return { path: c.path, id, pidCount: pids.length, processes, container };
  });
  return {
    takenAt,
    hierarchy: target.hierarchy,
    mountPoint: target.mount.mountPoint,
    cgroups: entries.filter((e): e is CgroupEntry => e !== null),
    truncated,
  };
}

async function commOf(pid: number): Promise<string | null> {
  const text = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => null);
  return text === null ? null : text.replace(/\n$/, '');
}

/** Whether the cgroup is worth per-cgroup kernel counters: a container, pod, or lab container. */
export function looksLikeContainer(identity: ContainerIdentity): boolean {
  return identity.kind === 'container' || identity.kind === 'pod';
}
