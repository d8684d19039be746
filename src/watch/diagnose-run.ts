/**
 * A recorded run diagnosed as `doctor` does, through the pipeline: alone, or against a baseline
 * run (the `doctor --baseline` path: diff, then the target's diagnosis with the baseline for
 * growth). The report JSON is written into the run (report.json or report-diff.json, as doctor
 * names them); the HTML report is left to `crosstalk analyze/diff --html` on demand, so the
 * triggered layer stays cheap.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnalysisResult } from '../analysis/analyze.ts';
import type { SyscallRateRow } from '../analysis/diagnose.ts';
import type { Finding } from '../analysis/findings.ts';
import { analyzeLoadedWithLines } from '../pipeline/analyze.ts';
import { diffLoadedWithLines } from '../pipeline/diff.ts';
import { loadInput } from '../pipeline/load.ts';
import { diffJson } from '../report/diff-json.ts';
import { analyzeJson, jsonText } from '../report/json.ts';
import { FILE_MODE } from '../safety/atomic-file.ts';
import { REPORT_DIFF_JSON, REPORT_JSON } from '../store/metadata.ts';

export interface RunDiagnosis {
  findings: Finding[];
  analysis: AnalysisResult;
  /** Per-cgroup syscall rates the recording counted, if any. */
  syscallRates: SyscallRateRow[] | null;
  /** The report file written into the run. */
  report: string;
}

export async function diagnoseRun(runDir: string, baselineDir: string | null): Promise<RunDiagnosis> {
  const loaded = await loadInput(runDir, {});
  const rates = loaded.syscallRates;
  if (baselineDir !== null) {
    const base = await loadInput(baselineDir, {});
    const r = await diffLoadedWithLines(base, loaded);
    const report = join(runDir, REPORT_DIFF_JSON);
    // The victim side of both windows (syscall-latency.json), as doctor --baseline writes it.
    const latency = { baseline: r.baseline.syscallLatency, target: r.target.syscallLatency };
    await writeFile(report, jsonText(diffJson(r.diff, r.findings, latency)), { mode: FILE_MODE, flag: 'wx' });
    return { findings: r.findings, analysis: r.target, syscallRates: rates, report };
  }
  const r = await analyzeLoadedWithLines(loaded);
  const report = join(runDir, REPORT_JSON);
  await writeFile(report, jsonText(analyzeJson(r.result, r.findings)), { mode: FILE_MODE, flag: 'wx' });
  return { findings: r.findings, analysis: r.result, syscallRates: rates, report };
}
