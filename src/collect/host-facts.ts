/**
 * Facts about the host that decide how a profile can be read: kernel, CPUs, perf's version, the
 * sysctls that gate profiling and kernel symbols, and the cgroup layout (perf names cgroups by
 * their v2 path; on a hybrid host, controllers such as cpu live in v1 hierarchies).
 */
import { readFile } from 'node:fs/promises';
import { arch, hostname, release, version } from 'node:os';
import type { CgroupHierarchies, CgroupLayout } from './cgroup-fs.ts';

export interface HostFacts {
  hostname: string;
  /** uname -r */
  kernelRelease: string;
  /** uname -v */
  kernelVersion: string;
  arch: string;
  /** CPUs online (/sys/devices/system/cpu/online), the denominator of per-CPU shares. */
  cpusOnline: number | null;
  memTotalKiB: number | null;
  /** PRETTY_NAME of /etc/os-release. */
  os: string | null;
  /** `perf version` output, e.g. `6.1.187`; null when perf is missing. */
  perfVersion: string | null;
  sysctl: {
    perfEventParanoid: number | null;
    kptrRestrict: number | null;
    perfEventMaxSampleRate: number | null;
    perfEventMlockKb: number | null;
  };
  cgroups: {
    layout: CgroupLayout;
    v2MountPoint: string | null;
    v2Controllers: string[];
    v1: { mountPoint: string; controllers: string[] }[];
  };
  /** /proc/pressure exists (CONFIG_PSI and not disabled with psi=0). */
  psi: boolean;
}

export async function readSysctlNumber(name: string): Promise<number | null> {
  const text = await readFile(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').catch(() => null);
  if (text === null) return null;
  const n = Number.parseInt(text, 10);
  return Number.isFinite(n) ? n : null;
}

/** `0-1,4` -> 3 */
export function countCpuList(list: string): number | null {
  let n = 0;
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map((x) => Number.parseInt(x, 10));
    if (!Number.isFinite(a)) return null;
    n += Number.isFinite(b) ? b - a + 1 : 1;
  }
  return n;
}

async function osName(): Promise<string | null> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
  return m ? m[1] : null;
}

async function memTotalKiB(): Promise<number | null> {
  const text = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const m = /^MemTotal:\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

export async function readHostFacts(h: CgroupHierarchies, perfVersion: string | null): Promise<HostFacts> {
  const [online, os, mem, paranoid, kptr, maxRate, mlock, psi] = await Promise.all([
    readFile('/sys/devices/system/cpu/online', 'utf8').catch(() => null),
    osName(),
    memTotalKiB(),
    readSysctlNumber('kernel.perf_event_paranoid'),
    readSysctlNumber('kernel.kptr_restrict'),
    readSysctlNumber('kernel.perf_event_max_sample_rate'),
    readSysctlNumber('kernel.perf_event_mlock_kb'),
    readFile('/proc/pressure/cpu', 'utf8').then(
      () => true,
      () => false,
    ),
  ]);
  return {
    hostname: hostname(),
    kernelRelease: release(),
    kernelVersion: version(),
    arch: arch(),
    cpusOnline: online === null ? null : countCpuList(online),
    memTotalKiB: mem,
    os,
    perfVersion,
    sysctl: {
      perfEventParanoid: paranoid,
      kptrRestrict: kptr,
      perfEventMaxSampleRate: maxRate,
      perfEventMlockKb: mlock,
    },
    cgroups: {
      layout: h.layout,
      v2MountPoint: h.v2?.mountPoint ?? null,
      v2Controllers: h.v2?.controllers ?? [],
      v1: h.v1.map((m) => ({ mountPoint: m.mountPoint, controllers: m.controllers })),
    },
    psi,
  };
}
