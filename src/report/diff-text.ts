/** `crosstalk diff` for a terminal: findings, then what grew and shrank, biggest change first. */
import { createColors } from 'picocolors';
import type { Delta, DiffResult } from '../analysis/diff.ts';
import type { Finding } from '../analysis/findings.ts';
import { counterLabel, formatCounter } from './counter-labels.ts';
import { renderFindings, sourceText } from './findings-text.ts';
import { renderLatencyChange } from './latency-text.ts';
import { pad, percent, safeText } from './safe-text.ts';

export interface DiffTextOptions {
  color?: boolean;
  /** Rows per table. Default 10. */
  rows?: number;
}

function fmt(d: DiffResult, x: number): string {
  if (d.unit === 'share') return percent(x);
  if (d.unit === 'cpus') return `${x.toFixed(3)} CPU`;
  return `${x.toFixed(1)}/s`;
}

/** One table row: baseline, target and the signed change, each printed by `format`. */
function row(
  format: (x: number) => string,
  label: string,
  x: Delta,
  color: ReturnType<typeof createColors>,
): string {
  const size = format(Math.abs(x.delta));
  const delta = x.delta > 0 ? `+${size}` : x.delta < 0 ? `-${size}` : ` ${size}`;
  const tinted = x.delta > 0 ? color.red(delta) : x.delta < 0 ? color.blue(delta) : delta;
  return `  ${pad(label, 56)}${pad(format(x.baseline), 11, true)}${pad(format(x.target), 11, true)}  ${tinted}`;
}

export function renderDiff(d: DiffResult, findings: Finding[], opts: DiffTextOptions = {}): string {
  const c = createColors(opts.color ?? false);
  const n = opts.rows ?? 10;
  const inUnit = (x: number) => fmt(d, x);
  const unit =
    d.unit === 'share'
      ? "shares of each run's total"
      : d.unit === 'cpus'
        ? 'CPUs busy on average'
        : 'events per second';
  const out = [
    c.bold(`crosstalk diff: ${safeText(d.baseline.source)} -> ${safeText(d.target.source)}`),
    c.dim(
      `normalised as ${d.normalize} (${unit}); baseline ${d.baseline.samples} samples, target ${d.target.samples} samples`,
    ),
  ];
  for (const w of [...d.baseline.warnings, ...d.target.warnings, ...d.warnings])
    out.push(c.yellow(`warning: ${safeText(w, 400)}`));
  out.push('', ...renderFindings(findings, opts.color ?? false), '');
  const head = (title: string) =>
    c.bold(`${pad(title, 58)}${pad('baseline', 11, true)}${pad('target', 11, true)}  change`);
  out.push(head('CPU time'));
  out.push(
    row(inUnit, 'user', d.split.user, c),
    row(inUnit, 'kernel', d.split.kernel, c),
    row(inUnit, 'idle', d.split.idle, c),
    '',
  );
  out.push(head('Containers: kernel time'));
  for (const x of d.containers.slice(0, n)) {
    const tag = x.status === 'matched' ? `matched by ${x.matchedBy}` : x.status;
    out.push(row(inUnit, `${safeText(x.name, 36)} (${tag})`, x.kernel, c));
  }
  out.push('', head('Syscalls'));
  for (const s of d.syscalls.slice(0, n)) {
    out.push(row(inUnit, safeText(s.name, 50), s.total, c));
    for (const x of s.containers.slice(0, 2))
      out.push(row(inUnit, `    ${safeText(x.name, 48)}`, x.change, c));
  }
  out.push('', head('Call sites'));
  for (const x of d.callSites.slice(0, n)) {
    const who = x.function
      ? `${x.function}`
      : x.status === 'lost'
        ? '(lost by frame-pointer unwinding)'
        : `(${x.status})`;
    // file:line after the change column: the table's columns stay aligned, the name stays whole.
    out.push(row(inUnit, safeText(`${x.syscall} from ${who}`, 54), x.change, c) + sourceText(x.source));
  }
  out.push('', head('Kernel paths'));
  for (const x of d.kernelPaths.slice(0, n)) {
    out.push(row(inUnit, safeText(`${x.syscall}: ${x.frames.slice(-3).join(' > ')}`, 54), x.change, c));
  }
  if (d.counters.length > 0) {
    out.push('', head('Kernel counters'));
    for (const x of d.counters.slice(0, n * 2)) {
      const v = (y: number) => formatCounter(x.metric, y);
      const label = `${counterLabel(x.metric).label}${x.container ? ` (${x.container.slice(0, 24)})` : ''}`;
      out.push(
        `  ${pad(safeText(label, 55), 56)}${pad(v(x.change.baseline), 11, true)}${pad(v(x.change.target), 11, true)}  ${x.change.delta > 0 ? '+' : ''}${v(x.change.delta)}`,
      );
    }
  }
  if (d.offCpu !== null && d.offCpu.containers.length > 0) {
    // Tasks waiting on average, whatever the normalisation.
    const offRow = (label: string, x: Delta) => row((v) => v.toFixed(3), label, x, c);
    out.push('', head('Off-CPU: tasks waiting on average'));
    for (const x of d.offCpu.containers.slice(0, n)) {
      out.push(offRow(`${safeText(x.name, 44)} blocked`, x.blocked));
      for (const s of x.syscalls.slice(0, 2)) out.push(offRow(`    in ${safeText(s.name, 46)}`, s.change));
      if (x.runnable.baseline > 0 || x.runnable.target > 0)
        out.push(offRow(`${safeText(x.name, 44)} runnable`, x.runnable));
    }
  }
  const latency = renderLatencyChange(d.syscallLatency, (s) => head(s), n);
  if (latency.length > 0) out.push('', ...latency);
  if (d.pairing.added.length + d.pairing.gone.length > 0) {
    out.push(
      '',
      c.dim(
        `${d.pairing.added.length} new and ${d.pairing.gone.length} gone containers (not matched by id, name, image or processes; pair them with --match BASE=TARGET)`,
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
