/**
 * `--html FILE`: one self-contained HTML report of an analysis (analyze, doctor, lab runs) or of a
 * diff. The data part is the `analyze --json` document plus the flame tree, the timeline and the
 * run's metadata; the page (page.ts) carries the browser app (app/) inline.
 */
import type { AnalysisResult } from '../../analysis/analyze.ts';
import type { CounterSet } from '../../analysis/counters.ts';
import type { DiffResult } from '../../analysis/diff.ts';
import type { HostFinding } from '../../analysis/findings.ts';
import type { ReportViews } from '../../analysis/report-views.ts';
import type { ScenarioResult } from '../../lab/types.ts';
import { analyzeJson } from '../json.ts';
import { reportAppAssets } from './app-assets.ts';
import { counterDeltaRows, counterRows, diffSummary, labSummary, metadataRows } from './metadata.ts';
import { reportPage } from './page.ts';
import { REPORT_DATA_VERSION, type ReportData } from './report-data.ts';
import { type WriteReportOptions, writeReportFile } from './write-file.ts';

interface CommonInput {
  /** Page heading. Default: "crosstalk: <input source>". */
  title?: string;
  /** Kernel counters the run captured (loadInput's `counters`). Default: none. */
  counters?: CounterSet | null;
  /** A lab run's measured phases and ground truth, shown with the findings. Default: none. */
  lab?: ScenarioResult<unknown> | null;
  /** The flame tree and timeline (analysis/report-views.ts reportViews). */
  views: ReportViews;
  /** Shown as the generation time. Default: now. */
  generatedAt?: Date;
}

/** analyze, doctor, lab run: one profile and its analysis. */
export interface AnalysisReportInput extends CommonInput {
  kind: 'analysis';
  result: AnalysisResult;
  findings: HostFinding[];
}

/**
 * diff: `target` and `baseline` are the two analyses; the views are of the differential profile
 * (analysis/diff-profile.ts diffProfile: target weights positive, baseline negative, both normalised).
 */
export interface DiffReportInput extends CommonInput {
  kind: 'diff';
  target: AnalysisResult;
  baseline: AnalysisResult;
  findings: HostFinding[];
  diff?: DiffResult | null;
}

export type HtmlReportInput = AnalysisReportInput | DiffReportInput;

/** The document the page embeds. Pure apart from reading the clock when `generatedAt` is unset. */
export function buildReportData(input: HtmlReportInput): ReportData {
  const main = input.kind === 'diff' ? input.target : input.result;
  const results = input.kind === 'diff' ? [input.target, input.baseline] : [input.result];
  const analysis = analyzeJson(main, input.findings);
  const nameOf = new Map(results.flatMap((r) => r.containers.map((c) => [c.identity.id, c.identity.name])));
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
    flame: input.views.flame,
    timeline: input.views.timeline,
    metadata: metadataRows(
      analysis.input,
      input.kind === 'diff'
        ? [
            { label: 'baseline', value: input.baseline.input.source },
            { label: 'baseline samples', value: input.baseline.input.samples.toLocaleString('en-US') },
          ]
        : [],
    ),
    counters:
      input.kind === 'diff'
        ? counterDeltaRows(input.diff)
        : counterRows(input.counters, (id) => nameOf.get(id) ?? id),
    lab: labSummary(input.lab),
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
