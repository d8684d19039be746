/**
 * The JSON output of `crosstalk analyze --json`: a public contract that users script against.
 * Changing a field's meaning or removing one bumps `schemaVersion`; adding fields does not.
 * schema/analyze.schema.json is generated from this file (`npm run schema`) and checked in.
 */
import { z } from 'zod';
import { categories } from '../analysis/categories.ts';

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
  victimDetails: z.array(z.object({ container: z.string(), name: z.string(), reasons: z.array(z.string()) })),
  sharedStorm: z
    .boolean()
    .describe('every container with the problem drives it: each is both victim and antagonist'),
  syscall: z.string().nullable(),
  callSite: z.object({ function: z.string(), module: z.string() }).nullable(),
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
});

const offCpuContainer = z.object({
  id: z.string(),
  name: z.string(),
  host: z.string().nullable(),
  seconds: z.number().min(0).describe('task-seconds off-CPU (several tasks can be off-CPU at once)'),
  perSecond: z.number().min(0).describe('seconds / recording window: average tasks of the container off-CPU'),
  syscalls: z.array(z.object({ name: z.string(), seconds: z.number() })),
  waitPaths: z.array(z.object({ frames: z.array(z.string()), seconds: z.number() })),
});

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
  })
  .nullable()
  .describe(
    'from sched:sched_switch recorded beside the profile (crosstalk record --off-cpu); null without it',
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
