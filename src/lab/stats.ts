/**
 * Reading a workload's stats file and summarising latencies across runs (pure apart from the read).
 */
import { readFileSync } from 'node:fs';
import type { LatencyStats, LatencySummary, Spread, WorkloadStats } from './types.ts';

export class WorkloadStatsError extends Error {
  override name = 'WorkloadStatsError';
}

interface RawStats {
  workload: string;
  variant: string;
  ops: number;
  throughput_per_s: number;
  latency_us: { mean: number; p50: number; p90: number; p99: number; max: number };
  extra: Record<string, number>;
}

function isRawStats(v: unknown): v is RawStats {
  const r = v as RawStats;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.workload === 'string' &&
    typeof r.ops === 'number' &&
    typeof r.latency_us?.p99 === 'number' &&
    typeof r.extra === 'object'
  );
}

/**
 * One line written by lab_write_stats() in native/lab-common.h:
 *   {"workload":"query-server","variant":"always","pid":1,"ops":3000,"elapsed_s":3.0,
 *    "throughput_per_s":999.9,"latency_us":{"mean":31.3,"p50":28.7,"p90":34.8,"p99":115.3,"max":867.6},
 *    "extra":{"log_bytes":317843,"fadvise_calls":2961}}
 */
export function readWorkloadStats(path: string, container: string): WorkloadStats {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new WorkloadStatsError(`${container}: no stats from the workload (${(e as Error).message})`);
  }
  if (!isRawStats(raw)) throw new WorkloadStatsError(`${path}: not a lab workload stats object`);
  const l = raw.latency_us;
  const latency: LatencyStats = {
    ops: raw.ops,
    throughputPerSec: raw.throughput_per_s,
    meanUs: l.mean,
    p50Us: l.p50,
    p90Us: l.p90,
    p99Us: l.p99,
    maxUs: l.max,
  };
  return { container, workload: raw.workload, variant: raw.variant, latency, counters: raw.extra };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function spreadOf(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

export function summarizeLatency(stats: readonly LatencyStats[]): LatencySummary {
  const of = (f: (s: LatencyStats) => number) => spreadOf(stats.map(f));
  return {
    runs: stats.length,
    meanUs: of((s) => s.meanUs),
    p50Us: of((s) => s.p50Us),
    p90Us: of((s) => s.p90Us),
    p99Us: of((s) => s.p99Us),
    throughputPerSec: of((s) => s.throughputPerSec),
  };
}

/** Sums one counter over workloads (e.g. fadvise calls of all neighbours). */
export function sumCounter(stats: readonly WorkloadStats[], counter: string): number {
  return stats.reduce((acc, s) => acc + (s.counters[counter] ?? 0), 0);
}
