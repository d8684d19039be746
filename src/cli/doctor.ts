/**
 * `crosstalk doctor`: record the host, analyse the run, print the findings and where the report
 * is, and exit by the worst finding's severity (0 none, 10 info, 11 warning, 12 critical), so a
 * script or a CI job can act on it. Ctrl-C during the recording stops it early and the analysis
 * runs on what was recorded; a second Ctrl-C aborts (the run is kept, never deleted).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { type Finding, worstSeverity } from '../analysis/findings.ts';
import { analyzeLoadedWithLines } from '../pipeline/analyze.ts';
import { diffLoadedWithLines } from '../pipeline/diff.ts';
import { checkInputRef, loadInput } from '../pipeline/load.ts';
import { analysisReport, diffReport } from '../pipeline/report.ts';
import { diffJson } from '../report/diff-json.ts';
import { renderDiff } from '../report/diff-text.ts';
import { type HtmlReportInput, writeHtmlReport } from '../report/html/html-report.ts';
import { analyzeJson, jsonText } from '../report/json.ts';
import { renderAnalysis } from '../report/terminal.ts';
import { REPORT_DIFF_JSON, REPORT_HTML, REPORT_JSON } from '../store/metadata.ts';
import { oneLine } from './errors.ts';
import { ExitCode, SeverityExitCode } from './exit-codes.ts';
import { useColor } from './flags.ts';
import { writeHtml, writeOutput } from './html.ts';
import { progress } from './progress.ts';
import { exitCodeOf, type RecordFlags, recordFromFlags, withRecordingOptions } from './record.ts';

interface DoctorFlags extends RecordFlags {
  html?: string;
  force?: boolean;
  baseline?: string;
  color?: boolean;
}

export function registerDoctor(program: Command): void {
  withRecordingOptions(
    program
      .command('doctor')
      .description(
        'record the host, find which neighbour, syscall and code slows containers down, and say what to change',
      ),
  )
    .option('--baseline <run>', 'a healthy run (id, label or directory) to compare with')
    .option(
      '--json',
      'print the report as JSON: schema/analyze.schema.json, or with --baseline schema/diff.schema.json',
    )
    .option(
      '--html <file>',
      'also write the HTML report here (it is always written into the run as report.html)',
    )
    .option('--force', 'replace the --html file if it exists')
    .option('--no-color', 'no ANSI colours')
    .action(async (flags: DoctorFlags) => {
      // Arguments are checked before the window: a wrong baseline must not cost a recording.
      if (flags.baseline !== undefined) await checkInputRef(flags.baseline, flags.store);
      const info = await recordFromFlags(flags, !flags.json);
      // Ctrl-C twice means stop: the run is kept (incomplete), and perf's unfinished file is not analysed.
      if (exitCodeOf(info) === ExitCode.interrupted) {
        process.exitCode = ExitCode.interrupted;
        return;
      }
      const bar = progress('decoding the recording');
      let loaded: Awaited<ReturnType<typeof loadInput>>;
      try {
        // Its own recording: every sample record must come through perf script once (no forged ones).
        loaded = await loadInput(info.dir, {
          store: flags.store,
          onProgress: (f) => bar.update(f),
          strictSampleCount: true,
        });
      } finally {
        bar.done();
      }
      const color = useColor(flags);
      let findings: Finding[];
      let doc: string;
      let text: string;
      let html: HtmlReportInput;
      if (flags.baseline !== undefined) {
        const base = await loadInput(flags.baseline, { store: flags.store });
        const r = await diffLoadedWithLines(base, loaded);
        findings = r.findings;
        const latency = { baseline: r.baseline.syscallLatency, target: r.target.syscallLatency };
        doc = jsonText(diffJson(r.diff, findings, latency));
        text = renderDiff(r.diff, findings, { color });
        html = diffReport(base, loaded, r);
      } else {
        const r = await analyzeLoadedWithLines(loaded);
        findings = r.findings;
        doc = jsonText(analyzeJson(r.result, findings));
        text = renderAnalysis(r.result, { color }, findings);
        html = analysisReport(loaded, r);
      }
      const json = join(info.dir, flags.baseline !== undefined ? REPORT_DIFF_JSON : REPORT_JSON);
      await writeOutput(json, doc);
      const report = join(info.dir, REPORT_HTML);
      await writeHtmlReport(report, html);
      if (flags.html !== undefined) await writeHtml(flags.html, html, flags.force);
      if (flags.json) process.stdout.write(doc);
      else process.stdout.write(`${text}\nreport: ${oneLine(report)}\n`);
      if (info.status !== 'complete') {
        process.stderr.write(
          `crosstalk: warning: the run is incomplete (${oneLine(info.incompleteReason ?? '')})\n`,
        );
      }
      const worst = worstSeverity(findings);
      process.exitCode = worst === 'none' ? ExitCode.ok : SeverityExitCode[worst];
    });
}
