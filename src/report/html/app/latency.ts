/// <reference lib="dom" />
/**
 * The victim side: per container and syscall, calls/s, errors/s by errno beside them, p50/p99 and
 * the latency distribution (the in-kernel histogram) for the findings' syscalls first; in a diff,
 * the baseline's p50/p99 beside the target's.
 */
import type { AnalyzeJson } from '../../schema.ts';
import type { ReportData } from '../report-data.ts';
import { type Child, el, section, table } from './dom.ts';

type Latency = NonNullable<AnalyzeJson['syscallLatency']>;
type Row = Latency['containers'][number]['syscalls'][number];

function us(x: number): string {
  if (x >= 1000) return `${(x / 1000).toFixed(x >= 10_000 ? 0 : 1)} ms`;
  return `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} µs`;
}

function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n >= 10 || n === 0 ? n.toFixed(0) : n.toFixed(1);
}

/** The histogram as columns, one per bucket from the first to the last non-empty one. */
function distribution(r: Row): HTMLElement {
  const max = Math.max(1, ...r.histogram.map(([, , n]) => n));
  const box = el('div', {
    class: 'hist',
    role: 'img',
    'aria-label': `latency distribution of ${r.syscall}: p50 ${us(r.p50Us)}, p99 ${us(r.p99Us)}`,
  });
  for (const [low, high, n] of r.histogram) {
    const col = el('span', { class: 'hist-col', title: `${us(low / 1000)}–${us(high / 1000)}: ${n} calls` });
    col.style.height = `${Math.max(4, (100 * n) / max)}%`;
    box.append(col);
  }
  return box;
}

function errorsCell(r: Row): string {
  if (r.errors.length === 0) return '0';
  return r.errors
    .slice(0, 3)
    .map((e) => `${rate(e.perSecond)} ${e.name}`)
    .join(', ');
}

/** Containers named by findings first (victims, antagonists), then the busiest. */
function ordered(l: Latency, data: ReportData): Latency['containers'] {
  const named = new Set(
    data.analysis.findings.flatMap((f) => [...f.victims, ...(f.antagonist ? [f.antagonist.container] : [])]),
  );
  return [...l.containers].sort((a, b) => Number(named.has(b.id)) - Number(named.has(a.id))).slice(0, 10);
}

export function latencySection(data: ReportData): HTMLElement | null {
  const l = data.analysis.syscallLatency;
  if (!l) return null;
  if (l.status !== 'recorded')
    return section(
      'latency',
      'Syscall latency (victim side)',
      el('p', { class: 'none' }, `Not measured: ${l.reason ?? l.status}`),
    );
  const findingSyscalls = new Set(data.analysis.findings.flatMap((f) => (f.syscall ? [f.syscall] : [])));
  const base = data.latencyBaseline ?? null;
  const rows: Child[][] = [];
  for (const c of ordered(l, data)) {
    const syscalls = [...c.syscalls]
      .sort((a, b) => Number(findingSyscalls.has(b.syscall)) - Number(findingSyscalls.has(a.syscall)))
      .slice(0, 6);
    const before = base?.containers.find((b) => b.name === c.name);
    syscalls.forEach((r, k) => {
      const b = before?.syscalls.find((x) => x.syscall === r.syscall);
      rows.push([
        k === 0 ? el('span', { class: 'who' }, c.name) : '',
        el('code', null, r.syscall),
        rate(r.callsPerSecond),
        errorsCell(r),
        b ? `${us(b.p50Us)} → ${us(r.p50Us)}` : us(r.p50Us),
        b ? `${us(b.p99Us)} → ${us(r.p99Us)}` : us(r.p99Us),
        distribution(r),
      ]);
    });
  }
  const early = l.budgetExhausted ? ' The tracer stopped early: the host spent its tracing budget.' : '';
  return section(
    'latency',
    'Syscall latency (victim side)',
    el(
      'p',
      { class: 'muted' },
      `Every syscall of every container, timed in the kernel by eBPF (bpftrace) for ${l.windowSeconds.toFixed(1)} s of the recording.${early} `,
      base ? 'p50 and p99: baseline → target. ' : '',
      'Distribution: calls per latency bucket (a quarter of a power of two wide), fast on the left.',
    ),
    table(['container', 'syscall', 'calls/s', 'errors/s', 'p50', 'p99', 'distribution'], rows, 'latency'),
  );
}
