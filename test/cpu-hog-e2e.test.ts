/**
 * The cpu-hog lab scenario, diagnosed blind from its recordings: a neighbour with eight busy
 * user-space worker processes per CPU next to a CPU-bound service. The victim alone and the contended phase
 * are each recorded system-wide with context switches, with frame-pointer and with DWARF call
 * graphs; `analyze` of the contended run and `diff` of alone vs contended must name the hog as the
 * antagonist of a runqueue-contention finding with the service among its victims, and no finding
 * may name the service as an antagonist. The host is shared (other suites, other processes): the
 * test names its containers by cgroup and asserts nothing about what else ran. Needs root, perf,
 * cc and cgroup v2; skips with the reason.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordRun } from '../src/collect/recorder.ts';
import { cgroupSupport } from '../src/lab/cgroupfs.ts';
import { runScenario } from '../src/lab/runner.ts';
import type { ScenarioResult } from '../src/lab/types.ts';
import { diffSchema } from '../src/report/diff-schema.ts';
import { type AnalyzeJson, analyzeSchema } from '../src/report/schema.ts';
import { RunStore } from '../src/store/store.ts';
import { tallyAccusations } from './support/accusations.ts';
import { runCli } from './support/cli.ts';

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (perf record -a, cgroup creation)';
  if (spawnSync('perf', ['--version']).status !== 0) return 'perf is not installed';
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler (cc)';
  const cg = cgroupSupport();
  if (!cg.ok) return `needs cgroup v2: ${cg.reason}`;
  return null;
}
const reason = skipReason();

type Mode = 'fp' | 'dwarf';
const modes: Mode[] = ['fp', 'dwarf'];
/** Seconds per recording: enough switches (thousands) for the matrix, short for CI. */
const RECORD_SECONDS = 1;

type Finding = AnalyzeJson['findings'][number];

describe.skipIf(reason !== null)(`cpu-hog, diagnosed blind${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-cpuhog-'));
  const store = new RunStore(join(dir, 'store'));
  const runs: Record<'alone' | 'contended', Partial<Record<Mode, string>>> = { alone: {}, contended: {} };
  let result: ScenarioResult<void>;
  const analyzed = new Map<Mode, AnalyzeJson>();
  const diffed = new Map<Mode, ReturnType<typeof diffSchema.parse>>();

  async function recordBoth(into: Partial<Record<Mode, string>>, signal: AbortSignal): Promise<void> {
    for (const mode of modes) {
      const run = await recordRun({
        durationSeconds: RECORD_SECONDS,
        callGraph: mode,
        store,
        offCpu: true,
        stop: signal,
      });
      into[mode] = run.dir;
    }
  }

  beforeAll(async () => {
    result = await runScenario('cpu-hog', {
      durationSeconds: 0.5,
      runs: 1,
      warmupSeconds: 0.2,
      waitSeconds: 300,
      onSignal: 'throw',
      onAlone: (ctx) => recordBoth(runs.alone, ctx.signal),
      onContended: (ctx) => recordBoth(runs.contended, ctx.signal),
    });
    // The four diagnoses run side by side: reading a DWARF perf.data waits on perf as much as on CPU.
    await Promise.all(
      modes.map(async (mode) => {
        const [a, d] = await Promise.all([
          runCli(['analyze', '--json', runs.contended[mode]!]),
          runCli(['diff', '--json', runs.alone[mode]!, runs.contended[mode]!]),
        ]);
        expect(a.code, a.stderr).toBe(0);
        analyzed.set(mode, analyzeSchema.parse(JSON.parse(a.stdout)));
        expect(d.code, d.stderr).toBe(0);
        diffed.set(mode, diffSchema.parse(JSON.parse(d.stdout)));
      }),
    );
    // For the closing note of a session: CPU_HOG_E2E_OUT=<file> keeps the matrix and the findings.
    const out = process.env.CPU_HOG_E2E_OUT;
    if (out) {
      const summary = modes.map((mode) => ({
        mode,
        matrix: analyzed.get(mode)?.offCpu?.preemption,
        analyze: analyzed.get(mode)?.findings.map((f) => [f.title, f.antagonist?.name ?? null, f.confidence]),
        diff: diffed.get(mode)?.findings.map((f) => [f.title, f.antagonist?.name ?? null, f.confidence]),
      }));
      writeFileSync(out, JSON.stringify({ containers: result.containers, summary }, null, 2));
    }
  }, 240_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const idOf = (a: AnalyzeJson, role: 'victim' | 'neighbour') => {
    const c = result.containers.find((x) => x.role === role)!;
    return a.containers.find((x) => x.cgroup === c.cgroupPath)?.id ?? `missing ${c.cgroupPath}`;
  };

  function expectHogNamed(findings: Finding[], hog: string, victim: string): void {
    tallyAccusations(`cpu-hog: ${expect.getState().currentTestName}`, findings, [victim]);
    const accusing = findings.filter((f) => f.antagonist !== null);
    // Never the victim, in any finding.
    expect(accusing.map((f) => f.antagonist!.container)).not.toContain(victim);
    const f = findings.find((x) => x.signature === 'runqueue-contention' && x.antagonist?.container === hog);
    expect(f, JSON.stringify(findings.map((x) => [x.title, x.antagonist?.name]))).toBeDefined();
    expect(f!.victims).toContain(victim);
    expect(f!.victimDetails.find((v) => v.container === victim)?.reasons).toContain('preemption');
    // The first finding that accuses anyone accuses the hog.
    expect(accusing[0].antagonist!.container).toBe(hog);
  }

  describe.each(modes)('%s call graphs', (mode) => {
    it('analyze contended: the hog held the CPUs the service waited for; the matrix says so', () => {
      const a = analyzed.get(mode)!;
      const hog = idOf(a, 'neighbour');
      const victim = idOf(a, 'victim');
      expectHogNamed(a.findings, hog, victim);
      const row = a.offCpu!.preemption!.victims.find((v) => v.id === victim)!;
      const behindHog = row.waits.find((w) => w.culprit === hog)!;
      expect(behindHog.kind).toBe('foreign');
      expect(behindHog.seconds / (row.runnableSeconds + row.onCpuSeconds)).toBeGreaterThanOrEqual(0.1);
    });

    it('diff alone contended: the same, with the baseline runnable share as evidence', () => {
      const d = diffed.get(mode)!;
      const a = analyzed.get(mode)!;
      const hog = idOf(a, 'neighbour');
      const victim = idOf(a, 'victim');
      expectHogNamed(d.findings, hog, victim);
      const f = d.findings.find((x) => x.antagonist?.container === hog)!;
      const share = f.evidence.find(
        (e) => e.container === victim && e.metric.startsWith('runnable share of '),
      )!;
      expect(share.baseline).not.toBeNull();
      expect(share.value).toBeGreaterThan(share.baseline!);
    });
  });
});
