/**
 * The recording cut into time windows: about one per second, between 10 and 60. Diagnosis
 * correlates containers' kernel time over them and the timeline draws them, so both use these.
 */
import type { Profile } from '../model/profile.ts';

export interface Windows {
  count: number;
  /** Time of the first sample (seconds, as the profile's times). */
  start: number;
  /** Seconds per window; +Infinity for a single window (no duration). */
  width: number;
}

/** Windows over the whole recording (its duration from the input's metadata). */
export function windowsOf(p: Profile): Windows {
  const d = p.meta.durationSeconds;
  if (d === null || !(d > 0)) return { count: 1, start: 0, width: Number.POSITIVE_INFINITY };
  let start = Number.POSITIVE_INFINITY;
  for (const t of p.samples.time) if (t < start) start = t;
  return cut(start, d);
}

/** Windows over the time range of some samples only (a diff's target side). */
export function windowsOfTimes(times: number[]): Windows {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    if (t < start) start = t;
    if (t > end) end = t;
  }
  const d = end - start;
  if (!(d > 0)) return { count: 1, start: 0, width: Number.POSITIVE_INFINITY };
  return cut(start, d);
}

function cut(start: number, seconds: number): Windows {
  const count = Math.max(10, Math.min(60, Math.round(seconds)));
  // Widened by a hair so the last sample falls in the last window, not one past it.
  return { count, start, width: (seconds / count) * (1 + 1e-9) };
}

/** The window of a time; 0 for a single window or an untimed sample. */
export function windowOf(w: Windows, time: number): number {
  if (w.count === 1 || Number.isNaN(time)) return 0;
  return Math.min(w.count - 1, Math.max(0, Math.floor((time - w.start) / w.width)));
}
