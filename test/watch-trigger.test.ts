// The trigger rule on seeded synthetic series at several noise levels: quiet series never fire,
// steps above the threshold fire within `sustain` readings, single spikes and rises under the
// floor do not, and a lasting level becomes the baseline.
import { describe, expect, it } from 'vitest';
import {
  departureOf,
  mad,
  median,
  observe,
  SeriesRing,
  TRIGGER_DEFAULTS,
  type TriggerRule,
} from '../src/watch/trigger.ts';
import { seededRandom } from './support/process-watch.ts';

function gaussian(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Laplace noise (heavier tails than normal), scale b. */
function laplace(r: () => number, b: number): number {
  const u = r() - 0.5;
  return -b * Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
}

/** Feeds the series through one ring; returns the indexes at which it fired. */
function firings(series: number[], floor: number, rule: TriggerRule = TRIGGER_DEFAULTS): number[] {
  const ring = new SeriesRing(rule.window);
  const out: number[] = [];
  series.forEach((x, i) => {
    if (observe(ring, 's', x, floor, rule)) out.push(i);
  });
  return out;
}

const NOISE = [0.005, 0.02, 0.08];

describe('median and MAD', () => {
  it('are the textbook values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(mad([1, 1, 2, 2, 4, 6, 9], 2)).toBe(1);
    expect(Number.isNaN(median([]))).toBe(true);
  });

  it('departureOf needs minSamples and scales by 1.4826 MAD, floored', () => {
    const rule = { k: 6, minSamples: 3 };
    expect(departureOf([1, 2], 10, 0, rule)).toBeNull();
    const d = departureOf([1, 2, 3, 4, 5], 20, 0, rule)!;
    expect(d.median).toBe(3);
    expect(d.scale).toBeCloseTo(1.4826, 4);
    expect(d.threshold).toBeCloseTo(6 * 1.4826, 4);
    expect(departureOf([0, 0, 0, 0], 0.05, 0.1, rule)!.score).toBeCloseTo(0.5);
  });
});

describe.each(NOISE)('a pressure-like series (level 0.2, noise sd %s)', (sd) => {
  const floor = 0.1;
  const quiet = (seed: number, n: number) => {
    const r = seededRandom(seed);
    return Array.from({ length: n }, () => Math.max(0, 0.2 + sd * gaussian(r)));
  };

  it('never fires on 5,000 quiet readings (normal noise), even without the floor', () => {
    expect(firings(quiet(1, 5000), floor)).toEqual([]);
    expect(firings(quiet(1, 5000), 0)).toEqual([]);
  });

  it('never fires on 5,000 quiet readings with heavy-tailed (Laplace) noise', () => {
    const r = seededRandom(2);
    const series = Array.from({ length: 5000 }, () => 0.2 + laplace(r, sd));
    expect(firings(series, floor)).toEqual([]);
    expect(firings(series, 0)).toEqual([]);
  });

  it('fires within `sustain` readings of a step above the threshold', () => {
    const series = quiet(3, 300);
    // 1.4826 MAD estimates sd for normal noise: the threshold is about max(k * sd, floor).
    const step = 1.5 * Math.max(TRIGGER_DEFAULTS.k * sd, floor);
    for (let i = 200; i < 300; i++) series[i] += step;
    const fired = firings(series, floor);
    expect(fired[0]).toBe(200 + TRIGGER_DEFAULTS.sustain - 1);
  });

  it('does not fire on a rise under the floor, however clean', () => {
    const series = quiet(4, 300);
    for (let i = 200; i < 300; i++) series[i] += floor * 0.5;
    // With tiny noise the statistic alone would fire: the floor is what holds it.
    if (sd < 0.01) expect(firings(series, 0).length).toBeGreaterThan(0);
    expect(firings(series, floor)).toEqual([]);
  });

  it('ignores a single-reading spike with sustain 2, and fires on it with sustain 1', () => {
    const series = quiet(5, 300);
    series[200] += 1;
    expect(firings(series, floor)).toEqual([]);
    expect(firings(series, floor, { ...TRIGGER_DEFAULTS, sustain: 1 })).toEqual([200]);
  });

  it('takes a lasting level as the new baseline after half the window', () => {
    const series = quiet(6, 600);
    for (let i = 200; i < 600; i++) series[i] += 0.5;
    const fired = firings(series, floor);
    expect(fired.length).toBeGreaterThan(0);
    expect(Math.max(...fired)).toBeLessThanOrEqual(200 + TRIGGER_DEFAULTS.window / 2 + 1);
  });
});

describe('a counter rate with a flat baseline (negative dentries per second)', () => {
  it('fires only past the floor while the MAD is zero', () => {
    const flat = Array.from({ length: 100 }, () => 0);
    expect(firings([...flat, 4000, 4000, 4000], 5000)).toEqual([]);
    expect(firings([...flat, 600_000, 600_000], 5000)).toEqual([101]);
  });

  it('does not judge before minSamples readings', () => {
    const rule = { ...TRIGGER_DEFAULTS, minSamples: 12 };
    expect(firings([0, 0, 0, 1e6, 1e6, 1e6], 5000, rule)).toEqual([]);
  });

  it('skips non-finite readings without breaking the window', () => {
    const ring = new SeriesRing(10);
    expect(observe(ring, 's', Number.NaN, 1, TRIGGER_DEFAULTS)).toBeNull();
    expect(ring.length).toBe(0);
  });
});
