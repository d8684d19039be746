/**
 * Runs that `watch` made: a run directory with watch.json beside metadata.json saying why it was
 * recorded (quiet baseline, trigger, schedule), which baseline it was diagnosed against, and how
 * many findings it had. Retention (selectForRemoval, pure) only ever picks such runs, never a
 * labelled one and never one another command recorded: nothing the user recorded is removed.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { triggerSchema } from '../report/watch-event-schema.ts';
import { writeFileAtomic } from '../safety/atomic-file.ts';
import { isWhole, type RunStore, type RunSummary } from '../store/store.ts';

export const WATCH_RUN_FILE = 'watch.json';
export const WATCH_RUN_SCHEMA = 'crosstalk.watch-run/1';

const watchRunSchema = z.object({
  schema: z.literal(WATCH_RUN_SCHEMA),
  kind: z.enum(['triggered', 'scheduled', 'baseline']),
  trigger: triggerSchema.nullable(),
  baseline: z.object({ run: z.string(), createdAt: z.string() }).nullable(),
  diagnosed: z.boolean(),
  findings: z.number().int().min(0),
  report: z.string().nullable(),
  note: z.string().nullable(),
});

export type WatchRunInfo = z.infer<typeof watchRunSchema>;

export interface WatchRun {
  run: RunSummary;
  watch: WatchRunInfo;
}

export async function writeWatchRun(dir: string, info: Omit<WatchRunInfo, 'schema'>): Promise<void> {
  await writeFileAtomic(
    join(dir, WATCH_RUN_FILE),
    `${JSON.stringify({ schema: WATCH_RUN_SCHEMA, ...info }, null, 2)}\n`,
  );
}

async function readWatchRun(dir: string): Promise<WatchRunInfo | null> {
  const text = await readFile(join(dir, WATCH_RUN_FILE), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const r = watchRunSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** The store's runs that watch made, oldest first. */
export async function listWatchRuns(store: RunStore): Promise<WatchRun[]> {
  const runs = await store.listRuns();
  const out: WatchRun[] = [];
  for (const run of runs) {
    const watch = await readWatchRun(run.dir);
    if (watch) out.push({ run, watch });
  }
  return out;
}

/** Whole quiet baselines, oldest first. */
export function quietBaselines(runs: readonly WatchRun[]): WatchRun[] {
  return runs.filter((r) => r.watch.kind === 'baseline' && isWhole(r.run));
}

export interface RetentionPolicy {
  /** Runs older than this are removed, ms. Default 7 days. */
  maxAgeMs: number;
  /** Watch's runs together stay under this, oldest removed first, bytes. Default 2 GiB. */
  maxBytes: number;
  /** Quiet baselines kept (the newest). Default 3. */
  keepBaselines: number;
}

export const RETENTION_DEFAULTS: RetentionPolicy = {
  maxAgeMs: 7 * 24 * 3600 * 1000,
  maxBytes: 2 * 1024 ** 3,
  keepBaselines: 3,
};

export interface Removal {
  run: RunSummary;
  reason: 'age' | 'size' | 'baselines';
}

/**
 * Which of watch's runs to remove: baselines beyond the newest keepBaselines, then runs past
 * maxAge, then the oldest until the rest fit maxBytes. Never: a labelled run, a run still being
 * recorded, or the newest quiet baseline (the next diagnosis needs it).
 */
export function selectForRemoval(runs: readonly WatchRun[], policy: RetentionPolicy, now: number): Removal[] {
  const baselines = quietBaselines(runs);
  const newestBaseline = baselines.at(-1)?.run.id;
  const removable = (r: WatchRun) =>
    r.run.labels.length === 0 && r.run.state !== 'recording' && r.run.id !== newestBaseline;
  const out = new Map<string, Removal>();
  for (const b of baselines.slice(0, Math.max(0, baselines.length - policy.keepBaselines)))
    if (removable(b)) out.set(b.run.id, { run: b.run, reason: 'baselines' });
  for (const r of runs) {
    const created = Date.parse(r.run.metadata?.createdAt ?? '');
    if (!out.has(r.run.id) && removable(r) && Number.isFinite(created) && now - created > policy.maxAgeMs)
      out.set(r.run.id, { run: r.run, reason: 'age' });
  }
  let bytes = runs.filter((r) => !out.has(r.run.id)).reduce((s, r) => s + r.run.bytes, 0);
  for (const r of runs) {
    if (bytes <= policy.maxBytes) break;
    if (out.has(r.run.id) || !removable(r)) continue;
    out.set(r.run.id, { run: r.run, reason: 'size' });
    bytes -= r.run.bytes;
  }
  return [...out.values()];
}
