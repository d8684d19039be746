/**
 * Other load on the host, measured before the demo starts: the host's busy CPU time from
 * /proc/stat over about a second, and each cgroup v2 leaf's share from its cpu.stat usage_usec.
 * crosstalk's own CPU time (it sleeps through the probe) is taken out of its cgroup. Processes
 * outside any leaf (the root cgroup: kernel threads, hosts without systemd) are the host's busy
 * time minus what the top-level cgroups used.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupHierarchies, type WalkedCgroup, walkCgroups } from './cgroup-fs.ts';
import { parseKeyValues } from './kernel-state.ts';
import { parseProcStat } from './proc-stat.ts';

export interface CgroupBusy {
  /** cgroup v2 path (`/system.slice/docker-….scope`), or `/` for processes outside any leaf. Untrusted text. */
  path: string;
  /** Average CPUs this cgroup kept busy during the probe. */
  cpus: number;
}

export interface HostLoad {
  seconds: number;
  /** CPUs of the host (the share's denominator). */
  hostCpus: number;
  /** Average CPUs busy with anything but crosstalk during the probe. */
  busyCpus: number;
  /** Leaf cgroups (and `/`) by CPUs busy, largest first; at most `top`. */
  cgroups: CgroupBusy[];
  /** Why per-cgroup figures are missing (no cgroup v2), or null. */
  note: string | null;
}

const USER_HZ = 100;

/*
 * cpu.stat (cgroup v2, Documentation/admin-guide/cgroup-v2.rst), the line read here:
 *   usage_usec 123456789
 */
export function usageUsecOf(cpuStat: string): number | null {
  return parseKeyValues(cpuStat).usage_usec ?? null;
}

/** utime + stime of this process, in USER_HZ ticks (proc(5) /proc/self/stat fields 14 and 15). */
export function selfTicksOf(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

async function readUsage(cgroups: WalkedCgroup[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(
    cgroups.map(async (c) => {
      const u = usageUsecOf(await readFile(join(c.dir, 'cpu.stat'), 'utf8').catch(() => ''));
      if (u !== null) out.set(c.path, u);
    }),
  );
  return out;
}

async function hostBusyTicks(): Promise<{ busy: number } | null> {
  const cpu = parseProcStat(await readFile('/proc/stat', 'utf8').catch(() => '')).cpu;
  return cpu === null ? null : { busy: cpu.total - cpu.idle - cpu.iowait };
}

async function ownCgroup(): Promise<string | null> {
  const text = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
  return /^0::(\/.*)$/m.exec(text)?.[1] ?? null;
}

/** Measures for `seconds` (default 1); never throws (missing files give fewer figures). */
export async function probeHostLoad(opts: { seconds?: number; top?: number } = {}): Promise<HostLoad> {
  const seconds = opts.seconds ?? 1;
  const hostCpus = (await readFile('/proc/stat', 'utf8').catch(() => '')).match(/^cpu\d+ /gm)?.length ?? 1;
  const h = await cgroupHierarchies();
  const walked = h.v2 ? (await walkCgroups(h.v2)).cgroups : [];
  const own = await ownCgroup();
  const selfTicks = async () => selfTicksOf(await readFile('/proc/self/stat', 'utf8').catch(() => ''));
  const [host0, use0, self0] = [await hostBusyTicks(), await readUsage(walked), await selfTicks()];
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const [host1, use1, self1] = [await hostBusyTicks(), await readUsage(walked), await selfTicks()];
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const selfCpus = Number.isFinite(self1 - self0) ? (self1 - self0) / USER_HZ / elapsed : 0;
  const hostBusy = host0 && host1 ? (host1.busy - host0.busy) / USER_HZ / elapsed : 0;
  const cpusOf = (path: string) => {
    const a = use0.get(path);
    const b = use1.get(path);
    if (a === undefined || b === undefined) return 0;
    return Math.max(0, (b - a) / 1e6 / elapsed - (path === own ? selfCpus : 0));
  };
  const parents = new Set(walked.map((c) => c.path.slice(0, Math.max(1, c.path.lastIndexOf('/')))));
  const leaves = walked.filter((c) => c.path !== '/' && !parents.has(c.path));
  const list: CgroupBusy[] = leaves.map((c) => ({ path: c.path, cpus: cpusOf(c.path) }));
  const topLevel = walked.filter((c) => c.path !== '/' && c.path.lastIndexOf('/') === 0);
  if (walked.length > 0) {
    const inCgroups = topLevel.reduce((s, c) => s + cpusOf(c.path), 0);
    list.push({ path: '/', cpus: Math.max(0, hostBusy - selfCpus - inCgroups) });
  }
  return {
    seconds: elapsed,
    hostCpus,
    busyCpus: Math.max(0, hostBusy - selfCpus),
    cgroups: list
      .filter((c) => c.cpus > 0)
      .sort((a, b) => b.cpus - a.cpus)
      .slice(0, opts.top ?? 5),
    note: h.v2 ? null : 'no cgroup v2 hierarchy: only the host total is known',
  };
}
