/**
 * The cheap readings `watch` takes every few seconds: kernel state (snapshotKernelState: PSI
 * host-wide and per cgroup, cpu.stat, dentry-state, slabs, vmstat) and /proc/stat. No perf, no
 * process spawned: only small /proc and cgroupfs files. The cgroup map (a walk of the v2
 * hierarchy, which reads every cgroup's cgroup.procs) is the costly part and is refreshed every
 * `rescanMs`, not on every reading; container engines are not asked for names here.
 */
import { readFileSync } from 'node:fs';
import { type CgroupHierarchies, cgroupHierarchies } from './cgroup-fs.ts';
import { type CgroupMap, mapCgroups } from './cgroup-map.ts';
import { type KernelStateSnapshot, snapshotKernelState } from './kernel-state.ts';
import { type ProcStat, parseProcStat } from './proc-stat.ts';

export interface CounterSample {
  /** Wall clock, ms since the epoch. */
  at: number;
  kernel: KernelStateSnapshot;
  procStat: ProcStat;
}

export interface CounterSamplerOptions {
  /** How often the cgroup map is rebuilt, ms. Default 30000. */
  rescanMs?: number;
}

export class CounterSampler {
  private hierarchies: CgroupHierarchies | null = null;
  private map: CgroupMap | null = null;
  private mappedAt = 0;
  private readonly rescanMs: number;

  constructor(opts: CounterSamplerOptions = {}) {
    this.rescanMs = opts.rescanMs ?? 30_000;
  }

  async read(): Promise<CounterSample> {
    const now = Date.now();
    if (this.hierarchies === null) this.hierarchies = await cgroupHierarchies();
    if (this.map === null || now - this.mappedAt >= this.rescanMs) {
      this.map = await mapCgroups(this.hierarchies, { maxProcessesListed: 0 });
      this.mappedAt = now;
    }
    const [kernel, stat] = await Promise.all([
      snapshotKernelState(this.hierarchies, this.map, { sync: true }),
      procStatText(),
    ]);
    return { at: now, kernel, procStat: parseProcStat(stat) };
  }
}

function procStatText(): string {
  try {
    return readFileSync('/proc/stat', 'utf8');
  } catch {
    return '';
  }
}
