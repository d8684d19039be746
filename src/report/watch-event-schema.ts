/**
 * The events `crosstalk watch` writes, one JSON object per line (events log, and stdout with
 * `--events -`): a public contract. Adding event kinds or fields is allowed; changing a field's
 * meaning bumps WATCH_EVENT_SCHEMA_VERSION. schema/watch-event.schema.json is generated from this
 * file (`npm run schema`).
 */
import { z } from 'zod';

export const WATCH_EVENT_SCHEMA_VERSION = 1;

const base = {
  schemaVersion: z.literal(WATCH_EVENT_SCHEMA_VERSION),
  time: z.string().describe('ISO 8601, UTC'),
};

const container = z.object({ id: z.string(), name: z.string() }).nullable();

export const triggerSchema = z
  .object({
    kind: z.enum(['anomaly', 'schedule']),
    series: z
      .string()
      .nullable()
      .describe('the series that departed (src/watch/series.ts), null for a schedule'),
    container: container.describe('the container the series belongs to; null for a host series'),
    value: z.number().nullable(),
    median: z.number().nullable().describe('the series median over its rolling window'),
    threshold: z.number().nullable().describe('max(k * 1.4826 * MAD, floor): the rise that counts'),
    others: z.number().int().min(0).describe('further series that departed in the same interval'),
  })
  .describe('what started the recording');

const runKind = z.enum(['triggered', 'scheduled', 'baseline']);

export const watchEventSchema = z.discriminatedUnion('event', [
  z.object({
    ...base,
    event: z.literal('started'),
    pid: z.number().int(),
    metricsAddress: z.string().nullable(),
    historySamples: z.number().int().min(0).describe('intervals resumed from the copy on disk'),
    historyLinesSkipped: z.number().int().min(0),
    baselines: z.array(z.string()).describe('quiet baseline runs found in the store, newest last'),
  }),
  z.object({ ...base, event: z.literal('trigger'), trigger: triggerSchema }),
  z.object({
    ...base,
    event: z.literal('recorded'),
    run: z.string(),
    kind: runKind,
    status: z.enum(['complete', 'interrupted', 'incomplete']),
    reason: z.string().nullable().describe('why the run is incomplete'),
    trigger: triggerSchema.nullable(),
  }),
  z.object({
    ...base,
    event: z.literal('finding'),
    run: z.string(),
    kind: runKind,
    trigger: triggerSchema.nullable(),
    baseline: z
      .object({ run: z.string(), createdAt: z.string() })
      .nullable()
      .describe('the quiet baseline the run was diagnosed against; null when there was none yet'),
    severity: z.enum(['critical', 'warning', 'info']),
    signature: z.string().nullable(),
    findingKind: z.enum(['signature', 'generic', 'cannot-answer']),
    title: z.string(),
    antagonist: z
      .object({ container: z.string(), name: z.string(), process: z.string().nullable() })
      .nullable(),
    victims: z.array(
      z.object({
        container: z.string(),
        name: z.string(),
        reasons: z.array(z.string()),
        harm: z
          .object({
            summary: z
              .string()
              .describe('e.g. "write p99 +101%, runnable +0.29 tasks"; empty when nothing was measured'),
            degraded: z
              .boolean()
              .nullable()
              .describe('against the quiet baseline, beyond noise; null without a baseline or a measurement'),
            worstLatencyChange: z
              .number()
              .nullable()
              .describe("largest relative rise of the victim's syscall p50/p99 (1.8 = +180%)"),
          })
          .optional()
          .describe(
            'what the victim suffered, measured (syscall latency by eBPF, runnable and blocked time)',
          ),
      }),
    ),
    syscall: z.string().nullable(),
    callSite: z.string().nullable(),
    confidence: z.unknown().optional().describe("the finding's confidence, when the diagnosis gives one"),
    basis: z.unknown().optional().describe('what the confidence rests on, when the diagnosis gives it'),
    severityBasis: z
      .enum(['measured-harm', 'antagonist-share'])
      .optional()
      .describe(
        "what the severity rests on: the victims' measured degradation against the baseline, or the antagonist's share",
      ),
  }),
  z.object({
    ...base,
    event: z.literal('skipped'),
    reason: z.enum(['disk-full', 'cooldown']),
    message: z.string(),
  }),
  z.object({
    ...base,
    event: z.literal('removed'),
    run: z.string(),
    reason: z.enum(['age', 'size', 'baselines']),
  }),
  z.object({ ...base, event: z.literal('error'), stage: z.string(), message: z.string() }),
  z.object({ ...base, event: z.literal('stopped'), signal: z.string().nullable() }),
]);

export type WatchEvent = z.infer<typeof watchEventSchema>;
export type WatchTrigger = z.infer<typeof triggerSchema>;

/** Distributes Omit over the union, so each event kind keeps its own fields. */
type WithoutBase<T> = T extends unknown ? Omit<T, 'schemaVersion' | 'time'> : never;
export type WatchEventBody = WithoutBase<WatchEvent>;

export function watchEventJsonSchema(): unknown {
  return z.toJSONSchema(watchEventSchema, { target: 'draft-2020-12' });
}
