/**
 * What the HTML report draws besides the JSON document: the flame graph's call tree with a view
 * per container, and the timeline of kernel time per container and syscall, with the findings'
 * antagonists, victims and syscalls marked. Containers are the analyses' (their names and hosts).
 */
import type { AnalysisResult } from './analyze.ts';
import { containerOf } from './containers.ts';
import type { Finding, HostFinding } from './findings.ts';
import { buildFlameTree, type FlameTreeOptions } from './flame-tree.ts';
import { containerKey, type Identify, labelSamples, type SampleLabels } from './sample-labels.ts';
import { timelineOf } from './timeline.ts';
import type { FlameData, TimelineData } from './view-data.ts';

export interface ReportViews {
  flame: FlameData;
  timeline: TimelineData | null;
}

export interface ReportViewsInput {
  /** analysis: one profile; diff: the differential profile (diff-profile.ts), target positive. */
  kind: 'analysis' | 'diff';
  /** Labels of the profile drawn: analyze's own for `analysis`, identifyFrom(results) for a diff. */
  labels: SampleLabels;
  /** The analysis shown (the target's, in a diff). */
  main: AnalysisResult;
  /** Findings, with the host they were made on for several hosts. */
  findings: HostFinding[];
  /** Flame-graph pruning. Default: flame-tree.ts defaults. */
  flame?: FlameTreeOptions;
}

/** (host, cgroup path) -> the container the analyses listed it under; others by containerOf. */
export function identifyFrom(results: AnalysisResult[]): Identify {
  const listed = new Map<string, AnalysisResult['containers'][number]['identity']>();
  for (const r of results)
    for (const c of r.containers) for (const cg of c.cgroups) listed.set(`${c.host}\u0000${cg}`, c.identity);
  return (host, path) => listed.get(`${host}\u0000${path}`) ?? containerOf(path);
}

/** Labels of a diff's differential profile, containers named as its two analyses name them. */
export function diffLabels(
  profile: SampleLabels['profile'],
  target: AnalysisResult,
  baseline: AnalysisResult,
) {
  return labelSamples(profile, { identify: identifyFrom([target, baseline]) });
}

/** Findings' syscalls first, then the heaviest, six at most. */
function timelineSyscalls(a: AnalysisResult, findings: Finding[]): string[] {
  const names = [
    ...findings.flatMap((f) => (f.syscall ? [f.syscall] : [])),
    ...a.syscalls.map((s) => s.name),
  ];
  return [...new Set(names)].slice(0, 6);
}

export function reportViews(input: ReportViewsInput): ReportViews {
  const { findings } = input;
  return {
    flame: buildFlameTree(input.labels, input.flame),
    timeline: timelineOf(input.labels, {
      syscalls: timelineSyscalls(input.main, findings),
      findingSyscalls: findings.flatMap((f) => (f.syscall ? [f.syscall] : [])),
      antagonists: findings.flatMap((f) =>
        f.antagonist ? [containerKey(f.host ?? '', f.antagonist.container)] : [],
      ),
      victims: findings.flatMap((f) => f.victims.map((v) => containerKey(f.host ?? '', v.container))),
      positiveOnly: input.kind === 'diff',
    }),
  };
}
