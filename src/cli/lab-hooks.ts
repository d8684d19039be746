/**
 * What `lab run` and `demo` add to the lab's measurements: a system-wide recording while the
 * unfixed containers run (kept as a run in the store), the same analysis a user would run on it,
 * done blind, and the finding printed next to the ground truth the lab knows; plus the report.
 */
import { join } from 'node:path';
import type { Finding } from '../analysis/findings.ts';
import { type RunInfo, recordRun } from '../collect/recorder.ts';
import type { ScenarioResult } from '../lab/types.ts';
import { renderFindings } from '../report/findings-text.ts';
import { writeHtmlReport } from '../report/html/html-report.ts';
import { RunStore, storeLocation } from '../store/store.ts';
import { analyzeLoaded } from './analyze.ts';
import { REPORT_HTML } from './doctor.ts';
import { oneLine } from './errors.ts';
import { writeHtml } from './html.ts';
import { loadInput } from './inputs.ts';
import type { LabFlags, LabHooks } from './lab.ts';

export type LabRecording = { run: RunInfo } | { failed: string };

export function labHooks(): LabHooks<LabRecording> {
  return {
    async onContended(ctx, flags) {
      const store = new RunStore(storeLocation(flags.store).root);
      try {
        const run = await recordRun({
          durationSeconds: ctx.durationSeconds,
          callGraph: flags.callGraph === 'dwarf' ? 'dwarf' : 'fp',
          label: 'lab',
          store,
          stop: ctx.signal,
        });
        return { run };
      } catch (e) {
        return { failed: e instanceof Error ? e.message : String(e) };
      }
    },
    async describe(result, flags) {
      const rec = result.contended?.value;
      if (!rec) return ['no recording was made (the contended phase did not run)'];
      if ('failed' in rec) return [`recording failed, so there is no diagnosis: ${oneLine(rec.failed)}`];
      return describeRun(result, rec.run, flags);
    },
  };
}

async function describeRun(
  result: ScenarioResult<LabRecording>,
  run: RunInfo,
  flags: LabFlags,
): Promise<string[]> {
  const loaded = await loadInput(run.dir, { store: flags.store });
  const { result: analysis, findings, attributions } = analyzeLoaded(loaded);
  const html = {
    kind: 'analysis',
    profile: loaded.profile,
    result: analysis,
    findings,
    counters: loaded.counters,
    attributions,
    lab: result,
    title: `crosstalk lab run ${result.scenario}`,
  } as const;
  const report = join(run.dir, REPORT_HTML);
  await writeHtmlReport(report, html);
  if (flags.html !== undefined) await writeHtml(flags.html, html, flags.force);
  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  return [
    `Blind diagnosis of the recording made while the unfixed containers ran (run ${run.id}):`,
    '',
    ...renderFindings(findings.slice(0, 2), color),
    '',
    ...againstGroundTruth(result, findings[0]),
    '',
    `report: ${oneLine(report)}`,
  ];
}

/** The first finding next to what the lab knows to be true, item by item. */
export function againstGroundTruth(result: ScenarioResult<unknown>, f: Finding | undefined): string[] {
  const t = result.groundTruth;
  const mark = (ok: boolean) => (ok ? 'matches' : 'DIFFERS');
  const drivers = f
    ? [
        f.antagonist?.name ?? '',
        ...(f.sharedStorm
          ? f.victims.filter((v) => v.reasons.includes('shared-storm')).map((v) => v.name)
          : []),
      ]
    : [];
  const antagonistOk = drivers.some((d) => t.antagonists.includes(d));
  const victimOk = f
    ? f.victims.some((v) => v.name === t.victim) || (f.sharedStorm && drivers.includes(t.victim))
    : false;
  const rows: [string, string, string, boolean][] = [
    ['antagonist', drivers.filter(Boolean).join(', ') || '-', t.antagonists.join(', '), antagonistOk],
    ['syscall', f?.syscall ?? '-', t.syscall, f?.syscall === t.syscall],
    [
      'call site',
      f?.callSite?.function ?? f?.callSiteNote ?? '-',
      t.callSite,
      f?.callSite?.function === t.callSite,
    ],
    ['victim', f ? f.victims.map((v) => v.name).join(', ') || '-' : '-', t.victim, victimOk],
  ];
  return [
    'Finding vs ground truth:',
    ...rows.map(
      ([what, found, truth, ok]) =>
        `  ${what.padEnd(11)} found: ${oneLine(found).slice(0, 60).padEnd(60)} truth: ${oneLine(truth).padEnd(28)} ${mark(ok)}`,
    ),
  ];
}
