/**
 * The JSON output of `crosstalk diff --json` (public contract, schema/diff.schema.json). Every
 * change is {baseline, target, delta} in the diff's unit: share (fraction of the run's total
 * weight), cpus (average CPUs busy) or per-second (events per second).
 */
import { z } from 'zod';
import { findingSchema, syscallLatencySchema } from './schema.ts';

export const DIFF_SCHEMA_VERSION = 1;

const change = z
  .object({ baseline: z.number(), target: z.number(), delta: z.number() })
  .describe('the value in the baseline, in the target, and target - baseline');

const run = z.object({
  source: z.string(),
  format: z.string(),
  event: z.string(),
  samples: z.number().int().min(0),
  durationSeconds: z.number().nullable(),
  callGraph: z.string(),
  warnings: z.array(z.string()),
});

const ratio = z
  .number()
  .nullable()
  .describe('target / baseline - 1 (0.8 = +80%); null when the baseline is 0');

const latencySide = z.object({
  callsPerSecond: z.number().min(0),
  errorsPerSecond: z.number().min(0),
  meanUs: z.number().min(0),
  p50Us: z.number().min(0),
  p99Us: z.number().min(0),
});

export const diffSchema = z.object({
  schemaVersion: z.literal(DIFF_SCHEMA_VERSION),
  tool: z.object({ name: z.literal('crosstalk'), version: z.string() }),
  normalize: z.enum(['shares', 'rate']),
  unit: z.enum(['share', 'cpus', 'per-second']),
  baseline: run,
  target: run,
  findings: z
    .array(findingSchema)
    .describe('diagnosis of the target, with the baseline for growth and evidence'),
  split: z.object({ user: change, kernel: change, idle: change }),
  containers: z.array(
    z.object({
      id: z.string().describe('the target container id (the baseline id for a container that is gone)'),
      name: z.string(),
      status: z.enum(['matched', 'new', 'gone']),
      matchedBy: z.string().nullable().describe('explicit | id | name | image | processes'),
      baselineId: z.string().nullable(),
      total: change,
      user: change,
      kernel: change,
      idle: change,
    }),
  ),
  syscalls: z.array(
    z.object({
      name: z.string(),
      total: change,
      containers: z.array(z.object({ id: z.string(), name: z.string(), change })),
    }),
  ),
  callSites: z.array(
    z.object({
      syscall: z.string(),
      status: z.string(),
      function: z.string().nullable(),
      module: z.string().nullable(),
      wrapper: z.string().nullable(),
      file: z
        .string()
        .nullable()
        .describe(
          "the call site's source file in the target, from debug info (addr2line); null when unknown",
        ),
      line: z.number().int().nullable().describe('its line in that file; null when unknown'),
      change,
    }),
  ),
  kernelPaths: z.array(z.object({ syscall: z.string(), frames: z.array(z.string()), change })),
  counters: z.array(z.object({ metric: z.string(), container: z.string().nullable(), change })),
  offCpu: z
    .object({
      containers: z.array(
        z.object({
          id: z.string().describe('the target container id (the baseline id for a container that is gone)'),
          name: z.string(),
          blocked: change.describe('average tasks of the container sleeping or in I/O'),
          runnable: change.describe('average tasks of the container runnable but waiting for a CPU'),
          syscalls: z
            .array(z.object({ name: z.string(), change }))
            .describe('blocked tasks on average by syscall'),
        }),
      ),
    })
    .nullable()
    .describe(
      'off-CPU change, in tasks off-CPU on average (task-seconds per second of each run), whatever the normalisation; null unless both runs recorded context switches',
    ),
  syscallLatency: z
    .object({
      baseline: syscallLatencySchema,
      target: syscallLatencySchema,
      containers: z
        .array(
          z.object({
            id: z.string().describe('the target container id'),
            name: z.string(),
            baselineId: z.string(),
            syscalls: z.array(
              z.object({
                syscall: z.string(),
                baseline: latencySide,
                target: latencySide,
                p50Change: ratio,
                p99Change: ratio,
                callsChange: ratio,
                errorsPerSecondDelta: z.number(),
              }),
            ),
          }),
        )
        .describe('matched containers, syscalls with at least 200 calls in both runs'),
    })
    .nullable()
    .describe(
      'the victim side: per-container syscall latency and errors in each run and their change; null when neither run measured it',
    ),
  comparisonWarnings: z
    .array(z.string())
    .optional()
    .describe(
      'what the comparison itself cannot answer, e.g. call sites of runs unwound differently (frame pointers vs DWARF): then callSites holds only sites both runs name',
    ),
});

export type DiffJson = z.infer<typeof diffSchema>;

export function diffJsonSchema(): unknown {
  return z.toJSONSchema(diffSchema, { target: 'draft-2020-12' });
}
