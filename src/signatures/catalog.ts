/**
 * The catalog of known kernel-contention signatures. Each signature is one markdown file: a JSON
 * block (what it matches, the threshold with its unit and why, the fix, references) followed by
 * the explanation a person reads. The JSON is validated when the catalog loads.
 */
import { z } from 'zod';
import cfsThrottling from './cfs-throttling.md';
import fadvise from './fadvise-dontneed.md';
import jbd2 from './jbd2-fsync-storm.md';
import memcgReclaim from './memcg-reclaim.md';
import memcgStat from './memcg-stat-readers.md';
import mountTable from './mount-table-lock.md';
import negativeDentries from './negative-dentries.md';
import netns from './netns-churn.md';
import runqueue from './runqueue-contention.md';
import smaps from './smaps-mmap-lock.md';
import tlb from './tlb-shootdown.md';

const counterRule = z.object({
  /** A metric name the diagnosis knows (see analysis/counters.ts). */
  metric: z.string(),
  min: z.number(),
  unit: z.string(),
  /** required: the signature fires only with it; supporting: evidence that raises confidence. */
  role: z.enum(['required', 'supporting']),
  why: z.string(),
});

const signatureSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  title: z.string(),
  resource: z.string(),
  hostGlobal: z.boolean(),
  /** false when the cause is the container itself (its own limit), not a neighbour. */
  neighbour: z.boolean().default(true),
  match: z.object({
    syscalls: z.array(z.string()).optional(),
    kernelFrames: z.array(z.string()),
    userFrames: z.array(z.string()).optional(),
    waitFrames: z.array(z.string()).optional(),
  }),
  counters: z.array(counterRule).default([]),
  threshold: z.object({
    /** Fraction of all samples whose stack matches; the finding fires at or above it. */
    hostShare: z.number().min(0).max(1),
    /** At or above this value of the triggering metric the finding is critical. */
    critical: z.number(),
    why: z.string(),
  }),
  /**
   * Extra evidence of which at least one must hold (when listed): a minimum share of host CPU with
   * one of `frames` on the stack, or a counter at or above `min`.
   */
  needsAnyOf: z
    .array(
      z.union([
        z.object({
          frames: z.array(z.string()).min(1),
          minShare: z.number().min(0).max(1),
          why: z.string(),
          /**
           * Ordinary work that also runs `frames`: a container whose weight with one of these
           * frames (on any of its samples) exceeds `maxRatio` times its weight in `frames` does not
           * count towards this entry, nor as the cause when the antagonist is chosen.
           */
          exceptWith: z
            .object({ frames: z.array(z.string()).min(1), maxRatio: z.number().min(0), why: z.string() })
            .optional(),
        }),
        z.object({ metric: z.string(), min: z.number(), why: z.string() }),
      ]),
    )
    .optional(),
  fix: z.string(),
  references: z.array(z.string()).min(1),
});

export type Signature = z.infer<typeof signatureSchema> & { explanation: string };
export type CounterRule = z.infer<typeof counterRule>;

const sources: Record<string, string> = {
  'fadvise-dontneed.md': fadvise,
  'negative-dentries.md': negativeDentries,
  'jbd2-fsync-storm.md': jbd2,
  'memcg-stat-readers.md': memcgStat,
  'memcg-reclaim.md': memcgReclaim,
  'smaps-mmap-lock.md': smaps,
  'tlb-shootdown.md': tlb,
  'netns-churn.md': netns,
  'mount-table-lock.md': mountTable,
  'cfs-throttling.md': cfsThrottling,
  'runqueue-contention.md': runqueue,
};

/** Parses one signature file: a ```json block, then markdown. */
export function parseSignature(file: string, text: string): Signature {
  const m = /^```json\n([\s\S]*?)\n```\n?([\s\S]*)$/.exec(text);
  if (!m) throw new Error(`signature ${file}: expected a \`\`\`json block at the top`);
  let data: unknown;
  try {
    data = JSON.parse(m[1]);
  } catch (e) {
    throw new Error(`signature ${file}: invalid JSON (${(e as Error).message})`);
  }
  const parsed = signatureSchema.safeParse(data);
  if (!parsed.success)
    throw new Error(
      `signature ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return { ...parsed.data, explanation: m[2].trim() };
}

let catalog: Signature[] | null = null;

export function signatures(): Signature[] {
  catalog ??= Object.entries(sources).map(([file, text]) => parseSignature(file, text));
  return catalog;
}
