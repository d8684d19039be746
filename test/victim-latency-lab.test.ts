// The lab's own measurement against crosstalk's: the negative-dentries victim (a static file server,
// 64 newfstatat lookups per request) times every request with its own clock; the eBPF tracer
// times every newfstatat of the victim's cgroup in the kernel over the same contended phase.
// Stated tolerance: crosstalk's median newfstatat latency lies between 0.6x and 1.1x the victim's
// median request time / 64. Medians, not means: on a 2-vCPU host shared with the neighbours and
// other work, a request that is preempted in user space between lookups (its p99 reached 10 ms in
// a run here) inflates the victim's mean but is not syscall time; the median request is one that
// ran through. The kernel interval is part of what the victim's clock sees; the rest (formatting
// the path, syscall entry and exit, the tracer's own cost per call) is the gap below 1x. The calls
// counted must be the victim's: no more than the lookups it made over its whole phase (the traced
// seconds are part of it), and a rate of at least 0.6x its average over the phase. Rates are not
// compared more tightly: the victim is paced at 64k lookups/s, falls behind while bpftrace starts
// or costs, and catches up faster than its pace, inside the traced seconds or after them (one CI
// run counted 85k calls/s in the window against a 64k/s phase average).
// Needs root, cgroup v2, bpftrace and a C compiler; holds the lab lock. Run under
// /tmp/crosstalk-system.lock.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { containerOf } from '../src/analysis/containers.ts';
import { summarizeLatency } from '../src/analysis/syscall-latency.ts';
import { cgroupHierarchies } from '../src/collect/cgroup-fs.ts';
import {
  cgroupPathsById,
  latencyFileOf,
  SyscallLatencyTracer,
  syscallLatencyUnavailable,
} from '../src/collect/syscall-latency.ts';
import { syscallNames } from '../src/collect/syscall-rates.ts';
import { cgroupSupport } from '../src/lab/cgroupfs.ts';
import { runScenario } from '../src/lab/runner.ts';

const h = await cgroupHierarchies();
const missing = await syscallLatencyUnavailable(h);
const support = process.geteuid?.() === 0 ? cgroupSupport() : null;
const skip = missing.reason || (support?.ok ? '' : `needs cgroup v2: ${support?.reason ?? 'root'}`);
if (skip) console.warn(`victim-latency-lab skipped: ${skip}`);

describe.skipIf(skip !== '')("crosstalk's per-container latency agrees with the victim's own", () => {
  it('negative-dentries: newfstatat median per call and call rate', async () => {
    const result = await runScenario('negative-dentries', {
      durationSeconds: 3,
      runs: 1,
      warmupSeconds: 0.5,
      waitSeconds: 600,
      onSignal: 'throw',
      async onContended(ctx) {
        // No budget: this test wants every call of the phase (the default would stop early here).
        const tracer = new SyscallLatencyTracer({
          bpftrace: missing.bpftrace!,
          cpus: availableParallelism(),
          maxCallsPerCpuSecond: 1e12,
        });
        await tracer.attached(30_000);
        await new Promise((r) => setTimeout(r, ctx.durationSeconds * 1000));
        tracer.stop();
        const r = await tracer.exited;
        const [names, paths] = await Promise.all([syscallNames(), cgroupPathsById(h)]);
        return latencyFileOf(r, tracer.maxCallsPerCpuSecond, names.nameOf, (id) => paths.get(id) ?? null);
      },
    });
    const c = result.contended!;
    const summary = summarizeLatency(c.value, containerOf);
    const victimName = result.groundTruth.victim;
    const mine = summary.containers.find((x) => x.name === victimName);
    const seen = summary.containers.map((x) => x.name).join(', ');
    expect(mine, `no latency for ${victimName}; containers: ${seen}`).toBeDefined();
    const stat = mine!.syscalls.find((s) => s.syscall === 'newfstatat')!;
    const batch = c.victim.counters.batch ?? 64;
    const perLookupUs = c.victim.latency.meanUs / batch;
    const medianPerLookupUs = c.victim.latency.p50Us / batch;
    const lookupsPerSecond = c.victim.latency.throughputPerSec * batch;
    const ratio = stat.p50Us / medianPerLookupUs;
    console.log(
      `victim ${victimName}: own clock ${c.victim.latency.meanUs.toFixed(1)} us per request = ${perLookupUs.toFixed(2)} us per lookup ` +
        `(p50 ${c.victim.latency.p50Us.toFixed(1)} us = ${medianPerLookupUs.toFixed(2)} us per lookup, p99 ${c.victim.latency.p99Us.toFixed(1)} us per request), ${lookupsPerSecond.toFixed(0)} lookups/s; ` +
        `crosstalk newfstatat mean ${stat.meanUs.toFixed(2)} us (p50 ${stat.p50Us.toFixed(2)}, p99 ${stat.p99Us.toFixed(2)} us), ` +
        `${stat.callsPerSecond.toFixed(0)} calls/s over ${summary.windowSeconds.toFixed(1)} s; p50 ratio ${ratio.toFixed(2)}, mean ratio ${(stat.meanUs / perLookupUs).toFixed(2)}`,
    );
    expect(ratio).toBeGreaterThanOrEqual(0.6);
    expect(ratio).toBeLessThanOrEqual(1.1);
    const traced = stat.callsPerSecond * summary.windowSeconds;
    const made = c.victim.latency.ops * batch;
    console.log(
      `victim lookups over the ${c.durationSeconds.toFixed(1)} s phase: ${made}; newfstatat calls traced in ${summary.windowSeconds.toFixed(1)} s: ${traced.toFixed(0)}`,
    );
    expect(traced).toBeLessThanOrEqual(made * 1.02);
    expect(stat.callsPerSecond / lookupsPerSecond).toBeGreaterThanOrEqual(0.6);
    // The neighbours' probes fail: ENOENT, counted per container.
    const probers = summary.containers.filter((x) => result.groundTruth.antagonists.includes(x.name));
    expect(probers.length).toBeGreaterThan(0);
    for (const p of probers)
      expect(p.syscalls.find((s) => s.syscall === 'newfstatat')?.errors[0]?.name).toBe('ENOENT');
  }, 240_000);
});
