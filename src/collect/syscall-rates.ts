/**
 * Per-container system call rates over the recording window, so a reader sees "container X called
 * fadvise64 120k times/s".
 *
 * Mechanism: a second `perf record -e raw_syscalls:sys_enter --all-cgroups -c 101 --no-period` runs
 * over the same window as the profile. Each sample carries the cgroup id (from the kernel, so
 * short-lived processes are attributed correctly, unlike pid -> cgroup lookups after the fact) and
 * the syscall number; one sample stands for `period` calls. Why not the others on this kind of host:
 * tracefs hist triggers need CONFIG_HIST_TRIGGERS (off in many kernels, this one included) and key by
 * pid; `perf stat --for-each-cgroup` counts per cgroup but not per syscall and needs the cgroup list
 * up front; `perf trace -s` summarizes per thread, not per cgroup, and copies every event to user
 * space. Measured here (2 vCPU, kernel 6.18): enabling any syscall tracepoint costs every syscall on
 * the host ~130-170 ns (the slow syscall-entry path), whether perf counts or samples; sampling 1 in 101
 * keeps the data small (1 in 1 wrote 1 GB in 6 s under a syscall-bound loop). `--no-period` matters:
 * with PERF_SAMPLE_PERIOD set the kernel samples every tracepoint hit regardless of -c. The period is
 * prime so a syscall loop with an even pattern (read, write, read...) is not aliased onto one call.
 */
import { readFile } from 'node:fs/promises';
import { arch } from 'node:os';
import { spawnCommand } from './command-runner.ts';
import { X86_64_SYSCALLS } from './syscall-table-x86_64.ts';

/** One sample per this many syscalls (per CPU). Prime, see above. */
export const SYSCALL_SAMPLE_PERIOD = 101;
/**
 * What the syscall counter adds to every syscall on the host, ns. Measured on this machine (2 vCPU,
 * kernel 6.18, bench/record-overhead.mjs): dd copying one byte per read/write went from 4.5M to
 * 2.6M syscalls/s (222 -> 390 ns each) while it ran.
 */
export const TRACEPOINT_COST_NS = 170;
/** Syscalls listed per cgroup. */
const TOP_SYSCALLS = 10;
/** Cgroups listed, busiest first. */
const TOP_CGROUPS = 100;

/** Event arguments of the counting `perf record` (the recorder adds -a, --all-cgroups, -o). */
export function syscallCounterArgs(period = SYSCALL_SAMPLE_PERIOD): string[] {
  return ['-e', 'raw_syscalls:sys_enter', '--no-period', '-c', String(period)];
}

export interface SyscallRate {
  nr: number;
  /** Name from the kernel's table, or `syscall_<nr>` when unknown. */
  name: string;
  samples: number;
  /** samples * period: an estimate; relative error about 1/sqrt(samples). */
  estimatedCalls: number;
  perSecond: number;
}

export interface CgroupSyscallRates {
  /** cgroup v2 path as perf resolved it. */
  cgroup: string;
  samples: number;
  estimatedCalls: number;
  perSecond: number;
  /** The busiest syscalls, most frequent first. */
  top: SyscallRate[];
}

export interface SyscallRates {
  mechanism: 'perf-record raw_syscalls:sys_enter sampled';
  period: number;
  windowSeconds: number;
  /** Busiest first. */
  cgroups: CgroupSyscallRates[];
  /** All cgroups together, calls per second (including those beyond the listed ones). */
  hostPerSecond: number;
  /**
   * hostPerSecond * TRACEPOINT_COST_NS over the CPUs: the share of CPU time counting itself cost,
   * an estimate. Above a few percent, syscall-heavy containers' kernel time is inflated by it.
   */
  estimatedCostPercent: number;
  /** Where syscall names came from. */
  names: 'kernel headers' | 'built-in x86_64 table' | 'numbers only';
}

export interface SyscallReportRow {
  cgroup: string;
  nr: number;
  samples: number;
}

/*
 * `perf report --sort cgroup,raw_syscalls:sys_enter.id -n --stdio -t '|' -q` (perf 6.1):
 *    99.94% | 12415      |/ctprobe|                 0
 *    0.01%  | 1          |/       |               262
 * Fields: overhead, samples, cgroup, syscall id. A cgroup path may itself contain `|`.
 */
export function parseSyscallReport(text: string): SyscallReportRow[] {
  const rows: SyscallReportRow[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split('|');
    if (fields.length < 4 || !fields[0].trim().endsWith('%')) continue;
    const samples = Number(fields[1].trim());
    const nr = Number(fields[fields.length - 1].trim());
    const cgroup = fields.slice(2, -1).join('|').trim();
    if (Number.isInteger(samples) && Number.isInteger(nr) && cgroup !== '')
      rows.push({ cgroup, nr, samples });
  }
  return rows;
}

/** Rows -> per-cgroup rates, busiest cgroups and syscalls first. */
export function ratesFromRows(
  rows: readonly SyscallReportRow[],
  period: number,
  windowSeconds: number,
  nameOf: (nr: number) => string,
): CgroupSyscallRates[] {
  const byCgroup = new Map<string, SyscallReportRow[]>();
  for (const r of rows) {
    const list = byCgroup.get(r.cgroup) ?? [];
    list.push(r);
    byCgroup.set(r.cgroup, list);
  }
  const perSecond = (calls: number) => (windowSeconds > 0 ? calls / windowSeconds : 0);
  const out: CgroupSyscallRates[] = [];
  for (const [cgroup, list] of byCgroup) {
    const bySyscall = new Map<number, number>();
    for (const r of list) bySyscall.set(r.nr, (bySyscall.get(r.nr) ?? 0) + r.samples);
    const top = [...bySyscall]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, TOP_SYSCALLS)
      .map(([nr, samples]) => ({
        nr,
        name: nameOf(nr),
        samples,
        estimatedCalls: samples * period,
        perSecond: perSecond(samples * period),
      }));
    const samples = list.reduce((a, r) => a + r.samples, 0);
    out.push({
      cgroup,
      samples,
      estimatedCalls: samples * period,
      perSecond: perSecond(samples * period),
      top,
    });
  }
  return out.sort((a, b) => b.samples - a.samples || a.cgroup.localeCompare(b.cgroup)).slice(0, TOP_CGROUPS);
}

/** Decodes a syscalls.data file written with syscallCounterArgs(period). */
export async function readSyscallRates(
  perfPath: string,
  file: string,
  windowSeconds: number,
  cpus: number,
  period = SYSCALL_SAMPLE_PERIOD,
): Promise<SyscallRates> {
  const args = [
    'report',
    '-i',
    file,
    '--sort',
    'cgroup,raw_syscalls:sys_enter.id',
    '-n',
    '--stdio',
    '-t',
    '|',
    '-q',
  ];
  const r = await spawnCommand(perfPath, args, { timeoutMs: 120_000, env: process.env });
  if (r.kind !== 'exited' || r.code !== 0) {
    const why = r.kind === 'exited' ? r.stderr.trim().split('\n')[0] || `exit ${r.code}` : r.kind;
    throw new Error(`perf report on ${file} failed: ${why}`);
  }
  const names = await syscallNames();
  const rows = parseSyscallReport(r.stdout);
  const samples = rows.reduce((a, row) => a + row.samples, 0);
  const hostPerSecond = windowSeconds > 0 ? (samples * period) / windowSeconds : 0;
  return {
    mechanism: 'perf-record raw_syscalls:sys_enter sampled',
    period,
    windowSeconds,
    cgroups: ratesFromRows(rows, period, windowSeconds, names.nameOf),
    hostPerSecond,
    estimatedCostPercent: (hostPerSecond * TRACEPOINT_COST_NS * 1e-9 * 100) / Math.max(1, cpus),
    names: names.source,
  };
}

interface SyscallNames {
  source: SyscallRates['names'];
  nameOf: (nr: number) => string;
}

/** Header paths per Node arch, in Debian's multiarch layout and the plain one. */
const HEADERS: Record<string, string[]> = {
  x64: ['/usr/include/x86_64-linux-gnu/asm/unistd_64.h', '/usr/include/asm/unistd_64.h'],
  arm64: ['/usr/include/aarch64-linux-gnu/asm/unistd.h', '/usr/include/asm-generic/unistd.h'],
};

/** `#define __NR_read 0` lines of a kernel uapi header. */
export function parseUnistdHeader(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of text.matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)) out.set(Number(m[2]), m[1]);
  return out;
}

/** The installed kernel headers when present (newest names), else the built-in x86_64 table. */
export async function syscallNames(hostArch: string = arch()): Promise<SyscallNames> {
  const builtin = hostArch === 'x64' ? X86_64_SYSCALLS : [];
  for (const path of HEADERS[hostArch] ?? []) {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) continue;
    const table = parseUnistdHeader(text);
    if (table.size === 0) continue;
    return { source: 'kernel headers', nameOf: (nr) => table.get(nr) || builtin[nr] || `syscall_${nr}` };
  }
  if (builtin.length > 0)
    return { source: 'built-in x86_64 table', nameOf: (nr) => builtin[nr] || `syscall_${nr}` };
  return { source: 'numbers only', nameOf: (nr) => `syscall_${nr}` };
}
