/**
 * What the end-to-end tests that compare a victim alone with the victim beside neighbours share:
 * a system-wide perf recording, `analyze --json` and `diff --json` of a baseline/contended pair
 * through the CLI (parsed with the public schemas), container ids by cgroup path, and the argv of
 * a lab scenario's containers.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { BuiltWorkloads } from '../../src/lab/native-build.ts';
import type { ScenarioContainer, ScenarioDefinition } from '../../src/lab/scenario.ts';
import { type DiffJson, diffSchema } from '../../src/report/diff-schema.ts';
import { type AnalyzeJson, analyzeSchema } from '../../src/report/schema.ts';
import { runCli } from './cli.ts';

export const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `perf record -a --all-cgroups` for `seconds`, with fp or DWARF call graphs. */
export function recordSystemWide(
  file: string,
  opts: { callGraph: 'fp' | 'dwarf'; frequency: number; seconds?: number },
): void {
  const graph = opts.callGraph === 'dwarf' ? ['--call-graph', 'dwarf,16384'] : ['--call-graph', 'fp'];
  const args = ['record', '-q', '-a', '--all-cgroups', ...graph, '-F', String(opts.frequency), '-o', file];
  execFileSync('perf', [...args, '--', 'sleep', String(opts.seconds ?? 2)], { stdio: 'ignore' });
}

/** `analyze --json CONTENDED` and `diff --json BASELINE CONTENDED`, both exiting 0, parsed. */
export async function analyzeAndDiff(
  baseline: string,
  contended: string,
): Promise<{ analyze: AnalyzeJson; diff: DiffJson }> {
  const a = await runCli(['analyze', '--json', contended]);
  expect(a.code, a.stderr).toBe(0);
  const d = await runCli(['diff', '--json', baseline, contended]);
  expect(d.code, d.stderr).toBe(0);
  return {
    analyze: analyzeSchema.parse(JSON.parse(a.stdout)),
    diff: diffSchema.parse(JSON.parse(d.stdout)),
  };
}

/** The report's container id for a cgroup path (undefined when the report has no such container). */
export function containerIdOf(
  report: Pick<AnalyzeJson, 'containers'>,
  cgroupPath: string,
): string | undefined {
  return report.containers.find((x) => x.cgroup === cgroupPath)?.id;
}

/** A lab scenario's containers with their directories made, and the argv of each (by index). */
export function scenarioWorkloads(
  s: ScenarioDefinition,
  bins: BuiltWorkloads,
  work: string,
  count = s.defaults.containers,
): {
  containers: ScenarioContainer[];
  argv: (i: number, variant: 'fixed' | 'unfixed') => string[];
} {
  const containers = s.containers(count);
  for (const x of containers) mkdirSync(join(work, x.name), { recursive: true });
  s.prepare?.(work, containers);
  const argv = (i: number, variant: 'fixed' | 'unfixed') =>
    s.workload({
      bins,
      workDir: work,
      containerDir: join(work, containers[i].name),
      container: containers[i],
      variant,
      index: i,
    });
  return { containers, argv };
}
