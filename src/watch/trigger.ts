/**
 * When a cheap series departs from its own rolling baseline (pure; no I/O).
 *
 * The rule, per series, on every sample x:
 *
 *   window    = the series' previous `window` samples (not x itself)
 *   departure = x - median(window)
 *   scale     = 1.4826 * MAD(window)            (MAD: median absolute deviation from the median;
 *                                                 1.4826 makes it the standard deviation of normal noise)
 *   fires     when departure > max(k * scale, floor) for `sustain` samples in a row,
 *             once the window holds at least `minSamples` samples
 *
 * Defaults (TRIGGER_DEFAULTS): window 120 samples (10 minutes at the 5 s default interval), k = 6,
 * minSamples 12 (one minute), sustain 2 (10 s). Why these: median and MAD ignore up to half the
 * window being odd (an earlier episode, a cron job) where mean and standard deviation would be
 * dragged along; 6 scaled MADs is beyond 1 in 10^8 for normal noise and still rare for the
 * heavy-tailed counters a host produces; two samples in a row drop single-sample spikes (a
 * compiler run, a log rotation). Only rises fire: contention raises pressure, throttling and
 * kernel counters. The floor (per series, SERIES in series.ts) keeps a flat series (MAD 0, e.g. no
 * throttling ever) from firing on a change nobody would call an episode; it is in the series'
 * own unit (e.g. 0.10 of wall time stalled). An episode that lasts longer than half the window
 * becomes the new baseline: watch then stops re-triggering on it (by design: it records the start).
 */

export interface TriggerRule {
  /** Scaled MADs above the median that count as a departure. Default 6. */
  k: number;
  /** Samples in the rolling baseline. Default 120. */
  window: number;
  /** Samples the baseline needs before the series may fire. Default 12. */
  minSamples: number;
  /** Consecutive departing samples needed to fire. Default 2. */
  sustain: number;
}

export const TRIGGER_DEFAULTS: TriggerRule = { k: 6, window: 120, minSamples: 12, sustain: 2 };

/** Makes a normal distribution's MAD equal its standard deviation. */
export const MAD_TO_SIGMA = 1.4826;

export function median(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const s = Float64Array.from(values).sort();
  const mid = n >> 1;
  return n % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median absolute deviation from `center` (the median of `values`). */
export function mad(values: ArrayLike<number>, center: number): number {
  const dev = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) dev[i] = Math.abs(values[i] - center);
  return median(dev);
}

export interface Departure {
  value: number;
  median: number;
  /** 1.4826 * MAD of the window. */
  scale: number;
  /** max(k * scale, floor): what the departure had to exceed. */
  threshold: number;
  /** (value - median) / threshold: above 1 departs. */
  score: number;
}

/** How far x stands above the window; null when the window is too short to judge. */
export function departureOf(
  window: ArrayLike<number>,
  x: number,
  floor: number,
  rule: Pick<TriggerRule, 'k' | 'minSamples'>,
): Departure | null {
  if (window.length < rule.minSamples || !Number.isFinite(x)) return null;
  const m = median(window);
  const scale = MAD_TO_SIGMA * mad(window, m);
  const threshold = Math.max(rule.k * scale, floor);
  return { value: x, median: m, scale, threshold, score: threshold > 0 ? (x - m) / threshold : 0 };
}

/** A fixed-size ring of the latest values of one series. */
export class SeriesRing {
  private readonly buf: Float64Array;
  private next = 0;
  private count = 0;
  /** Consecutive samples that departed, for `sustain`. */
  run = 0;

  constructor(readonly capacity: number) {
    this.buf = new Float64Array(capacity);
  }

  push(x: number): void {
    this.buf[this.next] = x;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Oldest first. */
  values(): Float64Array {
    const out = new Float64Array(this.count);
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out[i] = this.buf[(start + i) % this.capacity];
    return out;
  }
}

export interface Firing extends Departure {
  series: string;
}

/**
 * Judges x against the ring's window, then adds x to it. Returns the departure when the series
 * fires (sustain reached), else null. Non-finite values are skipped (a counter that was reset).
 */
export function observe(
  ring: SeriesRing,
  series: string,
  x: number,
  floor: number,
  rule: TriggerRule,
): Firing | null {
  if (!Number.isFinite(x)) return null;
  const d = departureOf(ring.values(), x, floor, rule);
  ring.push(x);
  if (d === null || d.score <= 1) {
    ring.run = 0;
    return null;
  }
  ring.run++;
  return ring.run >= rule.sustain ? { series, ...d } : null;
}
