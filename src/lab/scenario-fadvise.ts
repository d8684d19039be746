/**
 * fadvise-logger: N copies of a query server, each logging through a glog-style logger that calls
 * posix_fadvise(fd, 0, len, POSIX_FADV_DONTNEED) after every write (glog --drop_log_memory before
 * PR 145). The fix is glog's rate limit: drop only once per 2 MiB written.
 *
 * The fix belongs to the product, so here every container runs the same logger: the fixed phase
 * has all N copies fixed, the unfixed phase has none fixed. The victim is copy 1. The alone phase
 * (1 copy, fixed) and an extra alone-unfixed phase complete the 1-vs-N table of the demo.
 */

import { randomFillSync } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type PhasePlan, type ScenarioDefinition, standardPhases } from './scenario.ts';
import { summarizeLatency } from './stats.ts';
import type { PhaseResult, ScalingRow } from './types.ts';

/** Query server load, per container. Tuned on a 2-vCPU VM: see src/lab/README.md. */
export const queryServerLoad = {
  /** Queries per second each copy is offered. */
  rate: 6000,
  /** FNV passes over the 4 KiB record per query (about 20 us of CPU here). */
  cpuRounds: 4,
  /** Log lines per query (request and response), each one LogFileObject::Write. */
  logLines: 2,
  /** Size of the shared table file the queries read from (page cache hot). */
  tableBytes: 32 << 20,
};

function writeTable(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let done = 0; done < bytes; done += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk);
    }
    // Clean pages now, so their writeback does not land in a measured phase.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function scaling(phases: readonly PhaseResult[]): ScalingRow[] {
  const by = (key: string) => phases.find((p) => p.key === key);
  const aloneFixed = by('alone');
  const aloneUnfixed = by('alone-unfixed');
  const fixed = by('fixed');
  const unfixed = by('unfixed');
  if (!aloneFixed || !aloneUnfixed || !fixed || !unfixed) return [];
  const all = (p: PhaseResult) => summarizeLatency(p.runs.map((r) => r.victim.latency));
  return [
    { containers: 1, fixed: all(aloneFixed), unfixed: all(aloneUnfixed) },
    { containers: fixed.containers, fixed: all(fixed), unfixed: all(unfixed) },
  ];
}

function phases(count: number): PhasePlan[] {
  const [alone, fixed, unfixed] = standardPhases(count);
  return [
    { ...alone, label: '1 copy, with the fix' },
    { ...fixed, label: `${count} copies, all with the fix` },
    { ...unfixed, victimVariant: 'unfixed', label: `${count} copies, none with the fix` },
    {
      key: 'alone-unfixed',
      label: '1 copy, without the fix',
      victimVariant: 'unfixed',
      neighbours: 0,
      neighbourVariant: null,
    },
  ];
}

export const fadviseLogger: ScenarioDefinition = {
  name: 'fadvise-logger',
  title: 'glog-style logger dropping its page cache after every write',
  summary:
    'N query servers log two lines per query through LogFileObject::Write, which calls ' +
    'posix_fadvise(fd, 0, len, POSIX_FADV_DONTNEED) after every write: each call starts writeback of ' +
    'the newest log page and walks the page cache. Fix: drop once per 2 MiB (glog PR 145).',
  defaults: { containers: 4, durationSeconds: 8, runs: 1, warmupSeconds: 0.5 },
  minContainers: 2,
  containers: (count) =>
    Array.from({ length: count }, (_, i) => ({
      name: `query-${i + 1}`,
      role: i === 0 ? 'victim' : 'neighbour',
    })),
  phases,
  prepare(workDir, containers) {
    writeTable(join(workDir, 'table.dat'), queryServerLoad.tableBytes);
    for (const c of containers) mkdirSync(join(workDir, c.name), { recursive: true });
  },
  workload: (req) => [
    req.bins.binaries['query-server'],
    `--data=${join(req.workDir, 'table.dat')}`,
    `--log=${join(req.containerDir, 'query_server.INFO.log')}`,
    `--drop-log-memory=${req.variant === 'fixed' ? 'ratelimit' : 'always'}`,
    `--rate=${queryServerLoad.rate}`,
    `--cpu-rounds=${queryServerLoad.cpuRounds}`,
    `--log-lines=${queryServerLoad.logLines}`,
  ],
  groundTruth: (containers, bins) => ({
    victim: containers[0].name,
    antagonists: containers.map((c) => c.name),
    syscall: 'fadvise64',
    callSite: bins.cxx ? 'LogFileObject::Write' : 'LogFileObject_Write',
    callSiteSymbol: bins.cxx
      ? 'LogFileObject::Write(LogFile*, bool, long, char const*, unsigned long)'
      : 'LogFileObject_Write',
    kernelResource:
      'page cache and writeback: every POSIX_FADV_DONTNEED starts writeback of the newest log page ' +
      '(ext4 block allocation, journal, block I/O) and invalidates pages, on CPUs the copies share',
    fix: 'rate-limit the drop to once per 2 MiB written (glog PR 145) or run with --drop_log_memory=false',
  }),
  scaling,
};
