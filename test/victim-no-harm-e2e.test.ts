// Neighbours and no harm: a victim (dd, one-byte reads and writes) recorded alone, then beside two
// neighbours that only sleep in a loop, both with `record` (perf + the eBPF latency tracer) into a
// temporary store. In the `diff` of the two every victim a finding names carries measured
// degradation against the baseline (a container whose latency, runnable and blocked time did not
// degrade is never called a victim), and when the victim's latency did not degrade no finding
// names a victim at all. The victim's latency must have been measured in both runs, so the rule
// had the data to decide. (The host is shared: its own load can slow the victim between the two
// recordings; that is measured harm, and a finding may then name the victim, as in runs here:
// "Run-queue contention ... victim (read p50 +59%, write p50 +52%, runnable +0.26 tasks)".)
// Needs root, perf, bpftrace and cgroup v2; skips with the reason otherwise. Hold
// /tmp/crosstalk-system.lock.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroupHierarchies } from '../src/collect/cgroup-fs.ts';
import { findOnPath } from '../src/collect/perf-tool.ts';
import { recordRun } from '../src/collect/recorder.ts';
import { syscallLatencyUnavailable } from '../src/collect/syscall-latency.ts';
import { diffLoaded } from '../src/pipeline/diff.ts';
import { loadInput } from '../src/pipeline/load.ts';
import { RunStore } from '../src/store/store.ts';
import { SYSCALL_HEAVY, TestCgroups } from './record-cgroups.ts';

const missing = await syscallLatencyUnavailable(await cgroupHierarchies());
const perf = await findOnPath('perf');
const skip = missing.reason || (perf ? '' : 'needs perf (linux-perf)');
if (skip) console.warn(`victim-no-harm-e2e skipped: ${skip}`);

const SLEEPER = ['sh', '-c', 'while :; do sleep 0.05; done'];

describe.skipIf(skip !== '')('neighbours that do no harm', () => {
  let store = '';
  let cgroups: TestCgroups | null = null;
  afterAll(async () => {
    await cgroups?.cleanup();
    if (store) await rm(store, { recursive: true, force: true });
  });

  it('a victim is named only with measured degradation; none when the victim did not degrade', async () => {
    store = await mkdtemp(join(tmpdir(), 'crosstalk-noharm-'));
    cgroups = await TestCgroups.create('crosstalk-test-noharm');
    expect(cgroups).not.toBeNull();
    const runs = new RunStore(store);
    // Generous budget: dd alone exceeds the default within a second; this test wants the window.
    const opts = { store: runs, durationSeconds: 3, offCpu: true as const, syscallLatencyBudget: 1e12 };
    const victim = await cgroups!.start('victim', SYSCALL_HEAVY);
    const base = await recordRun({ ...opts, label: 'alone' });
    await cgroups!.start('sleeper-1', SLEEPER);
    await cgroups!.start('sleeper-2', SLEEPER);
    const target = await recordRun({ ...opts, label: 'neighbours' });
    const [b, t] = await Promise.all([loadInput(base.dir, { store }), loadInput(target.dir, { store })]);
    const d = diffLoaded(b, t);
    const measured = (l: typeof b.latency) =>
      l?.containers.find((c) => c.name === 'victim')?.syscalls.find((s) => s.syscall === 'read');
    expect(measured(b.latency), 'the victim measured alone').toBeDefined();
    expect(measured(t.latency), 'the victim measured beside the sleepers').toBeDefined();
    for (const f of d.findings) {
      const named = f.victims.map((v) => `${v.name} (${v.harm?.summary})`).join('; ');
      console.log(
        `${f.severity} ${f.title}: antagonist ${f.antagonist?.name ?? '-'}; victims ${named || '-'}`,
      );
      // The rule: a container is a victim only with measured degradation against the baseline.
      for (const v of f.victims) expect(v.harm?.degraded, `${f.title}: ${v.name}`).toBe(true);
    }
    // The sleepers cost nothing; the host is shared, though, and its own load can slow the
    // victim between the two recordings (measured here once: read p50 +59%, runnable +0.26
    // tasks). When the victim's latency did not degrade, no finding may claim any victim.
    const change = d.diff.syscallLatency?.find((c) => c.name === 'victim');
    const worst = Math.max(
      0,
      ...(change?.syscalls ?? []).flatMap((s) => [s.p50Change ?? 0, s.p99Change ?? 0]),
    );
    console.log(`victim's worst latency change between the runs: +${Math.round(worst * 100)}%`);
    if (worst < 0.25) expect(d.findings.flatMap((f) => f.victims)).toEqual([]);
    expect(victim.process.exitCode).toBeNull();
  }, 120_000);
});
