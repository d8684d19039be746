/**
 * The victim side for a terminal: per container and syscall, calls/s, errors/s by errno and
 * latency p50/p99 (analyze), and their change against a baseline (diff).
 */
import type {
  ContainerLatencyChange,
  LatencySummary,
  SyscallLatencyRow,
} from '../analysis/syscall-latency.ts';
import { pad, safeText } from './safe-text.ts';

/** Microseconds for a table cell: `3.1 us`, `264 us`, `5.2 ms`. */
function fmtUs(us: number): string {
  if (us >= 1000) return `${(us / 1000).toFixed(us >= 10_000 ? 0 : 1)} ms`;
  return `${us >= 100 ? Math.round(us) : us.toFixed(1)} us`;
}

/** A heading for the latency tables: what measured them, or why nothing was. */
function header(l: LatencySummary): string {
  if (l.status !== 'recorded') return `  not measured: ${safeText(l.reason ?? l.status, 200)}`;
  const early = l.budgetExhausted ? '; stopped early: the tracing budget was spent' : '';
  return `  eBPF (bpftrace), ${l.windowSeconds.toFixed(1)} s of the window${early}`;
}

export function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n >= 10 || n === 0 ? `${Math.round(n)}` : n.toFixed(1);
}

function errorsText(r: SyscallLatencyRow): string {
  if (r.errors.length === 0) return '0';
  const top = r.errors
    .slice(0, 2)
    .map((e) => `${rate(e.perSecond)} ${e.name}`)
    .join(', ');
  return r.errors.length > 2 ? `${top}, …` : top;
}

/** `Syscall latency by container`: the busiest containers and, for each, its busiest syscalls. */
export function renderLatency(
  l: LatencySummary | null | undefined,
  bold: (s: string) => string,
  opts: { containers?: number; syscalls?: number } = {},
): string[] {
  if (!l) return [];
  const out = [bold('Syscall latency by container (victim side)'), header(l)];
  if (l.status !== 'recorded') return out;
  out.push(
    `  ${pad('container', 28)}${pad('syscall', 18)}${pad('calls/s', 9, true)}  ${pad('errors/s', 26)}${pad('p50', 9, true)}${pad('p99', 9, true)}`,
  );
  for (const c of l.containers.slice(0, opts.containers ?? 8)) {
    c.syscalls.slice(0, opts.syscalls ?? 4).forEach((r, k) => {
      out.push(
        `  ${pad(k === 0 ? safeText(c.name, 26) : '', 28)}${pad(safeText(r.syscall, 16), 18)}${pad(rate(r.callsPerSecond), 9, true)}  ` +
          `${pad(errorsText(r), 26)}${pad(fmtUs(r.p50Us), 9, true)}${pad(fmtUs(r.p99Us), 9, true)}`,
      );
    });
  }
  return out;
}

const pct = (x: number | null) => (x === null ? '' : `${x >= 0 ? '+' : ''}${Math.round(x * 100)}%`);

/** `Syscall latency change`: baseline -> target p50/p99 per container and syscall, largest p99 growth first. */
export function renderLatencyChange(
  changes: ContainerLatencyChange[] | null | undefined,
  bold: (s: string) => string,
  n = 12,
): string[] {
  if (!changes || changes.length === 0) return [];
  const rows = changes.flatMap((c) => c.syscalls.map((s) => ({ c, s })));
  rows.sort((a, b) => (b.s.p99Change ?? 0) - (a.s.p99Change ?? 0));
  const out = [
    bold('Syscall latency change (victim side, eBPF)'),
    `  ${pad('container', 26)}${pad('syscall', 16)}${pad('calls/s', 16, true)}${pad('p50', 24, true)}${pad('p99', 24, true)}${pad('errors/s', 12, true)}`,
  ];
  for (const { c, s } of rows.slice(0, n)) {
    const q = (b: number, t: number, ch: number | null) => `${fmtUs(b)} -> ${fmtUs(t)} ${pct(ch)}`;
    out.push(
      `  ${pad(safeText(c.name, 24), 26)}${pad(safeText(s.syscall, 14), 16)}` +
        `${pad(`${rate(s.baseline.callsPerSecond)} -> ${rate(s.target.callsPerSecond)}`, 16, true)}` +
        `${pad(q(s.baseline.p50Us, s.target.p50Us, s.p50Change), 24, true)}` +
        `${pad(q(s.baseline.p99Us, s.target.p99Us, s.p99Change), 24, true)}` +
        `${pad(`${rate(s.baseline.errorsPerSecond)} -> ${rate(s.target.errorsPerSecond)}`, 12, true)}`,
    );
  }
  return out;
}
