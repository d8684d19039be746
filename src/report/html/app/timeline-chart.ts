/// <reference lib="dom" />
/**
 * Section 6: kernel time per container and per top syscall over the recording (uPlot). uPlot
 * writes series labels with textContent and draws axes on a canvas, so names stay text.
 */
import uPlot from 'uplot';
import type { ReportData, TimelineData, TimelineSeries } from '../report-data.ts';
import { el, section } from './dom.ts';

const palette = [
  '#d62728',
  '#1f77b4',
  '#2ca02c',
  '#9467bd',
  '#ff7f0e',
  '#17becf',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
];

function chart(
  title: string,
  series: TimelineSeries[],
  t: TimelineData,
): { element: HTMLElement; plot: () => uPlot | null } {
  const host = el('div', { class: 'chart' });
  const element = el('div', { class: 'chart-block' }, el('h3', null, title), host);
  let plot: uPlot | null = null;
  const x = t.times.map((s) => s + t.windowSeconds / 2);
  const make = () => {
    const width = Math.max(320, host.clientWidth);
    if (plot) return plot.setSize({ width, height: 260 });
    plot = new uPlot(
      {
        width,
        height: 260,
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] } },
        axes: [
          { label: 'seconds into the recording' },
          {
            // cpu-clock/task-clock weights are CPU time: CPUs busy; counted events: per second.
            label: t.unit === 'cpus' ? 'CPUs busy in the kernel' : 'kernel samples / s',
            size: 64,
            values: (_u, splits) => splits.map((v) => compact(v)),
          },
        ],
        series: [
          // Without the cursor on the chart there is no value: a dash, not an empty "label:".
          { label: 'time (s)', value: (_u, v) => (v === null ? '–' : v.toFixed(1)) },
          ...series.map((s, i) => ({
            label: s.role ? `${s.label} (${s.role})` : s.label,
            stroke: palette[i % palette.length],
            width: s.role ? 3 : 1.5,
            dash: s.role === 'victim' ? [8, 4] : undefined,
            value: (_u: uPlot, v: number | null) => (v === null ? '–' : compact(v)),
          })),
        ],
      },
      [x, ...series.map((s) => s.values)],
      host,
    );
  };
  new ResizeObserver(() => make()).observe(host);
  return { element, plot: () => plot };
}

/** Axis and legend numbers that fit: 0.125, 12.5, 1.2k, 3.4M (never a clipped 000,000,000). */
export function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2);
  return v === 0 ? '0' : v.toFixed(3);
}

export interface TimelineCharts {
  element: HTMLElement;
  plots: () => (uPlot | null)[];
}

export function timelineSection(data: ReportData): TimelineCharts {
  const t = data.timeline;
  if (!t) {
    const element = section(
      'timeline',
      'Timeline',
      el(
        'p',
        { class: 'none' },
        'The input carries no sample times (folded stacks), so there is no timeline.',
      ),
    );
    return { element, plots: () => [] };
  }
  const perContainer = chart('Kernel time per container', t.containers, t);
  const perSyscall = chart('Kernel time per syscall', t.syscalls, t);
  const note = `Windows of ${t.windowSeconds.toFixed(2)} s, the windows the diagnosis correlates${t.note ? `; ${t.note}` : ''}. Thick lines: antagonists and findings' syscalls; dashed: victims.`;
  const element = section(
    'timeline',
    'Timeline',
    el('p', { class: 'muted' }, note),
    perContainer.element,
    t.syscalls.length > 0 ? perSyscall.element : null,
  );
  return { element, plots: () => [perContainer.plot(), perSyscall.plot()] };
}
