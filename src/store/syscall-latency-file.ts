/**
 * syscall-latency.json of a run: per cgroup and system call, how many calls, how long they took
 * (a log-linear histogram, four buckets per power of two) and which errors they returned, counted
 * in the kernel by eBPF over the recording window (src/collect/syscall-latency.ts writes it).
 * Validated with zod where it is read: a corrupt file is an error naming it, never "no data".
 */
import { z } from 'zod';
import { parseJsonText, validated } from './json-file.ts';

export const SYSCALL_LATENCY_SCHEMA = 'crosstalk.syscall-latency/1';
export const SYSCALL_LATENCY_FILE = 'syscall-latency.json';

const count = z.number().int().min(0);

const syscallLatencySchema = z.object({
  nr: z.number().int().min(-1),
  name: z.string(),
  calls: count,
  /** Sum of every call's duration, ns (exact, so the mean is exact). */
  totalNs: z.number().min(0),
  /** [bucket index, calls] pairs, buckets without calls left out (see bucketBounds). */
  histogram: z.array(z.tuple([count, count])),
  /** Calls that returned -errno, by errno. */
  errors: z.array(z.object({ errno: z.number().int().min(1), count })),
});

const cgroupLatencySchema = z.object({
  /** cgroup v2 id (the directory's inode), as the kernel's bpf_get_current_cgroup_id gives it. */
  id: z.number().int().min(0),
  /** Path under the v2 mount, or null when no directory with that id was found. */
  path: z.string().nullable(),
  syscalls: z.array(syscallLatencySchema),
});

export const syscallLatencyFileSchema = z.object({
  schema: z.literal(SYSCALL_LATENCY_SCHEMA),
  /** recorded: the tracer ran; unavailable: it could not (reason says what is missing); failed: it broke. */
  status: z.enum(['recorded', 'unavailable', 'failed']),
  reason: z.string().nullable(),
  mechanism: z.string(),
  /** Bucket layout: `log-linear-4` (see bucketBounds). */
  buckets: z.literal('log-linear-4'),
  startedAt: z.string().nullable(),
  /** Seconds the tracer counted (its own window: it can end early, see `budget`). */
  windowSeconds: z.number().min(0).nullable(),
  /** The tracer stopped itself when the traced calls reached this many per CPU per second. */
  budget: z.object({
    maxCallsPerCpuSecond: z.number().min(0),
    exhausted: z.boolean(),
  }),
  /** Events bpftrace reported lost (its perf buffer overflowed). */
  lostEvents: count,
  cgroups: z.array(cgroupLatencySchema),
  notes: z.array(z.string()),
});

export type SyscallLatencyFile = z.infer<typeof syscallLatencyFileSchema>;
export type CgroupSyscallLatency = z.infer<typeof cgroupLatencySchema>;
export type SyscallLatencyCounts = z.infer<typeof syscallLatencySchema>;

/**
 * Bucket b of the log-linear histogram: b < 4 holds exactly b ns; above, b = 4p + s holds
 * [(4 + s) << (p - 2), (5 + s) << (p - 2)) ns for p = floor(log2 ns), s the next two bits: each
 * bucket is 1/4 of its power of two wide, so a quantile read at a bucket's middle is within
 * +-11% of the true value (log2 buckets: up to 2x).
 */
export function bucketBounds(b: number): { low: number; high: number } {
  if (b < 4) return { low: b, high: b + 1 };
  const p = Math.floor(b / 4);
  const s = b % 4;
  return { low: (4 + s) * 2 ** (p - 2), high: (5 + s) * 2 ** (p - 2) };
}

/** The bucket a duration falls in (the same arithmetic the eBPF program does). */
export function bucketOf(ns: number): number {
  if (ns < 4) return Math.max(0, Math.floor(ns));
  const p = Math.floor(Math.log2(ns));
  return p * 4 + (Math.floor(ns / 2 ** (p - 2)) & 3);
}

export function parseSyscallLatencyFile(text: string, file: string): SyscallLatencyFile {
  const value = parseJsonText(text, file, 'JSON syscall latency counts');
  return validated(
    value,
    syscallLatencyFileSchema,
    file,
    `syscall latency counts (${SYSCALL_LATENCY_SCHEMA})`,
  );
}
