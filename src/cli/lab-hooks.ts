/**
 * What `lab run` and `demo` add to the lab's measurements: a system-wide recording while the
 * unfixed containers run (kept as a run in the store), the same analysis a user would run on it,
 * done blind, and the finding printed next to the ground truth the lab knows; plus the report.
 */
import { join } from 'node:path';
import type { ContainerIdentity } from '../analysis/containers.ts';
import type { Finding } from '../analysis/findings.ts';
import { type ForeignLoad, foreignLoadOf } from '../analysis/foreign-load.ts';
import { type RunInfo, recordRun } from '../collect/recorder.ts';
import type { ScenarioResult } from '../lab/types.ts';
import { analyzeLoadedWithLines } from '../pipeline/analyze.ts';
import { loadInput } from '../pipeline/load.ts';
import { analysisReport } from '../pipeline/report.ts';
import { renderFindings } from '../report/findings-text.ts';
import { writeHtmlReport } from '../report/html/html-report.ts';
import { findingJson } from '../report/json.ts';
import { REPORT_HTML } from '../store/metadata.ts';
import { RunStore, storeLocation } from '../store/store.ts';
import { oneLine } from './errors.ts';
import { useColor } from './flags.ts';
import { writeHtml } from './html.ts';
import type { LabDescription, LabFlags, LabHooks } from './lab.ts';

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
          // The recorded phase measures no latency, so the cost of recording switches is not
          // the lab's concern; their evidence (who is blocked in the path) is.
          offCpu: true,
          stop: ctx.signal,
          onProgress: (p) => {
            if (p.phase === 'recording') ctx.recordingStarted();
          },
        });
        return { run };
      } catch (e) {
        return { failed: e instanceof Error ? e.message : String(e) };
      }
    },
    async describe(result, flags) {
      const rec = result.contended?.value;
      if (!rec) return { lines: ['no recording was made (the contended phase did not run)'] };
      if ('failed' in rec)
        return { lines: [`recording failed, so there is no diagnosis: ${oneLine(rec.failed)}`] };
      return describeRun(result, rec.run, flags);
    },
  };
}

async function describeRun(
  result: ScenarioResult<LabRecording>,
  run: RunInfo,
  flags: LabFlags,
): Promise<LabDescription> {
  const loaded = await loadInput(run.dir, { store: flags.store });
  const analyzed = await analyzeLoadedWithLines(loaded);
  const { findings } = analyzed;
  const html = analysisReport(loaded, analyzed, {
    lab: result,
    title: `crosstalk lab run ${result.scenario}`,
  });
  const report = join(run.dir, REPORT_HTML);
  await writeHtmlReport(report, html);
  if (flags.html !== undefined) await writeHtml(flags.html, html, flags.force);
  const color = useColor({});
  const own = ownNames(result);
  const foreign = foreignLoadOf(analyzed.result, own);
  const { compared, foreignFindings } = splitForeignFindings(findings, own);
  // The blame is checked: the first of the scenario's findings that names an antagonist (a
  // CPU-pressure or "nothing shows harm" line before it names no one).
  const blamed = findings.find((f) => f.antagonist !== null && own.has(f.antagonist.name));
  const check = againstGroundTruth(result, blamed ?? compared);
  if (result.engine !== null) check.push(engineNamesCheck(result, analyzed.result.containers));
  return {
    lines: [
      `Blind diagnosis of the recording made while the unfixed containers ran (run ${run.id}):`,
      ...foreignLines(foreign, foreignFindings),
      '',
      ...renderFindings(findings.slice(0, 2), color),
      '',
      'Finding vs ground truth:',
      ...check.map(
        (r) =>
          `  ${r.item.padEnd(11)} found: ${oneLine(r.found).slice(0, 60).padEnd(60)} truth: ${oneLine(r.truth).padEnd(28)} ${r.matches ? 'matches' : 'DIFFERS'}`,
      ),
      '',
      `report: ${oneLine(report)}`,
    ],
    data: {
      run: run.id,
      runDir: run.dir,
      report,
      findings: findings.map(findingJson),
      groundTruthCheck: check,
      foreignLoad: foreign,
    },
  };
}

/**
 * On an engine: every engine container with samples in the recording carries the engine's name,
 * the short-lived `--rm` one of the window included (named from the engine's events).
 */
export function engineNamesCheck(
  result: ScenarioResult<unknown>,
  containers: readonly { identity: ContainerIdentity }[],
): GroundTruthCheck {
  const engine = result.engine ?? '';
  const ours = containers.map((c) => c.identity).filter((i) => i.runtime === engine);
  const unnamed = ours.filter((i) => i.name === i.shortId);
  const named = ours.filter((i) => i.name !== i.shortId).map((i) => i.name);
  const batch = named.find((n) => n.endsWith('-batch'));
  return {
    item: 'names',
    found: `${named.length} of ${ours.length} ${engine} containers named${batch ? ` (incl. ${batch})` : ''}`,
    truth: `every ${engine} container named`,
    matches: ours.length > 0 && unnamed.length === 0,
  };
}

/**
 * A finding that blames a container outside the scenario is about other load on the host, not
 * about the scenario: it is shown, said to be foreign, and left out of the ground-truth comparison,
 * which takes the first finding that does not.
 */
export function splitForeignFindings(
  findings: readonly Finding[],
  own: ReadonlySet<string>,
): { compared: Finding | undefined; foreignFindings: Finding[] } {
  const isForeign = (f: Finding) => f.antagonist !== null && !own.has(f.antagonist.name);
  return { compared: findings.find((f) => !isForeign(f)), foreignFindings: findings.filter(isForeign) };
}

/** One line for other load on the host, one per finding that blames it. */
function foreignLines(load: ForeignLoad[], blamed: Finding[]): string[] {
  const lines: string[] = [];
  if (load.length > 0) {
    const who = (name: string) => (name === 'host' ? 'processes outside any container' : oneLine(name));
    const list = load.map((l) => `${who(l.name)} ${(100 * l.busyShare).toFixed(0)}%`).join(', ');
    lines.push(
      `foreign load: ${list} of the host's CPU time during the recording came from outside the scenario; latencies and findings are measured beside it`,
    );
  }
  for (const f of blamed)
    lines.push(
      `foreign finding, not compared with the ground truth: ${f.severity.toUpperCase()} ${oneLine(f.title).slice(0, 80)} (blames ${oneLine(f.antagonist?.name ?? '')}, not part of the scenario)`,
    );
  return lines;
}

/**
 * The scenario's own containers as the analysis names them: the engine's names on an engine,
 * with the short-lived batch container, else the lab's.
 */
function ownNames(result: ScenarioResult<unknown>): Set<string> {
  const own = new Set(result.containers.map((c) => c.engineName ?? c.name));
  const first = result.containers[0];
  if (first?.engineName !== undefined)
    own.add(`${first.engineName.slice(0, first.engineName.length - first.name.length)}batch`);
  return own;
}

export interface GroundTruthCheck {
  item: 'antagonist' | 'syscall' | 'call site' | 'victim' | 'names';
  found: string;
  truth: string;
  matches: boolean;
}

/** The first finding next to what the lab knows to be true, item by item. */
export function againstGroundTruth(
  result: ScenarioResult<unknown>,
  f: Finding | undefined,
): GroundTruthCheck[] {
  const t = result.groundTruth;
  const drivers = f
    ? [
        f.antagonist?.name ?? '',
        ...(f.sharedStorm
          ? f.victims.filter((v) => v.reasons.includes('shared-storm')).map((v) => v.name)
          : []),
      ]
    : [];
  const antagonistOk = drivers.some((d) => t.antagonists.includes(d));
  // A victim that drives the problem too (in fadvise-logger every copy logs) is rightly found
  // among the drivers: as one of a shared storm, or as the antagonist when its copies drifted
  // apart (on an oversubscribed host, one copy's calls can outnumber the others' twice over).
  const victimDrives = f !== undefined && (f.sharedStorm || t.antagonists.includes(t.victim));
  const namedVictim = f?.victims.some((v) => v.name === t.victim) ?? false;
  const asDriver = !namedVictim && victimDrives && drivers.includes(t.victim);
  return [
    {
      item: 'antagonist',
      found: drivers.filter(Boolean).join(', ') || '-',
      truth: t.antagonists.join(', '),
      matches: antagonistOk,
    },
    {
      item: 'syscall',
      found: f?.syscall ?? '-',
      truth: t.syscall ?? '-',
      matches: f !== undefined && f.syscall === t.syscall,
    },
    {
      item: 'call site',
      found: f?.callSite?.function ?? f?.callSiteNote ?? '-',
      truth: t.callSite ?? '-',
      matches: f !== undefined && (f.callSite?.function ?? null) === t.callSite,
    },
    {
      item: 'victim',
      found: `${f ? f.victims.map((v) => v.name).join(', ') || '-' : '-'}${asDriver ? `; ${t.victim} as a driver` : ''}`,
      truth: t.victim,
      matches: namedVictim || asDriver,
    },
  ];
}
