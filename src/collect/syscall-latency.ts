/**
 * Per-cgroup system call latency and errors over the recording window, counted in the kernel:
 * a bpftrace program on `tracepoint:raw_syscalls:sys_enter/sys_exit` keeps, per (cgroup v2 id,
 * syscall nr), a log-linear latency histogram, the exact sum of durations, and per errno the
 * calls that failed. Only the aggregates cross to user space (once, when bpftrace exits on
 * SIGINT), so the cost is the tracepoint plus the eBPF program per syscall, whatever the rate.
 *
 * Why bpftrace and not perf: perf can count or sample sys_enter per cgroup (syscall-rates.ts) but
 * cannot pair enter with exit in the kernel; `perf trace -s` copies every event to user space
 * (measured by issue 17's reporter: a victim's p99 264 us -> 5.2 ms under it).
 *
 * Cost bound: bpftrace prints `@calls` (a per-CPU count) every second; when the traced calls reach
 * `maxCallsPerCpuSecond` times the CPUs times the seconds so far, crosstalk stops the tracer
 * early and the file says so (`budget.exhausted`, its own `windowSeconds`). The per-call cost is
 * measured in bench/syscall-latency-overhead.mjs (see the README).
 *
 * Fallback: without bpftrace, root, the raw_syscalls tracepoint or a cgroup v2 hierarchy the file
 * says `unavailable` and what is missing; nothing is estimated in its place.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { access, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  type CgroupSyscallLatency,
  SYSCALL_LATENCY_SCHEMA,
  type SyscallLatencyCounts,
  type SyscallLatencyFile,
} from '../store/syscall-latency-file.ts';
import { type CgroupHierarchies, walkCgroups } from './cgroup-fs.ts';
import { findOnPath } from './perf-tool.ts';

/**
 * Default budget: traced calls per CPU per second. Measured per syscall on this 2-vCPU VM
 * (bench/syscall-latency-overhead.mjs, dd copying one byte per read/write): attaching any eBPF
 * program to raw_syscalls enter/exit costs +770 ns (quiet host) to +1.4 us (busy host) per
 * syscall, this program +1.7 us (quiet) to +5.3 us (busy) in all. 20k calls per CPU per second
 * at ~1.7 us is ~3.4% of each CPU; a host above it is traced until the budget for the window so far
 * (at least one second's) is spent, then the tracer stops and the file says so.
 */
export const DEFAULT_MAX_CALLS_PER_CPU_SECOND = 20_000;
/** bpftrace's per-map key limit: 65536 (cgroup, syscall, bucket) keys; its default of 4096 fills on busy hosts. */
const MAP_KEYS_MAX = 65536;
/**
 * Printed by the BEGIN probe, which bpftrace fires once every probe is attached. Its
 * `attached_probes` line comes before the attaching: a workload started on it is missed (a
 * 20 ms workload was, entirely, in test/syscall-latency-e2e.test.ts).
 */
const READY = 'crosstalk-latency-ready';
/** bpftrace's stdout kept, bytes: the maps of 65536 keys fit in a few MB. */
const MAX_STDOUT = 64 * 1024 * 1024;
const MECHANISM = 'bpftrace tracepoint:raw_syscalls sys_enter/sys_exit, in-kernel aggregation';

/**
 * The program. `$b` is the log-linear bucket (store/syscall-latency-file.ts bucketBounds):
 * floor(log2 d) by binary search (bpftrace 0.17 has no log2 and no loops), then the two bits
 * below the leading one. The start map is keyed by thread id; a call that started before the
 * probes attached has no start and is skipped. Errors are returns in [-4095, -1] (the kernel's
 * IS_ERR_VALUE range).
 */
export function syscallLatencyProgram(): string {
  return `BEGIN { printf("${READY}\\n"); }
tracepoint:raw_syscalls:sys_enter { @start[tid] = nsecs; }
tracepoint:raw_syscalls:sys_exit {
  $t = @start[tid];
  if ($t != 0) {
    delete(@start[tid]);
    $d = nsecs - $t;
    $b = $d;
    if ($d >= 4) {
      $v = $d; $p = (uint64)0;
      if ($v >= 0x100000000) { $v = $v >> 32; $p = $p + 32; }
      if ($v >= 0x10000) { $v = $v >> 16; $p = $p + 16; }
      if ($v >= 0x100) { $v = $v >> 8; $p = $p + 8; }
      if ($v >= 0x10) { $v = $v >> 4; $p = $p + 4; }
      if ($v >= 4) { $v = $v >> 2; $p = $p + 2; }
      if ($v >= 2) { $p = $p + 1; }
      $b = $p * 4 + (($d >> ($p - 2)) & 3);
    }
    @hist[cgroup, args->id, $b] = count();
    @ns[cgroup, args->id] = sum($d);
    @calls = count();
    if (args->ret < 0 && args->ret >= -4095) { @err[cgroup, args->id, -args->ret] = count(); }
  }
}
interval:s:1 { print(@calls); }
END { clear(@start); }
`;
}

/** What bpftrace -f json printed, reduced to the maps and counts crosstalk reads. */
export interface BpftraceOutput {
  /** Last printed value of each map: key (comma-joined, as bpftrace prints it) -> value. */
  maps: Map<string, Map<string, number>>;
  /** Scalar maps (`@calls`), last value. */
  scalars: Map<string, number>;
  attached: boolean;
  lostEvents: number;
  /** Lines that were not JSON or not of a known shape (counted, not fatal). */
  oddLines: number;
  errors: string[];
}

/*
 * `bpftrace -f json` (0.17) prints one JSON document per line:
 *   {"type": "attached_probes", "data": {"probes": 3}}
 *   {"type": "map", "data": {"@calls": 5123}}
 *   {"type": "map", "data": {"@err": {"1,257,2": 389, "1,-1,110": 1}}}
 *   {"type": "lost_events", "data": {"events": 12}}
 * and blank lines between documents. Keys of multi-key maps are the keys joined by commas.
 */
export function parseBpftraceJson(text: string): BpftraceOutput {
  const out: BpftraceOutput = {
    maps: new Map(),
    scalars: new Map(),
    attached: false,
    lostEvents: 0,
    oddLines: 0,
    errors: [],
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      out.oddLines++;
      continue;
    }
    if (!isRecord(doc) || typeof doc.type !== 'string') {
      out.oddLines++;
      continue;
    }
    readDocument(doc.type, doc.data, out);
  }
  return out;
}

function readDocument(type: string, data: unknown, out: BpftraceOutput): void {
  if (type === 'attached_probes') {
    out.attached = true;
    return;
  }
  if (type === 'lost_events' && isRecord(data) && typeof data.events === 'number') {
    out.lostEvents += data.events;
    return;
  }
  if (type === 'map' && isRecord(data)) {
    for (const [name, value] of Object.entries(data)) {
      if (typeof value === 'number') out.scalars.set(name, value);
      else if (isRecord(value)) out.maps.set(name, numericEntries(value, out));
      else out.oddLines++;
    }
    return;
  }
  if (type === 'error' || type === 'warning') {
    if (typeof data === 'string' && out.errors.length < 5) out.errors.push(data);
    return;
  }
  // helper_error, printf, time, ...: nothing crosstalk reads.
}

function numericEntries(value: Record<string, unknown>, out: BpftraceOutput): Map<string, number> {
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'number' && Number.isFinite(v)) m.set(k, v);
    else out.oddLines++;
  }
  return m;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Comma-joined integer keys; null when a part is not an integer. */
function keyParts(key: string, n: number): number[] | null {
  const parts = key.split(',');
  if (parts.length !== n) return null;
  const nums = parts.map((p) => Number(p.trim()));
  return nums.every(Number.isInteger) ? nums : null;
}

/** The maps of syscallLatencyProgram as per-cgroup, per-syscall counts (busiest cgroups first). */
export function latencyFromMaps(
  o: BpftraceOutput,
  nameOf: (nr: number) => string,
  pathOf: (id: number) => string | null,
): CgroupSyscallLatency[] {
  const byCgroup = new Map<number, Map<number, SyscallLatencyCounts>>();
  const entry = (cg: number, nr: number): SyscallLatencyCounts => {
    let m = byCgroup.get(cg);
    if (!m) {
      m = new Map();
      byCgroup.set(cg, m);
    }
    let e = m.get(nr);
    if (!e) {
      e = { nr, name: nr < 0 ? 'unknown' : nameOf(nr), calls: 0, totalNs: 0, histogram: [], errors: [] };
      m.set(nr, e);
    }
    return e;
  };
  for (const [key, n] of o.maps.get('@hist') ?? []) {
    const k = keyParts(key, 3);
    if (!k || k[0] < 0 || k[2] < 0 || n <= 0) continue;
    const e = entry(k[0], k[1]);
    e.calls += n;
    e.histogram.push([k[2], n]);
  }
  for (const [key, ns] of o.maps.get('@ns') ?? []) {
    const k = keyParts(key, 2);
    if (k && k[0] >= 0 && ns >= 0) entry(k[0], k[1]).totalNs += ns;
  }
  for (const [key, n] of o.maps.get('@err') ?? []) {
    const k = keyParts(key, 3);
    if (!k || k[0] < 0 || k[2] < 1 || n <= 0) continue;
    entry(k[0], k[1]).errors.push({ errno: k[2], count: n });
  }
  const out: CgroupSyscallLatency[] = [];
  for (const [id, m] of byCgroup) {
    const syscalls = [...m.values()]
      .filter((s) => s.calls > 0)
      .map((s) => ({
        ...s,
        histogram: s.histogram.sort((a, b) => a[0] - b[0]),
        errors: s.errors.sort((a, b) => b.count - a.count || a.errno - b.errno),
      }))
      .sort((a, b) => b.calls - a.calls || a.nr - b.nr);
    if (syscalls.length > 0) out.push({ id, path: pathOf(id), syscalls });
  }
  const calls = (c: CgroupSyscallLatency) => c.syscalls.reduce((a, s) => a + s.calls, 0);
  return out.sort((a, b) => calls(b) - calls(a) || a.id - b.id);
}

/** What is missing for the tracer, or null when it can run. */
export async function syscallLatencyUnavailable(
  h: CgroupHierarchies,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ reason: string; bpftrace: string | null }> {
  const bpftrace = await findOnPath('bpftrace', env);
  if (bpftrace === null) return { reason: 'bpftrace is not installed (apt-get install bpftrace)', bpftrace };
  if (process.geteuid?.() !== 0) return { reason: 'eBPF tracing needs root', bpftrace };
  if (!h.v2) return { reason: 'no cgroup v2 hierarchy is mounted (eBPF cgroup ids are v2 ids)', bpftrace };
  const tracepoint = await firstExisting([
    '/sys/kernel/tracing/events/raw_syscalls/sys_exit',
    '/sys/kernel/debug/tracing/events/raw_syscalls/sys_exit',
  ]);
  if (!tracepoint)
    return { reason: 'the raw_syscalls tracepoints are not visible (tracefs not mounted?)', bpftrace };
  return { reason: '', bpftrace };
}

async function firstExisting(paths: string[]): Promise<string | null> {
  for (const p of paths) {
    if (
      await access(p).then(
        () => true,
        () => false,
      )
    )
      return p;
  }
  return null;
}

/** cgroup v2 id (directory inode) -> path under the mount, for every cgroup there now. */
export async function cgroupPathsById(h: CgroupHierarchies): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (!h.v2) return out;
  const { cgroups } = await walkCgroups(h.v2);
  for (const c of cgroups) {
    const st = await stat(c.dir).catch(() => null);
    if (st) out.set(st.ino, c.path);
  }
  return out;
}

export interface TracerOptions {
  bpftrace: string;
  cpus: number;
  maxCallsPerCpuSecond?: number;
  env?: NodeJS.ProcessEnv;
}

export interface TracerResult {
  output: BpftraceOutput;
  windowSeconds: number;
  startedAt: string | null;
  budgetExhausted: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  stderr: string[];
}

/** One bpftrace process: started, attached, stopped with SIGINT (it then prints its maps). */
export class SyscallLatencyTracer {
  readonly pid: number | undefined;
  readonly exited: Promise<TracerResult>;
  readonly maxCallsPerCpuSecond: number;
  private readonly child: ChildProcess;
  private stdout = '';
  private stderr = '';
  private startedMs = 0;
  private startedAt: string | null = null;
  private stoppedMs: number | null = null;
  private budgetExhausted = false;
  private attachedResolve: (() => void) | undefined;

  constructor(readonly opts: TracerOptions) {
    this.maxCallsPerCpuSecond = opts.maxCallsPerCpuSecond ?? DEFAULT_MAX_CALLS_PER_CPU_SECOND;
    this.child = spawn(opts.bpftrace, ['-f', 'json', '-e', syscallLatencyProgram()], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...(opts.env ?? process.env), BPFTRACE_MAP_KEYS_MAX: String(MAP_KEYS_MAX) },
    });
    this.pid = this.child.pid;
    (this.child.stdout as Readable).on('data', (b: Buffer) => this.onStdout(b));
    (this.child.stderr as Readable).on('data', (b: Buffer) => {
      if (this.stderr.length < 64 * 1024) this.stderr += b.toString('utf8');
    });
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        process.off('exit', this.onCrosstalkExit);
        resolve(this.result(code, signal));
      };
      this.child.on('error', (e: NodeJS.ErrnoException) => {
        this.stderr += `\ncannot run ${opts.bpftrace}: ${e.code ?? e.message}`;
        finish(null, null);
      });
      this.child.on('close', finish);
    });
    process.on('exit', this.onCrosstalkExit);
  }

  private readonly onCrosstalkExit = (): void => this.kill();

  private onStdout(b: Buffer): void {
    if (this.stdout.length < MAX_STDOUT) this.stdout += b.toString('utf8');
    if (this.startedAt === null && this.stdout.includes(READY)) {
      this.startedMs = performance.now();
      this.startedAt = new Date().toISOString();
      this.attachedResolve?.();
    }
    this.checkBudget(b.toString('utf8'));
  }

  /** `{"type": "map", "data": {"@calls": N}}` once a second: stop when over the budget so far. */
  private checkBudget(chunk: string): void {
    if (this.stoppedMs !== null || this.startedAt === null) return;
    const m = /"@calls":\s*(\d+)/.exec(chunk.slice(chunk.lastIndexOf('"@calls"') - 1));
    if (!m) return;
    const seconds = (performance.now() - this.startedMs) / 1000;
    if (Number(m[1]) > this.maxCallsPerCpuSecond * this.opts.cpus * Math.max(1, seconds)) {
      this.budgetExhausted = true;
      this.stop();
    }
  }

  /** Resolves when every probe is attached (the BEGIN probe ran); rejects if bpftrace exits or times out first. */
  async attached(timeoutMs: number): Promise<void> {
    if (this.startedAt !== null) return;
    let timer: NodeJS.Timeout | undefined;
    const ok = new Promise<void>((resolve) => {
      this.attachedResolve = resolve;
    });
    const failed = this.exited.then((r) => {
      throw new Error(`bpftrace exited before attaching: ${r.stderr[0] ?? exitOf(r.exit)}`);
    });
    const late = new Promise<never>((_r, reject) => {
      timer = setTimeout(
        () => reject(new Error(`bpftrace did not attach within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([ok, failed, late]);
    } finally {
      clearTimeout(timer);
      failed.catch(() => {});
    }
  }

  /** Asks bpftrace to print its maps and exit. */
  stop(): void {
    if (this.stoppedMs === null) this.stoppedMs = performance.now();
    this.signal('SIGINT');
  }

  kill(): void {
    this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // Already gone.
    }
  }

  private result(code: number | null, signal: NodeJS.Signals | null): TracerResult {
    const end = this.stoppedMs ?? performance.now();
    return {
      output: parseBpftraceJson(this.stdout),
      windowSeconds: this.startedAt === null ? 0 : Math.max(0, (end - this.startedMs) / 1000),
      startedAt: this.startedAt,
      budgetExhausted: this.budgetExhausted,
      exit: { code, signal },
      stderr: stderrSummary(this.stderr),
    };
  }
}

function exitOf(e: { code: number | null; signal: NodeJS.Signals | null }): string {
  return e.signal !== null ? `killed by ${e.signal}` : `exit status ${e.code}`;
}

/** bpftrace's stderr without its RLIMIT_MEMLOCK warning (it runs anyway), distinct lines, bounded. */
function stderrSummary(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    if (line === '' || /RLIMIT_MEMLOCK/.test(line) || out.includes(line)) continue;
    if (out.length < 10) out.push(line.length > 200 ? `${line.slice(0, 199)}…` : line);
  }
  return out;
}

/** The file for a run where the tracer could not run: says what is missing. */
export function unavailableLatencyFile(reason: string, maxCallsPerCpuSecond: number): SyscallLatencyFile {
  return {
    schema: SYSCALL_LATENCY_SCHEMA,
    status: 'unavailable',
    reason,
    mechanism: MECHANISM,
    buckets: 'log-linear-4',
    startedAt: null,
    windowSeconds: null,
    budget: { maxCallsPerCpuSecond, exhausted: false },
    lostEvents: 0,
    cgroups: [],
    notes: [],
  };
}

/** The file from a finished tracer: its maps with names and cgroup paths. */
export function latencyFileOf(
  r: TracerResult,
  maxCallsPerCpuSecond: number,
  nameOf: (nr: number) => string,
  pathOf: (id: number) => string | null,
): SyscallLatencyFile {
  const cleanExit = r.exit.code === 0 || r.exit.signal === 'SIGINT';
  const cgroups = latencyFromMaps(r.output, nameOf, pathOf);
  const failed = !r.output.attached || (!cleanExit && cgroups.length === 0);
  const notes: string[] = [];
  if (r.output.oddLines > 0) notes.push(`${r.output.oddLines} lines of bpftrace output were not understood`);
  if (r.budgetExhausted)
    notes.push(
      `stopped after ${r.windowSeconds.toFixed(1)} s: the host's syscall rate reached the tracing budget (${maxCallsPerCpuSecond} calls per CPU per second)`,
    );
  return {
    schema: SYSCALL_LATENCY_SCHEMA,
    status: failed ? 'failed' : 'recorded',
    reason: failed ? (r.stderr[0] ?? `bpftrace ${exitOf(r.exit)}`) : null,
    mechanism: MECHANISM,
    buckets: 'log-linear-4',
    startedAt: r.startedAt,
    windowSeconds: r.windowSeconds,
    budget: { maxCallsPerCpuSecond, exhausted: r.budgetExhausted },
    lostEvents: r.output.lostEvents,
    cgroups,
    notes,
  };
}
