/**
 * The off-CPU default: context switches are recorded when the host's switch rate keeps the cost
 * under 5% of its CPU time. The rate comes from /proc/stat's `ctxt` over a short window; here
 * texts stand in for /proc/stat before and after the window, and the real /proc/stat is read once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  contextSwitchesOf,
  decideOffCpu,
  MAX_OFF_CPU_COST,
  offCpuCost,
  SWITCH_COST_NS,
} from '../src/collect/off-cpu-policy.ts';
import { profileEventArgs } from '../src/collect/recording-session.ts';

const dir = mkdtempSync(join(tmpdir(), 'crosstalk-offcpu-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STAT = (ctxt: number) => `cpu  1 2 3 4 5 6 7 0 0 0\nintr 12345 0 0\nctxt ${ctxt}\nbtime 1700000000\n`;

/** decideOffCpu on a stand-in /proc/stat whose counter grows by `switches` during the window. */
function decideWith(switches: number, cpus: number) {
  const texts = [STAT(1_000_000), STAT(1_000_000 + switches)];
  return decideOffCpu('auto', { sampleMs: 400, cpus, readStat: async () => texts.shift() ?? '' });
}

describe('off-CPU default', () => {
  it('reads the context-switch counter of /proc/stat', () => {
    expect(contextSwitchesOf(STAT(987654321))).toBe(987654321);
    expect(contextSwitchesOf('cpu 1 2 3\nintr 5\n')).toBeNull();
  });

  it('estimates the cost as switches x cost per switch over the CPUs', () => {
    expect(offCpuCost(1e6, 2)).toBeCloseTo((1e6 * SWITCH_COST_NS) / 2e9, 12);
    // The 5% line: about 13,000 switches per second per CPU.
    const perCpu = (MAX_OFF_CPU_COST * 1e9) / SWITCH_COST_NS;
    expect(perCpu).toBeGreaterThan(12_000);
    expect(perCpu).toBeLessThan(14_000);
  });

  it('records switches on a host that switches rarely', async () => {
    const d = await decideWith(2_000, 2); // ~5,000/s over 0.4 s: 2,500 per CPU
    expect(d.on).toBe(true);
    expect(d.note).toBeNull();
    expect(d.switchesPerSecond).toBeGreaterThan(0);
    // 2,000 switches over the window: 400 ms by the timer, which can fire up to a millisecond
    // early by performance.now() (CI measured 5,000.16/s), and longer on a busy machine.
    expect(d.switchesPerSecond).toBeLessThanOrEqual(2_000 / 0.399);
    expect(d.estimatedCost).toBeLessThan(MAX_OFF_CPU_COST);
  });

  it('leaves them off on a host that switches a lot, and says so with the rate and the override', async () => {
    const d = await decideWith(200_000, 2); // ~500,000/s: 250,000 per CPU, ~48% CPU
    expect(d.on).toBe(false);
    expect(d.estimatedCost).toBeGreaterThan(0.3);
    expect(d.note).toMatch(/off-CPU time not recorded: this host switches context [\d,]+ times\/s per CPU/);
    expect(d.note).toMatch(/about \d+% of its CPU time \(limit 5%\); pass --off-cpu/);
  });

  it('the same rate spread over many CPUs is cheap enough', async () => {
    const d = await decideWith(200_000, 96);
    expect(d.on).toBe(true);
  });

  it('leaves them off, saying why, when the rate cannot be read', async () => {
    const d = await decideOffCpu('auto', { procStat: join(dir, 'missing'), sampleMs: 10 });
    expect(d.on).toBe(false);
    expect(d.note).toMatch(/could not be read from .*missing.*--off-cpu/);
  });

  it('--off-cpu and --no-off-cpu decide without measuring', async () => {
    expect(await decideOffCpu(true)).toMatchObject({ on: true, switchesPerSecond: null, note: null });
    expect(await decideOffCpu(false)).toMatchObject({ on: false, switchesPerSecond: null, note: null });
  });

  it('measures this host from the real /proc/stat', async () => {
    const d = await decideOffCpu('auto', { sampleMs: 200 });
    expect(d.switchesPerSecond).not.toBeNull();
    expect(d.switchesPerSecond).toBeGreaterThan(0);
    expect(d.on).toBe((d.estimatedCost ?? 1) <= MAX_OFF_CPU_COST);
  });
});

describe('perf events for off-CPU', () => {
  it('adds sched_switch beside cpu-clock, with frame-pointer chains under DWARF', () => {
    expect(profileEventArgs(99, false, ['--call-graph', 'fp'])).toEqual(['-F', '99', '--call-graph', 'fp']);
    expect(profileEventArgs(99, true, ['--call-graph', 'fp'])).toEqual([
      '-e',
      'cpu-clock/freq=99/',
      '-e',
      'sched:sched_switch',
      '--call-graph',
      'fp',
    ]);
    expect(profileEventArgs(99, true, ['--call-graph', 'dwarf,8192'])).toContain(
      'sched:sched_switch/call-graph=fp/',
    );
  });
});
