/**
 * A recorded run diagnosed as `doctor` does: alone, or against a baseline run (the `doctor
 * --baseline` path: diff, then the target's diagnosis with the baseline for growth). The report
 * JSON is written into the run beside the recording (report.json or report-diff.json); the HTML
 * report is left to `crosstalk analyze/diff --html` on demand, to keep the triggered layer cheap.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnalysisResult } from '../analysis/analyze.ts';
import type { SyscallRateRow } from '../analysis/diagnose.ts';
import type { Finding } from '../analysis/findings.ts';
import { analyzeLoaded } from '../cli/analyze.ts';
import { diffLoaded } from '../cli/diff.ts';
import { REPORT_DIFF_JSON, REPORT_JSON } from '../cli/doctor.ts';
import { loadInput } from '../cli/inputs.ts';
import { diffJson } from '../report/diff-json.ts';
import { analyzeJson, jsonText } from '../report/json.ts';

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
  if (baselineDir !== null) {
    const base = await loadInput(baselineDir, {});
    const r = diffLoaded(base, loaded);
    const report = join(runDir, REPORT_DIFF_JSON);
    await writeFile(report, jsonText(diffJson(r.diff, r.findings)), { mode: 0o600, flag: 'wx' });
    return { findings: r.findings, analysis: r.target, syscallRates: loaded.syscallRates, report };
  }
  const r = analyzeLoaded(loaded);
  const report = join(runDir, REPORT_JSON);
  await writeFile(report, jsonText(analyzeJson(r.result, r.findings)), { mode: 0o600, flag: 'wx' });
  return { findings: r.findings, analysis: r.result, syscallRates: loaded.syscallRates, report };
}
