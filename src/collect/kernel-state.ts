/**
 * Snapshots of kernel state that neighbouring containers pollute and a CPU profile cannot show:
 * the dentry cache (incl. negative dentries), dentry/inode slab caches, vmstat, meminfo, pressure
 * stall information host-wide and per container cgroup, and each container's cpu.stat (usage and
 * throttling). Taken before and after a recording; the analysis subtracts them. Every source may
 * be missing (older kernels, no root, no PSI): a missing file is a null plus a note, never a throw.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CgroupHierarchies, pidsOf, v1MountWith, walkCgroups } from './cgroup-fs.ts';
import type { CgroupMap } from './cgroup-map.ts';
import { looksLikeContainer } from './cgroup-map.ts';
import { FILE_CONCURRENCY, mapBounded } from './concurrency.ts';
import { parseProcStat } from './proc-stat.ts';

/** One line of a PSI file. avg* are percentages of wall time; total is microseconds stalled. */
export interface Psi {
  avg10: number;
  avg60: number;
  avg300: number;
  total: number;
}

export interface Pressure {
  some: Psi | null;
  /** Absent for host-wide cpu on kernels before 5.13. */
  full: Psi | null;
}

export type PressureResource = 'cpu' | 'memory' | 'io';

/** /proc/sys/fs/dentry-state; nrNegative is null before kernel 5.0 (the field was a dummy). */
export interface DentryState {
  nrDentry: number;
  nrUnused: number;
  ageLimit: number;
  wantPages: number;
  nrNegative: number | null;
}

export interface SlabRow {
  name: string;
  activeObjs: number;
  numObjs: number;
  objSize: number;
  /** numObjs * objSize: memory the cache holds, bytes. */
  bytes: number;
}

export interface CgroupCounters {
  /** Path in its hierarchy (as perf prints v2 paths). */
  path: string;
  hierarchy: 'v2' | 'v1';
  pressure: Partial<Record<PressureResource, Pressure>>;
  /** cpu.stat as key -> value (v2: usage_usec, nr_throttled, throttled_usec; v1: throttled_time ns). */
  cpuStat: Record<string, number> | null;
}

/**
 * The all-CPU line of /proc/stat, in USER_HZ ticks: steal is time the hypervisor ran something else
 * while this VM's vCPUs were runnable (0 on bare metal); total is every field but guest time (which
 * user already counts).
 */
export interface CpuTimes {
  steal: number;
  total: number;
}

export interface KernelStateSnapshot {
  takenAt: string;
  /** /proc/stat `cpu` line; absent in runs recorded before it was read. */
  cpuTimes?: CpuTimes | null;
  /** /proc/uptime, seconds: subtract two snapshots for the interval between them. */
  uptimeSeconds: number | null;
  dentryState: DentryState | null;
  /** Selected /proc/slabinfo rows; null when unreadable (it is root-only). */
  slabinfo: SlabRow[] | null;
  vmstat: Record<string, number> | null;
  /** Values in kB as the file gives them (HugePages_* are counts). */
  meminfo: Record<string, number> | null;
  pressure: Partial<Record<PressureResource | 'irq', Pressure>>;
  cgroups: CgroupCounters[];
  /** What could not be read, one line each. */
  notes: string[];
}

const PRESSURE_RESOURCES: readonly PressureResource[] = ['cpu', 'memory', 'io'];
/** Slab caches that grow when neighbours churn through files: dentries, inodes, open files. */
const SLAB_ROWS = /^(dentry|.*inode.*|filp|names_cache|radix_tree_node|buffer_head|xfs_ili)$/;
/** Per-cgroup counters are read for at most this many cgroups (two files each, twice a run). */
const MAX_CGROUPS = 2000;

/*
 * PSI (Documentation/accounting/psi.rst):
 *   some avg10=0.83 avg60=0.97 avg300=1.08 total=8468662
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 */
export function parsePressure(text: string): Pressure {
  const out: Pressure = { some: null, full: null };
  for (const line of text.split('\n')) {
    const [kind, ...fields] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const v: Record<string, number> = {};
    for (const f of fields) {
      const [k, n] = f.split('=');
      v[k] = Number(n);
    }
    if ([v.avg10, v.avg60, v.avg300, v.total].every(Number.isFinite)) {
      out[kind] = { avg10: v.avg10, avg60: v.avg60, avg300: v.avg300, total: v.total };
    }
  }
  return out;
}

/* /proc/sys/fs/dentry-state: `17384	15886	45	0	6143	0` (nr_dentry nr_unused age_limit want_pages nr_negative dummy) */
export function parseDentryState(text: string): DentryState | null {
  const n = text.trim().split(/\s+/).map(Number);
  if (n.length < 4 || !n.slice(0, 4).every(Number.isFinite)) return null;
  return {
    nrDentry: n[0],
    nrUnused: n[1],
    ageLimit: n[2],
    wantPages: n[3],
    nrNegative: n.length >= 6 && Number.isFinite(n[4]) ? n[4] : null,
  };
}

/*
 * /proc/slabinfo 2.1:
 *   # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables ...
 *   dentry             17444  17724    192   21    1 : tunables    0    0    0 : slabdata    844    844      0
 */
export function parseSlabinfo(text: string, wanted: RegExp = SLAB_ROWS): SlabRow[] {
  const rows: SlabRow[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.startsWith('slabinfo')) continue;
    const [name, active, num, size] = line.trim().split(/\s+/);
    if (!name || !wanted.test(name)) continue;
    const [activeObjs, numObjs, objSize] = [active, num, size].map(Number);
    // Caches of filesystems never mounted here hold nothing: leave them out.
    if (![activeObjs, numObjs, objSize].every(Number.isFinite) || numObjs === 0) continue;
    rows.push({ name, activeObjs, numObjs, objSize, bytes: numObjs * objSize });
  }
  return rows;
}

/**
 * `cpu  user nice system idle iowait irq softirq steal guest guest_nice` (proc(5)); kernels before
 * 2.6.11 have no steal column (null then).
 */
export function parseCpuTimes(text: string): CpuTimes | null {
  const cpu = parseProcStat(text).cpu;
  return cpu === null ? null : { steal: cpu.steal, total: cpu.total };
}

/** `key value` lines (vmstat, cpu.stat) or `Key:   value kB` lines (meminfo). */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):?\s+(-?\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

type ReadText = (path: string) => Promise<{ text: string } | { error: string }>;

function textReader(read: (path: string) => string | Promise<string>): ReadText {
  return async (path) => {
    try {
      return { text: await read(path) };
    } catch (e) {
      return { error: (e as NodeJS.ErrnoException).code ?? String(e) };
    }
  };
}

export interface SnapshotOptions {
  /**
   * Read the files synchronously: each small /proc or cgroupfs file then costs a few microseconds
   * instead of the thread-pool round trips of fs/promises (watch reads them every few seconds; it
   * measured 6 ms of CPU per reading asynchronously). Default false: `record`'s two snapshots of
   * up to 2,000 cgroups do not block the event loop.
   */
  sync?: boolean;
}

/** Reads `path` and parses it; on failure notes why and yields null. */
async function readParsed<T>(
  readText: ReadText,
  path: string,
  parse: (text: string) => T,
  notes: string[],
): Promise<T | null> {
  const r = await readText(path);
  if ('error' in r) {
    notes.push(`${path}: ${r.error}`);
    return null;
  }
  return parse(r.text);
}

export async function snapshotKernelState(
  h: CgroupHierarchies,
  map: CgroupMap,
  opts: SnapshotOptions = {},
): Promise<KernelStateSnapshot> {
  const notes: string[] = [];
  const read = textReader(opts.sync ? (p) => readFileSync(p, 'utf8') : (p) => readFile(p, 'utf8'));
  const [uptime, cpuTimes, dentryState, slabinfo, vmstat, meminfo, pressure, cgroups] = await Promise.all([
    readParsed(read, '/proc/uptime', (t) => Number.parseFloat(t), notes),
    readParsed(read, '/proc/stat', parseCpuTimes, notes),
    readParsed(read, '/proc/sys/fs/dentry-state', parseDentryState, notes),
    readParsed(read, '/proc/slabinfo', (t) => parseSlabinfo(t), notes),
    readParsed(read, '/proc/vmstat', parseKeyValues, notes),
    readParsed(read, '/proc/meminfo', parseKeyValues, notes),
    hostPressure(read, notes),
    cgroupCounters(read, h, map, notes),
  ]);
  return {
    takenAt: new Date().toISOString(),
    uptimeSeconds: uptime !== null && Number.isFinite(uptime) ? uptime : null,
    cpuTimes,
    dentryState,
    slabinfo,
    vmstat,
    meminfo,
    pressure,
    cgroups,
    notes,
  };
}

async function hostPressure(readText: ReadText, notes: string[]): Promise<KernelStateSnapshot['pressure']> {
  const out: KernelStateSnapshot['pressure'] = {};
  for (const r of [...PRESSURE_RESOURCES, 'irq'] as const) {
    const text = await readText(`/proc/pressure/${r}`);
    if ('text' in text) out[r] = parsePressure(text.text);
    // irq pressure exists only with CONFIG_IRQ_TIME_ACCOUNTING (6.1+): absence is not news.
    else if (r !== 'irq') notes.push(`/proc/pressure/${r}: ${text.error}`);
  }
  return out;
}

/**
 * Containers' counters: v2 pressure and cpu.stat of each container (and each other populated
 * cgroup) in the map; where v2 has no cpu controller, cpu.stat throttling comes from the v1 cpu
 * hierarchy, walked for populated cgroups.
 */
async function cgroupCounters(
  readText: ReadText,
  h: CgroupHierarchies,
  map: CgroupMap,
  notes: string[],
): Promise<CgroupCounters[]> {
  const v2Paths = map.hierarchy === 'v2' && map.mountPoint ? v2CounterPaths(map) : [];
  const v2 = await mapBounded(v2Paths.slice(0, MAX_CGROUPS), FILE_CONCURRENCY, (path) =>
    readCgroupCounters(readText, map.mountPoint!, path, 'v2'),
  );
  const v1Cpu = v1MountWith(h, 'cpu');
  const needV1 = v1Cpu && !(h.v2?.controllers.includes('cpu') ?? false);
  const v1 = needV1 ? await v1CpuCounters(readText, v1Cpu.mountPoint) : [];
  if (v2Paths.length + v1.length > MAX_CGROUPS)
    notes.push(`cgroup counters limited to ${MAX_CGROUPS} cgroups`);
  return [...v2, ...v1].slice(0, MAX_CGROUPS);
}

/** Populated cgroups and the root cgroup of every container among them; not the host root. */
function v2CounterPaths(map: CgroupMap): string[] {
  const paths = new Set<string>();
  for (const c of map.cgroups) {
    if (c.path !== '/') paths.add(c.path);
    if (looksLikeContainer(c.container) && c.container.cgroup !== '') paths.add(c.container.cgroup);
  }
  return [...paths].sort();
}

async function readCgroupCounters(
  readText: ReadText,
  mountPoint: string,
  path: string,
  hierarchy: 'v2' | 'v1',
): Promise<CgroupCounters> {
  const dir = join(mountPoint, path);
  const pressure: CgroupCounters['pressure'] = {};
  if (hierarchy === 'v2') {
    for (const r of PRESSURE_RESOURCES) {
      const t = await readText(join(dir, `${r}.pressure`));
      if ('text' in t) pressure[r] = parsePressure(t.text);
    }
  }
  const stat = await readText(join(dir, 'cpu.stat'));
  return { path, hierarchy, pressure, cpuStat: 'text' in stat ? parseKeyValues(stat.text) : null };
}

async function v1CpuCounters(readText: ReadText, mountPoint: string): Promise<CgroupCounters[]> {
  const { cgroups } = await walkCgroups({ version: 1, mountPoint, root: '/', controllers: ['cpu'] });
  const wanted = await mapBounded(cgroups, FILE_CONCURRENCY, async (c) =>
    c.path !== '/' && (await pidsOf(c.dir)).length > 0 ? c.path : null,
  );
  const paths = wanted.filter((p): p is string => p !== null).slice(0, MAX_CGROUPS);
  return mapBounded(paths, FILE_CONCURRENCY, (p) => readCgroupCounters(readText, mountPoint, p, 'v1'));
}
