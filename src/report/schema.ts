/**
 * The JSON output of `crosstalk analyze --json`: a public contract that users script against.
 * Changing a field's meaning or removing one bumps `schemaVersion`; adding fields does not.
 * schema/analyze.schema.json is generated from this file (`npm run schema`) and checked in.
 */
import { z } from 'zod';
import { categories, waitReasons } from '../analysis/categories.ts';

export const ANALYZE_SCHEMA_VERSION = 1;

/** A fraction of the total weight (sum of sample periods) of all samples: 0..1. */
const share = z.number().min(0).max(1).describe('fraction of the total weight of all samples (0..1)');

const categoryName = z.enum(categories);

const categoryShare = z.object({ category: categoryName, share });

export const callSiteSchema = z.object({
  status: z
    .enum(['found', 'lost', 'none', 'unknown'])
    .describe(
      'found: `function` issued the syscall; lost: frame-pointer unwinding skipped it; none: the stack ends in the wrapper; unknown: not symbolised.',
    ),
  function: z.string().nullable(),
  module: z.string().nullable(),
  wrapper: z
    .string()
    .nullable()
    .describe('The libc (or other) wrapper the call site called, e.g. posix_fadvise.'),
  reason: z.string().nullable().describe('Why a call site was lost: frame-pointer | process-entry.'),
  share,
  file: z
    .string()
    .nullable()
    .describe(
      "source file of the call inside `function`, from the binary's debug info (addr2line); null when the binary has none or it could not be found by build-id",
    ),
  line: z.number().int().positive().nullable().describe('line in `file` of the call; null with `file`'),
});

const hostName = z
  .string()
  .nullable()
  .describe('the host (input) it belongs to when several hosts were analysed together; null for one host');

export const containerSchema = z.object({
  id: z.string(),
  host: hostName,
  name: z.string(),
  runtime: z.string(),
  kind: z.string(),
  cgroup: z.string().describe('The cgroup the container is rooted at.'),
  cgroups: z.array(z.string()).describe('Every cgroup path whose samples were attributed to this container.'),
  shortId: z.string().nullable(),
  pod: z
    .object({
      uid: z.string(),
      qos: z.string().nullable(),
      name: z.string().nullable(),
      namespace: z.string().nullable(),
    })
    .nullable(),
  image: z.string().nullable(),
  samples: z.number().int().min(0),
  share,
  userShare: share,
  kernelShare: share,
  idleShare: share,
  categories: z.array(categoryShare),
  syscalls: z.array(z.object({ name: z.string(), share })),
  processes: z.array(z.object({ comm: z.string(), pid: z.number().int().nullable(), share })),
});

export const syscallSchema = z.object({
  name: z.string(),
  share,
  containers: z.array(z.object({ id: z.string(), host: hostName, name: z.string(), share })),
  callSites: z.array(callSiteSchema),
  kernelPaths: z
    .array(z.object({ frames: z.array(z.string()), share }))
    .describe('Kernel call paths from the syscall entry down to the sampled function.'),
  kernelFunctions: z.array(z.object({ name: z.string(), selfShare: share, totalShare: share })),
});

const us = z.number().min(0).describe('microseconds');
const relChange = z
  .number()
  .nullable()
  .describe(
    'target / baseline - 1 (0.8 = +80%); null without a baseline or with too few calls (< 200) on a side',
  );

export const victimHarmSchema = z
  .object({
    summary: z
      .string()
      .describe('e.g. "newfstatat p99 +180%, runnable +0.40 tasks"; empty when nothing was measured'),
    degraded: z
      .boolean()
      .nullable()
      .describe(
        'with a baseline: whether its syscall latency, runnable or blocked time grew beyond noise; null: not measured',
      ),
    worstLatencyChange: relChange.describe('largest relative growth of p50 or p99 of its syscalls'),
    syscalls: z.array(
      z.object({
        syscall: z.string(),
        callsPerSecond: z.number().min(0),
        errorsPerSecond: z.number().min(0),
        p50Us: us,
        p99Us: us,
        p50Change: relChange,
        p99Change: relChange,
      }),
    ),
  })
  .describe('what the victim suffered, measured by the eBPF syscall latency counts and off-CPU time');

export const findingSchema = z.object({
  host: hostName,
  signature: z.string().nullable().describe('id of the matched signature (src/signatures/<id>.md), or null'),
  kind: z.enum(['signature', 'generic', 'cannot-answer']),
  title: z.string(),
  severity: z.enum(['critical', 'warning', 'info']),
  impact: z.number().describe('sort key: share of host CPU (or the counter value) behind the finding'),
  antagonist: z
    .object({ container: z.string(), name: z.string(), process: z.string().nullable() })
    .nullable()
    .describe('the container (and its busiest process) that drives the shared kernel path'),
  victims: z.array(z.string()).describe('container ids slowed down by it'),
  victimDetails: z.array(
    z.object({
      container: z.string(),
      name: z.string(),
      reasons: z.array(z.string()),
      harm: victimHarmSchema.nullable(),
    }),
  ),
  severityBasis: z
    .enum(['measured-harm', 'antagonist-share'])
    .nullable()
    .describe(
      "measured-harm: the severity comes from the victims' degradation against a baseline; antagonist-share: no baseline (or no measurement), estimated from the antagonist's share of host CPU",
    ),
  sharedStorm: z
    .boolean()
    .describe('every container with the problem drives it: each is both victim and antagonist'),
  drivers: z
    .array(z.object({ container: z.string(), name: z.string() }))
    .describe('in a shared storm, every driver, the antagonist first; empty otherwise'),
  syscall: z.string().nullable(),
  callSite: z
    .object({
      function: z.string(),
      module: z.string(),
      file: z
        .string()
        .nullable()
        .describe('source file of the call (debug info, addr2line); null when unknown'),
      line: z.number().int().positive().nullable().describe('line in `file`; null when unknown'),
    })
    .nullable(),
  callSiteNote: z
    .string()
    .nullable()
    .describe('why there is no call site (lost by frame-pointer unwinding, ...)'),
  kernelPath: z.array(z.string()),
  resource: z.string().nullable().describe('the host-global kernel resource the containers share'),
  evidence: z.array(
    z.object({
      metric: z.string(),
      value: z.number(),
      unit: z.string(),
      baseline: z.number().nullable(),
      container: z.string().nullable(),
    }),
  ),
  fix: z.string(),
  references: z.array(z.string()),
  confidence: z
    .enum(['high', 'medium', 'low'])
    .describe(
      'how far the blame can be trusted: high = a signature or growth against a baseline with harm shown, medium = one kind of harm evidence, low = weak or no evidence',
    ),
  basis: z
    .array(
      z.enum([
        'signature',
        'growth-vs-baseline',
        'shared-path',
        'time-correlation',
        'preemption',
        'pressure',
      ]),
    )
    .describe(
      'what the blame rests on: a matched signature, growth of the antagonist in the path against a baseline, other containers in the same kernel path (on-CPU or blocked), time-window correlation of their kernel/runnable/blocked time with the antagonist, preemption (they waited runnable while it ran), pressure counters; empty when no one is blamed',
    ),
});

const offCpuContainer = z.object({
  id: z.string(),
  name: z.string(),
  host: z.string().nullable(),
  seconds: z.number().min(0).describe('task-seconds off-CPU (several tasks can be off-CPU at once)'),
  perSecond: z.number().min(0).describe('seconds / recording window: average tasks of the container off-CPU'),
  syscalls: z.array(z.object({ name: z.string(), seconds: z.number() })),
  waitPaths: z.array(z.object({ frames: z.array(z.string()), seconds: z.number() })),
  involuntarySeconds: z
    .number()
    .min(0)
    .optional()
    .describe('blocked lists: of `seconds`, involuntary waits (uninterruptible, lock waits, full buffers)'),
  voluntarySeconds: z
    .number()
    .min(0)
    .optional()
    .describe('blocked lists: of `seconds`, voluntary waits (sleep, poll, waiting for work or input)'),
});

const waitReason = z.object({
  reason: z.enum(waitReasons),
  kind: z.enum(['involuntary', 'voluntary']),
  label: z.string(),
  seconds: z.number().min(0),
});

const culpritKind = z
  .enum(['foreign', 'self', 'kernel', 'idle', 'unknown'])
  .describe(
    "foreign: another container (or host processes); self: the waiting container's own tasks; kernel: kernel threads; idle: the CPU was idle (the task moved to another CPU, or its cgroup was throttled); unknown: before the CPU's first recorded switch",
  );

export const preemptionSchema = z
  .object({
    windowSeconds: z.number(),
    victims: z
      .array(
        z.object({
          id: z
            .string()
            .describe('container id; `kernel` for kernel threads; `process:<pid>` for input without cgroups'),
          name: z.string(),
          host: z.string().nullable(),
          container: z
            .boolean()
            .describe('a container (not the host root, kernel threads, a process or unknown)'),
          runnableSeconds: z
            .number()
            .min(0)
            .describe('task-seconds runnable but not running, after a preemption'),
          onCpuSeconds: z.number().min(0).describe('task-seconds on a CPU, from the same switches'),
          runnableShare: z
            .number()
            .min(0)
            .max(1)
            .describe(
              'runnable / (runnable + on-CPU): share of the time its tasks wanted a CPU spent waiting',
            ),
          byKind: z.object({
            foreign: z.number(),
            self: z.number(),
            kernel: z.number(),
            idle: z.number(),
            unknown: z.number(),
          }),
          waits: z
            .array(
              z.object({
                culprit: z.string().describe('a culprits[].id: what held the CPU'),
                kind: culpritKind,
                seconds: z.number().min(0),
              }),
            )
            .describe(
              'the row of the matrix: runnable seconds per culprit, largest first (cells under 1 ms left out)',
            ),
        }),
      )
      .describe('rows: containers whose tasks waited runnable, most waiting first (top 10)'),
    culprits: z
      .array(
        z.object({
          id: z.string().describe('container id, or `kernel`, `idle`, `unknown`'),
          name: z.string(),
          host: z.string().nullable(),
          kind: z.enum(['container', 'kernel', 'idle', 'unknown']),
          container: z.boolean(),
          onCpuSeconds: z.number().min(0),
          causedSeconds: z
            .number()
            .min(0)
            .describe('task-seconds others (and its own tasks) waited while it held their CPU'),
          processes: z.array(z.string()).describe('its processes by time on CPU, top 3'),
        }),
      )
      .describe('columns: what held a CPU while a victim waited, most caused first (top 10)'),
    ambiguousSeconds: z
      .number()
      .min(0)
      .describe('CPU time whose holder is a guess because a switch between two recorded ones is missing'),
  })
  .nullable()
  .describe(
    "victim x culprit matrix of runnable seconds: who ran on a task's CPU while it waited runnable (switched out with prev_state R until it ran again). Waits that begin with a wake-up are not included (sched_wakeup is not recorded).",
  );

export const offCpuSchema = z
  .object({
    windowSeconds: z.number(),
    switches: z.number().int().min(0),
    switchOuts: z.number().int().min(0).describe('switches out of a task other than the idle task'),
    unmatchedSwitchOuts: z
      .number()
      .int()
      .min(0)
      .describe(
        "switch-outs followed by the same task's next switch-out with no switch-in between: switches missing from the input; the limitation switches-incomplete says when they are too many",
      ),
    blocked: z
      .array(offCpuContainer)
      .describe('sleeping or uninterruptible: waiting for a lock, I/O, a journal commit'),
    runnable: z.array(offCpuContainer).describe('preempted: runnable but waiting for a CPU'),
    involuntary: z
      .array(offCpuContainer)
      .describe(
        'blocked involuntarily, by container: uninterruptible (I/O, kernel locks), lock waits, full pipe or socket buffers',
      ),
    voluntary: z
      .array(offCpuContainer)
      .describe(
        'blocked by choice, by container: sleeps, poll/epoll/select, waits for children, input or work',
      ),
    waits: z
      .object({
        involuntarySeconds: z.number().min(0).describe('involuntary blocked plus preempted task-seconds'),
        voluntarySeconds: z.number().min(0),
        preemptedSeconds: z
          .number()
          .min(0)
          .describe('of the involuntary seconds, runnable (waiting for a CPU)'),
        reasons: z
          .array(waitReason)
          .describe('by reason; involuntary reasons first, each kind largest first'),
        rule: z.string().describe('what the split rests on: a heuristic from task state and wait path'),
      })
      .describe('off-CPU time split into involuntary and voluntary waits (src/analysis/wait-kind.ts)'),
    preemption: preemptionSchema,
  })
  .nullable()
  .describe(
    'from sched:sched_switch recorded beside the profile (crosstalk record --off-cpu); null without it',
  );

const latencyRow = z.object({
  syscall: z.string(),
  calls: z.number().int().min(0),
  callsPerSecond: z.number().min(0),
  errorsPerSecond: z.number().min(0),
  errors: z.array(
    z.object({
      errno: z.number().int(),
      name: z.string().describe('ENOENT, EAGAIN, ... or "errno N"'),
      count: z.number().int().min(0),
      perSecond: z.number().min(0),
    }),
  ),
  meanUs: us.describe('exact mean, microseconds'),
  p50Us: us.describe(
    'median from the histogram (buckets a quarter of a power of two wide: within about 11%)',
  ),
  p99Us: us,
  histogram: z
    .array(z.tuple([z.number(), z.number(), z.number().int()]))
    .describe('[low ns, high ns, calls] per non-empty bucket'),
});

export const syscallLatencySchema = z
  .object({
    status: z.enum(['recorded', 'unavailable', 'failed']),
    reason: z.string().nullable().describe('what was missing or failed (status unavailable / failed)'),
    windowSeconds: z.number().min(0).describe('seconds the tracer counted (rates are per second of it)'),
    budgetExhausted: z
      .boolean()
      .describe('the tracer stopped early when its budget (calls per CPU per second) was spent'),
    containers: z.array(
      z.object({ id: z.string(), name: z.string(), syscalls: z.array(latencyRow).describe('busiest first') }),
    ),
  })
  .nullable()
  .describe(
    'per container and syscall: calls, errors by errno and latency, counted in the kernel by eBPF (bpftrace) during the recording; null when the input has none',
  );

export const analyzeSchema = z.object({
  schemaVersion: z.literal(ANALYZE_SCHEMA_VERSION),
  tool: z.object({ name: z.literal('crosstalk'), version: z.string() }),
  input: z.object({
    source: z.string(),
    format: z.enum(['perf-script', 'perf-data', 'folded', 'pprof']),
    event: z.string(),
    events: z.array(z.object({ name: z.string(), samples: z.number().int().min(0) })),
    eventChosenBy: z.enum(['only', 'first', 'option']),
    callGraph: z.enum(['fp', 'dwarf', 'lbr', 'none', 'unknown']),
    samples: z.number().int().min(0),
    totalWeight: z.number().min(0),
    weightUnit: z
      .enum(['ns', 'events'])
      .describe('ns for cpu-clock/task-clock (weights are nanoseconds of CPU), events otherwise.'),
    durationSeconds: z.number().nullable(),
    truncated: z.boolean(),
    hasCgroups: z.boolean(),
    warnings: z.array(z.string()),
    oddities: z.array(
      z.object({
        kind: z.string(),
        count: z.number().int(),
        firstLine: z.number().int(),
        example: z.string(),
      }),
    ),
    recording: z.record(z.string(), z.union([z.string(), z.number()])),
  }),
  findings: z
    .array(findingSchema)
    .describe('ordered: cannot-answer verdicts, then signatures by impact, then generic findings'),
  hosts: z
    .array(
      z.object({
        name: z.string(),
        source: z.string(),
        samples: z.number().int().min(0),
        share,
        userShare: share,
        kernelShare: share,
        idleShare: share,
        durationSeconds: z.number().nullable(),
      }),
    )
    .describe(
      'one entry per host when several inputs were analysed together (shares of all hosts); empty for one',
    ),
  split: z.object({ user: share, kernel: share, idle: share, unknown: share }),
  categories: z.array(categoryShare),
  containers: z.array(containerSchema),
  syscalls: z.array(syscallSchema),
  offCpu: offCpuSchema,
  syscallLatency: syscallLatencySchema,
  limitations: z.array(
    z.object({
      code: z.enum([
        'no-samples',
        'no-cgroups',
        'no-call-graphs',
        'no-kernel-symbols',
        'call-sites-lost',
        'call-graph-unknown',
        'switches-incomplete',
        'engine-unanswered',
        'truncated',
      ]),
      message: z.string(),
    }),
  ),
});

export type AnalyzeJson = z.infer<typeof analyzeSchema>;

export function analyzeJsonSchema(): unknown {
  return z.toJSONSchema(analyzeSchema, { target: 'draft-2020-12' });
}
