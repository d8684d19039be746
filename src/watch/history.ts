/**
 * The rolling history of the always-on layer: in memory, one ring of the latest `window` values
 * per series (what the trigger judges); on disk, one JSON line per interval in two segments
 * (history.jsonl, and history.1.jsonl once it passed half of `maxBytes`), so the copy on disk is
 * bounded by maxBytes and a restart resumes with the rings it had. A line cut by a crash is
 * skipped and counted, never guessed.
 */
import { appendFileSync, renameSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FILE_MODE } from '../safety/atomic-file.ts';
import { type IntervalValues, isSeriesName, SERIES, type SeriesName } from './series.ts';
import { type Firing, observe, SeriesRing, type TriggerRule } from './trigger.ts';

export const HISTORY_FILE = 'history.jsonl';
export const HISTORY_PREVIOUS_FILE = 'history.1.jsonl';

const values = z.record(z.string(), z.number());
const lineSchema = z.object({
  t: z.number(),
  s: z.number().positive(),
  h: values,
  c: z.record(z.string(), z.object({ n: z.string(), v: values })),
});

/** A firing, with the container it belongs to (null: a host series). */
export interface SeriesFiring extends Firing {
  container: { id: string; name: string } | null;
}

export interface HistoryOptions {
  dir: string;
  rule: TriggerRule;
  /** Bytes on disk, both segments together. Default 64 MiB. */
  maxBytes?: number;
  /** Containers with series kept; the rest are dropped (busiest kept). Default 100. */
  maxContainers?: number;
}

export class History {
  /** '' for host series, else the container id -> series -> ring. */
  private readonly rings = new Map<string, Map<SeriesName, SeriesRing>>();
  private readonly names = new Map<string, string>();
  /** Intervals held (at most the window), for health metrics and the restart message. */
  samples = 0;
  latest: IntervalValues | null = null;
  private readonly maxBytes: number;
  readonly maxContainers: number;

  constructor(private readonly opts: HistoryOptions) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.maxContainers = opts.maxContainers ?? 100;
  }

  /** Reads the copy on disk back into the rings; returns intervals loaded and lines skipped. */
  async resume(): Promise<{ loaded: number; skipped: number }> {
    const lines: string[] = [];
    for (const f of [HISTORY_PREVIOUS_FILE, HISTORY_FILE]) {
      const text = await readFile(join(this.opts.dir, f), 'utf8').catch(() => '');
      lines.push(...text.split('\n').filter((l) => l !== ''));
    }
    let skipped = 0;
    const parsed: IntervalValues[] = [];
    for (const line of lines.slice(-this.opts.rule.window * 2)) {
      const v = parseLine(line);
      if (v === null) skipped++;
      else parsed.push(v);
    }
    for (const v of parsed.slice(-this.opts.rule.window)) this.add(v, false);
    return { loaded: Math.min(parsed.length, this.opts.rule.window), skipped };
  }

  /** Adds an interval, returns the series that fire. Keeps the busiest maxContainers containers. */
  observe(v: IntervalValues): SeriesFiring[] {
    return this.add(bounded(v, this.maxContainers), true);
  }

  private add(v: IntervalValues, judge: boolean): SeriesFiring[] {
    this.latest = v;
    this.samples = Math.min(this.samples + 1, this.opts.rule.window);
    const out: SeriesFiring[] = [];
    const feed = (owner: string, vals: IntervalValues['host'], container: SeriesFiring['container']) => {
      let rings = this.rings.get(owner);
      if (!rings) {
        rings = new Map();
        this.rings.set(owner, rings);
      }
      for (const [name, x] of Object.entries(vals) as [SeriesName, number][]) {
        let ring = rings.get(name);
        if (!ring) {
          ring = new SeriesRing(this.opts.rule.window);
          rings.set(name, ring);
        }
        const floor = SERIES[name].floor;
        if (floor === null || !judge) {
          ring.push(x);
          continue;
        }
        const f = observe(ring, name, x, floor, this.opts.rule);
        if (f) out.push({ ...f, container });
      }
    };
    feed('', v.host, null);
    for (const [id, c] of v.containers) {
      this.names.set(id, c.name);
      feed(id, c.values, { id, name: c.name });
    }
    this.forgetGone(v);
    return out.sort((a, b) => b.score - a.score);
  }

  /** Containers absent from the latest interval lose their rings (their cgroup is gone). */
  private forgetGone(v: IntervalValues): void {
    for (const id of this.rings.keys()) {
      if (id !== '' && !v.containers.has(id)) {
        this.rings.delete(id);
        this.names.delete(id);
      }
    }
  }

  /** Whether any judged series departed in the latest interval (not quiet). */
  departing(): boolean {
    for (const rings of this.rings.values()) for (const r of rings.values()) if (r.run > 0) return true;
    return false;
  }

  /**
   * Appends the interval to the copy on disk, rotating past half of maxBytes. Throws on I/O errors.
   * Synchronous: one small append every few seconds costs microseconds this way, a millisecond of
   * CPU through fs/promises.
   */
  persist(v: IntervalValues): void {
    const file = join(this.opts.dir, HISTORY_FILE);
    let size = 0;
    try {
      size = statSync(file).size;
    } catch {
      // Not there yet.
    }
    if (size > this.maxBytes / 2) renameSync(file, join(this.opts.dir, HISTORY_PREVIOUS_FILE));
    appendFileSync(file, `${lineOf(bounded(v, this.maxContainers))}\n`, { mode: FILE_MODE });
  }
}

/** The busiest `max` containers by CPU usage (then by id, so the choice is stable). */
function bounded(v: IntervalValues, max: number): IntervalValues {
  if (v.containers.size <= max) return v;
  const kept = [...v.containers]
    .sort(
      ([ia, a], [ib, b]) =>
        (b.values['cgroup.cpu.usage.cores'] ?? 0) - (a.values['cgroup.cpu.usage.cores'] ?? 0) ||
        (ia < ib ? -1 : 1),
    )
    .slice(0, max);
  return { ...v, containers: new Map(kept) };
}

function lineOf(v: IntervalValues): string {
  const c: Record<string, { n: string; v: Record<string, number> }> = {};
  for (const [id, x] of v.containers) c[id] = { n: x.name, v: x.values as Record<string, number> };
  return JSON.stringify({ t: v.at, s: v.seconds, h: v.host, c });
}

function parseLine(line: string): IntervalValues | null {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  const r = lineSchema.safeParse(raw);
  if (!r.success) return null;
  const pick = (vals: Record<string, number>) => {
    const out: IntervalValues['host'] = {};
    for (const [k, n] of Object.entries(vals)) if (isSeriesName(k)) out[k] = n;
    return out;
  };
  const containers = new Map(
    Object.entries(r.data.c).map(([id, x]) => [id, { name: x.n, values: pick(x.v) }]),
  );
  return { at: r.data.t, seconds: r.data.s, host: pick(r.data.h), containers };
}
