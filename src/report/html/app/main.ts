/// <reference lib="dom" />
/**
 * Entry point of the report page: reads the embedded JSON document and renders the sections in
 * the order: findings, containers, syscalls, off-CPU time (when recorded), flame graph,
 * differential flame graph (a diff), timeline, run metadata.
 */
import { inertLine } from '../../safe-text.ts';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import type { ReportData } from '../report-data.ts';
import { el, section } from './dom.ts';
import { findingsSection } from './findings.ts';
import { FlameModel } from './flame-model.ts';
import { flameSection } from './flame-section.ts';
import { thousands } from './format.ts';
import { latencySection } from './latency.ts';
import { runSection } from './run-info.ts';
import { containersSection, offCpuSection, syscallsSection } from './tables.ts';
import { timelineSection } from './timeline-chart.ts';

/** Same id as page.ts DATA_ELEMENT_ID (page.ts imports node:crypto, so it is not imported here). */
const DATA_ELEMENT_ID = 'crosstalk-data';

function header(data: ReportData): HTMLElement {
  const i = data.analysis.input;
  const dur = i.durationSeconds === null ? '' : `, ${i.durationSeconds.toFixed(1)} s`;
  const nav = el(
    'nav',
    null,
    ...[
      ['findings', 'Findings'],
      ['containers', 'Containers'],
      ['syscalls', 'Syscalls'],
      ...(data.analysis.offCpu ? [['offcpu', 'Off-CPU']] : []),
      ...(data.analysis.syscallLatency ? [['latency', 'Latency']] : []),
      ['flame', 'Flame graph'],
      ...(data.flame.signed ? [['diff-flame', 'Differential']] : []),
      ['timeline', 'Timeline'],
      ['run', 'Run'],
    ].map(([id, label]) => el('a', { href: `#${id}` }, label)),
  );
  return el(
    'header',
    { class: 'top' },
    el('h1', null, data.title),
    el(
      'p',
      { class: 'muted' },
      `${i.format}, event ${i.event}, ${thousands(i.samples)} samples${dur}, call graphs: ${i.callGraph}`,
    ),
    nav,
  );
}

function render(data: ReportData, root: HTMLElement): void {
  document.title = data.title;
  const model = new FlameModel(data.flame);
  const flame = flameSection(data, model, 'normal', 'main');
  const flameIntro =
    data.kind === 'diff'
      ? 'The target run. Click a frame to zoom in, click an ancestor or press Escape to zoom out.'
      : 'The whole profile, root on top. Click a frame to zoom in, click an ancestor or press Escape to zoom out.';
  const diff = data.flame.signed ? flameSection(data, model, 'diff', 'diff') : null;
  const timeline = timelineSection(data);
  const sections: (HTMLElement | null)[] = [
    header(data),
    findingsSection(data),
    containersSection(data),
    syscallsSection(data),
    offCpuSection(data),
    latencySection(data),
    section('flame', 'Flame graph', el('p', { class: 'muted' }, flameIntro), flame.element),
    diff
      ? section(
          'diff-flame',
          'Differential flame graph',
          el(
            'p',
            { class: 'muted' },
            'Width: baseline + target (each normalised as the diff is). Colour: (target − baseline) / (target + baseline); red grew, blue shrank.',
          ),
          diff.element,
        )
      : null,
    timeline.element,
    runSection(data),
  ];
  root.replaceChildren(...sections.filter((s) => s !== null));
  flame.graph.draw();
  diff?.graph.draw();
  // A read-only handle for tests and debugging in the console.
  Object.assign(window, {
    crosstalkReport: { data, flame: flame.graph, diffFlame: diff?.graph ?? null, charts: timeline.plots },
  });
}

function main(): void {
  const root = document.getElementById('app');
  const source = document.getElementById(DATA_ELEMENT_ID);
  if (!root || !source) return;
  try {
    // Every string of the data shown as inert text: control characters and bidi overrides in
    // profile names become visible escapes (as on the terminal) instead of reordering the page.
    render(
      JSON.parse(source.textContent ?? '', (_k, v: unknown) =>
        typeof v === 'string' ? inertLine(v) : v,
      ) as ReportData,
      root,
    );
    // Ready once painted: the charts are made by the first frame's ResizeObserver, so wait two.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        performance.mark('crosstalk-ready');
        document.body.dataset.ready = '1';
      }),
    );
  } catch (e) {
    root.replaceChildren(
      el('p', { class: 'error' }, `This report could not be drawn: ${(e as Error).message}`),
    );
    console.error(e);
  }
}

main();
