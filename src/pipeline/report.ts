/**
 * The HTML report's input: the analysis (or diff) with the views analysis computes for it (the
 * flame tree and the timeline); report/html renders it.
 */
import { diffProfile } from '../analysis/diff-profile.ts';
import { diffLabels, reportViews } from '../analysis/report-views.ts';
import type { AnalysisReportInput, DiffReportInput } from '../report/html/html-report.ts';
import type { Analyzed } from './analyze.ts';
import type { Diffed } from './diff.ts';
import type { LoadedInput } from './load.ts';

type Extra = Pick<AnalysisReportInput, 'lab' | 'title' | 'generatedAt'>;

/** analyze, doctor, lab run: the report of one loaded input and its analysis. */
export function analysisReport(loaded: LoadedInput, a: Analyzed, extra: Extra = {}): AnalysisReportInput {
  const views = reportViews({ kind: 'analysis', labels: a.labels, main: a.result, findings: a.findings });
  return {
    kind: 'analysis',
    result: a.result,
    findings: a.findings,
    counters: loaded.counters,
    views,
    ...extra,
  };
}

/** diff, doctor --baseline: the report of a diff, with a differential flame graph. */
export function diffReport(base: LoadedInput, target: LoadedInput, d: Diffed): DiffReportInput {
  const profile = diffProfile(base.profile, target.profile, d.diff.pairing);
  const labels = diffLabels(profile, d.target, d.baseline);
  const views = reportViews({ kind: 'diff', labels, main: d.target, findings: d.findings });
  return { kind: 'diff', target: d.target, baseline: d.baseline, findings: d.findings, diff: d.diff, views };
}
