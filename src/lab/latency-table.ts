/**
 * Plain aligned text for lab results: the three-phase table, the 1-vs-N table of fadvise-logger,
 * the ground truth. Pure; colour comes from the caller's `style` (identity when not a TTY).
 */
import type { LatencySummary, PhaseResult, ScenarioResult, Spread } from './types.ts';

export interface TextStyle {
  bold(s: string): string;
  dim(s: string): string;
}

export const plainStyle: TextStyle = { bold: (s) => s, dim: (s) => s };

const unitOf: Record<string, string> = {
  'fadvise-logger': 'query',
  'negative-dentries': 'request (64 path lookups)',
  'fsync-storm': 'transaction (4 appends + fdatasync)',
  'cpu-hog': 'request (2 ms of computation)',
};

function us(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/** `22.7` for one run, `22.7 (21.9-23.4)` for several. */
function spread(s: Spread, runs: number): string {
  return runs > 1 ? `${us(s.median)} (${us(s.min)}-${us(s.max)})` : us(s.median);
}

/** Left-aligns the first column, right-aligns the others. */
export function alignRows(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('   '),
  );
}

function phaseRow(p: PhaseResult): string[] {
  const v = p.victim;
  return [
    p.label,
    String(p.containers),
    spread(v.p50Us, v.runs),
    spread(v.p90Us, v.runs),
    spread(v.p99Us, v.runs),
    spread(v.meanUs, v.runs),
    us(v.throughputPerSec.median),
  ];
}

/** The victim alone / with fixed neighbours / with unfixed neighbours (plus extra phases). */
export function phaseTable(r: ScenarioResult, style: TextStyle = plainStyle): string[] {
  const header = ['phase', 'containers', 'p50 us', 'p90 us', 'p99 us', 'mean us', 'per s'];
  const phases = [r.phases.alone, r.phases.fixed, r.phases.unfixed, ...r.extraPhases];
  const lines = alignRows([header, ...phases.map(phaseRow)]);
  const unit = unitOf[r.scenario] ?? 'operation';
  return [
    style.bold(`${r.scenario}: ${r.title}`),
    style.dim(
      `latency of ${r.groundTruth.victim} per ${unit}; ${r.durationSeconds} s per phase, ` +
        `${r.runs} run${r.runs === 1 ? '' : 's'}${r.runs > 1 ? ', median (min-max)' : ''}`,
    ),
    style.bold(lines[0]),
    ...lines.slice(1),
  ];
}

function cell(s: LatencySummary): string {
  return `${spread(s.p50Us, s.runs)} / ${spread(s.p99Us, s.runs)}`;
}

/** fadvise-logger's demo table: 1 and N copies, with and without the fix, p50 / p99. */
export function scalingTable(r: ScenarioResult, style: TextStyle = plainStyle): string[] {
  if (r.scaling === null || r.scaling.length === 0) return [];
  const rows = [
    ['copies', 'with the fix', 'without the fix'],
    ...r.scaling.map((x) => [String(x.containers), cell(x.fixed), cell(x.unfixed)]),
  ];
  const lines = alignRows(rows);
  return [
    style.dim(`query latency of ${r.groundTruth.victim}, p50 / p99 in microseconds`),
    style.bold(lines[0]),
    ...lines.slice(1),
  ];
}

export function groundTruthLines(r: ScenarioResult): string[] {
  const g = r.groundTruth;
  return [
    g.syscall === null
      ? `ground truth: ${g.antagonists.join(', ')} keep the CPUs busy in user space (no syscall)`
      : `ground truth: ${g.antagonists.join(', ')} call ${g.syscall} from ${g.callSite}`,
    `  contended resource: ${g.kernelResource}`,
    `  fix: ${g.fix}`,
  ];
}

export function evidenceLines(r: ScenarioResult): string[] {
  const lines: string[] = [];
  for (const p of [r.phases.alone, r.phases.fixed, r.phases.unfixed]) {
    const last = p.runs[p.runs.length - 1];
    for (const e of last?.evidence ?? []) {
      lines.push(
        `${p.label}: ${e.name} ${e.before} -> ${e.after} (${e.after - e.before >= 0 ? '+' : ''}${e.after - e.before})`,
      );
    }
  }
  return lines;
}

function delta(label: string, from: LatencySummary, to: LatencySummary): string {
  const d = (f: (s: LatencySummary) => Spread) => {
    const a = f(from).median;
    const b = f(to).median;
    const pct = a > 0 ? ` (${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(0)}%)` : '';
    return `${b >= a ? '+' : ''}${us(b - a)} us${pct}`;
  };
  return `${label}: p50 ${d((s) => s.p50Us)}, p99 ${d((s) => s.p99Us)}, mean ${d((s) => s.meanUs)}`;
}

/** The control read out: what sharing costs, what the bug adds on top, medians across runs. */
export function effectLines(r: ScenarioResult): string[] {
  const { alone, fixed, unfixed } = r.phases;
  return [
    delta('sharing the host (with the fix vs alone)', alone.victim, fixed.victim),
    delta('the bug (without vs with the fix)', fixed.victim, unfixed.victim),
  ];
}

/** 5%: the run-to-run spread of a median on a quiet host is 2-3% (p50 22.2-22.8 us, fadvise-logger). */
const meaningfulGain = 0.05;

/**
 * Whether the fix measurably helped the victim: at least two of p50, p90 and mean 5% lower with
 * the fix (medians across runs), none 5% higher. "Every run" when, for the mean, even the worst run
 * with the fix beats the best run without it.
 */
export function fixVerdict(r: ScenarioResult): string {
  const f = r.phases.fixed.victim;
  const u = r.phases.unfixed.victim;
  const gains = [f.p50Us, f.p90Us, f.meanUs].map((s, i) => {
    const without = [u.p50Us, u.p90Us, u.meanUs][i].median;
    return without > 0 ? (without - s.median) / without : 0;
  });
  const helped =
    gains.filter((g) => g >= meaningfulGain).length >= 2 && gains.every((g) => g > -meaningfulGain);
  const numbers =
    `p50 ${us(u.p50Us.median)} -> ${us(f.p50Us.median)} us, p90 ${us(u.p90Us.median)} -> ${us(f.p90Us.median)} us, ` +
    `mean ${us(u.meanUs.median)} -> ${us(f.meanUs.median)} us`;
  if (!helped) return `fix not verified on this host (without -> with the fix: ${numbers})`;
  const everyRun = f.runs > 1 && f.meanUs.max < u.meanUs.min ? ' in every run' : '';
  return `fix verified${everyRun}: ${r.groundTruth.victim} without -> with the fix: ${numbers}`;
}
