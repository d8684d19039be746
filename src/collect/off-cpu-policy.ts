/**
 * Whether `record` records context switches (off-CPU time) when the user did not say.
 *
 * Recording a switch (sched:sched_switch with its call chain) costs the CPU doing it about 3.8 µs.
 * Measured here with bench/pingpong.c pinned to one CPU (about 400,000 switches/s): 199,000
 * round trips/s alone, 80,000 while switches were recorded, i.e. 7.5 µs more per round trip of two
 * switches; bench/record-overhead.mjs, through `crosstalk record`: 59.9% of the round trips lost.
 * The cost is negligible on CPU-bound and syscall-heavy hosts (under 1%, the README's table) and
 * large on hosts that switch hundreds of thousands of times a second. So the default
 * is decided on the host: its switch rate is read from /proc/stat (`ctxt`) over half a second
 * before recording, and switches are recorded when the estimated cost stays under 5% of the
 * host's CPU time (about 13,000 switches per second per CPU). `--off-cpu` and `--no-off-cpu`
 * override it.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { parseProcStat } from './proc-stat.ts';

/** CPU time one recorded context switch costs, ns (see above). */
export const SWITCH_COST_NS = 3800;
/** The most CPU time the default may spend on recording switches: the record overhead target. */
export const MAX_OFF_CPU_COST = 0.05;

export type OffCpuRequest = boolean | 'auto';

export interface OffCpuDecision {
  on: boolean;
  requested: OffCpuRequest;
  /** Context switches per second on the whole host, measured for 'auto'; null otherwise. */
  switchesPerSecond: number | null;
  cpus: number;
  /** Estimated fraction of the host's CPU time recording them would cost; null when not measured. */
  estimatedCost: number | null;
  /** Why 'auto' left off-CPU recording off (shown to the user), else null. */
  note: string | null;
}

export interface OffCpuPolicyOptions {
  /** Default /proc/stat. */
  procStat?: string;
  /** Reads the file's text (tests). Default readFile. */
  readStat?: (file: string) => Promise<string>;
  /** How long the rate is measured, ms. Default 500. */
  sampleMs?: number;
  /** Default availableParallelism(). */
  cpus?: number;
}

/** The `ctxt` line of /proc/stat: context switches since boot, or null if absent. */
export function contextSwitchesOf(procStat: string): number | null {
  return parseProcStat(procStat).contextSwitches;
}

export function offCpuCost(switchesPerSecond: number, cpus: number): number {
  return (switchesPerSecond * SWITCH_COST_NS) / (Math.max(1, cpus) * 1e9);
}

export async function decideOffCpu(
  requested: OffCpuRequest,
  opts: OffCpuPolicyOptions = {},
): Promise<OffCpuDecision> {
  const cpus = opts.cpus ?? availableParallelism();
  if (requested !== 'auto') {
    return { on: requested, requested, switchesPerSecond: null, cpus, estimatedCost: null, note: null };
  }
  const file = opts.procStat ?? '/proc/stat';
  const sampleMs = opts.sampleMs ?? 500;
  const readStat = opts.readStat ?? ((f: string) => readFile(f, 'utf8'));
  const read = async () => contextSwitchesOf(await readStat(file).catch(() => ''));
  const before = await read();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, sampleMs));
  const after = await read();
  const seconds = (performance.now() - t0) / 1000;
  if (before === null || after === null || !(seconds > 0)) {
    return {
      on: false,
      requested,
      switchesPerSecond: null,
      cpus,
      estimatedCost: null,
      note: `off-CPU time not recorded: the context-switch rate could not be read from ${file}, so its cost is unknown; pass --off-cpu to record switches anyway`,
    };
  }
  const switchesPerSecond = Math.max(0, after - before) / seconds;
  const estimatedCost = offCpuCost(switchesPerSecond, cpus);
  const on = estimatedCost <= MAX_OFF_CPU_COST;
  const rate = Math.round(switchesPerSecond / cpus).toLocaleString('en-US');
  return {
    on,
    requested,
    switchesPerSecond,
    cpus,
    estimatedCost,
    note: on
      ? null
      : `off-CPU time not recorded: this host switches context ${rate} times/s per CPU, and recording every switch would cost about ${(100 * estimatedCost).toFixed(0)}% of its CPU time (limit ${100 * MAX_OFF_CPU_COST}%); pass --off-cpu to record switches anyway`,
  };
}
