/**
 * `--html FILE`: one self-contained HTML report of an analysis (analyze, doctor, lab runs) or of a
 * diff. The data part is the `analyze --json` document plus the flame tree, the timeline and the
 * run's metadata; the page (page.ts) carries the browser app (app/) inline.
 */
import type { AnalysisResult } from '../../analysis/analyze.ts';
import { Attributions } from '../../analysis/attribute.ts';
import type { CounterSet } from '../../analysis/counters.ts';
import type { DiffResult } from '../../analysis/diff.ts';
import type { Finding } from '../../analysis/findings.ts';
import type { ScenarioResult } from '../../lab/types.ts';
import type { Profile } from '../../model/profile.ts';
import { analyzeJson, type HostFinding, latencyJson } from '../json.ts';
import { reportAppAssets } from './app-assets.ts';
import { buildFlameTree, type FlameTreeOptions } from './flame-tree.ts';
import { counterRows, diffSummary, labSummary, metadataRows } from './metadata.ts';
import { reportPage } from './page.ts';
import { type ReportContainer, reportKey } from './report-containers.ts';
import { REPORT_DATA_VERSION, type ReportData } from './report-data.ts';
import { timelineOf } from './timeline.ts';
import { type WriteReportOptions, writeReportFile } from './write-file.ts';

interface CommonInput {
  /** Page heading. Default: "crosstalk: <input source>". */
  title?: string;
  /** Kernel counters the run captured (loadInput's `counters`). Default: none. */
  counters?: CounterSet | null;
  /** A lab run's measured phases and ground truth, shown with the findings. Default: none. */
  lab?: ScenarioResult<unknown> | null;
  /** Flame-graph pruning. Default: flame-tree.ts defaults. */
  flame?: Omit<FlameTreeOptions, 'containers'>;
  /** Stack attributions of `profile` to reuse. Default: computed. */
  attributions?: Attributions;
  /** Shown as the generation time. Default: now. */
  generatedAt?: Date;
}

/** analyze, doctor, lab run: one profile and its analysis. */
export interface AnalysisReportInput extends CommonInput {
  kind: 'analysis';
  profile: Profile;
  result: AnalysisResult;
  findings: HostFinding[];
}

/**
 * diff: `profile` is the differential profile (analysis/diff-profile.ts diffProfile: target weights
 * positive, baseline negative, both normalised); `target` and `baseline` are the two analyses.
 */
export interface DiffReportInput extends CommonInput {
  kind: 'diff';
  profile: Profile;
  target: AnalysisResult;
  baseline: AnalysisResult;
  findings: HostFinding[];
  diff?: DiffResult | null;
}

export type HtmlReportInput = AnalysisReportInput | DiffReportInput;

/** The analyses' containers as the report keys them (host, id, name, cgroups). */
export function reportContainers(results: AnalysisResult[]): ReportContainer[] {
  return results.flatMap((r) =>
    r.containers.map((c) => ({ id: c.identity.id, name: c.identity.name, host: c.host, cgroups: c.cgroups })),
  );
}

/** Findings' syscalls first, then the heaviest, six at most. */
function timelineSyscalls(a: AnalysisResult, findings: Finding[]): string[] {
  const names = [
    ...findings.flatMap((f) => (f.syscall ? [f.syscall] : [])),
    ...a.syscalls.map((s) => s.name),
  ];
  return [...new Set(names)].slice(0, 6);
}

/** The document the page embeds. Pure apart from reading the clock when `generatedAt` is unset. */
export function buildReportData(input: HtmlReportInput): ReportData {
  const main = input.kind === 'diff' ? input.target : input.result;
  const results = input.kind === 'diff' ? [input.target, input.baseline] : [input.result];
  const containers = reportContainers(results);
  const analysis = analyzeJson(main, input.findings);
  const attributions = input.attributions ?? new Attributions(input.profile);
  const nameOf = new Map(containers.map((c) => [c.id, c.name]));
  return {
    version: REPORT_DATA_VERSION,
    kind: input.kind,
    title:
      input.title ??
      (input.kind === 'diff'
        ? `crosstalk diff: ${input.baseline.input.source} -> ${input.target.input.source}`
        : `crosstalk: ${main.input.source}`),
    generatedAt: (input.generatedAt ?? new Date()).toISOString(),
    analysis,
    diff: input.kind === 'diff' ? diffSummary(input.diff) : null,
    flame: buildFlameTree(input.profile, { ...input.flame, containers }),
    timeline: timelineOf(input.profile, {
      containers,
      attributions,
      syscalls: timelineSyscalls(main, input.findings),
      findingSyscalls: input.findings.flatMap((f) => (f.syscall ? [f.syscall] : [])),
      antagonists: input.findings.flatMap((f) =>
        f.antagonist ? [reportKey(f.host ?? '', f.antagonist.container)] : [],
      ),
      victims: input.findings.flatMap((f) => f.victims.map((v) => reportKey(f.host ?? '', v.container))),
      positiveOnly: input.kind === 'diff',
    }),
    metadata: metadataRows(
      analysis.input,
      input.kind === 'diff'
        ? [
            { label: 'baseline', value: input.baseline.input.source },
            { label: 'baseline samples', value: input.baseline.input.samples.toLocaleString('en-US') },
          ]
        : [],
    ),
    counters: counterRows(input.counters, (id) => nameOf.get(id) ?? id),
    lab: labSummary(input.lab),
    latencyBaseline: input.kind === 'diff' ? latencyJson(input.baseline.syscallLatency) : null,
  };
}

/** The whole page as text. */
export function renderHtmlReport(input: HtmlReportInput): string {
  return reportPage(buildReportData(input), reportAppAssets());
}

/**
 * Writes the report to `file` with mode 0600 (it holds host process names and paths). An
 * existing file is never replaced unless `force`: ReportExistsError then. Returns the bytes written.
 */
export async function writeHtmlReport(
  file: string,
  input: HtmlReportInput,
  opts: WriteReportOptions = {},
): Promise<{ bytes: number }> {
  return writeReportFile(file, renderHtmlReport(input), opts);
}
