/// <reference lib="dom" />
/** Section 7: run metadata (host, kernel, perf, duration, frequency, call graphs, counters). */
import type { ReportData } from '../report-data.ts';
import { el, section, table } from './dom.ts';
import { percent, thousands } from './format.ts';

export function runSection(data: ReportData): HTMLElement {
  const rows = data.metadata.map((r) => [r.label, r.value]);
  const p = data.flame.pruning;
  rows.push(
    ['report', `generated ${data.generatedAt} by ${data.analysis.tool.name} ${data.analysis.tool.version}`],
    [
      'flame graph',
      `${thousands(p.nodesKept)} of ${thousands(p.nodesBefore)} frames kept (frames under ${percent(p.minShare, 3)} of every view left out${p.viewsLeftOut > 0 ? `; ${p.viewsLeftOut} containers have no filter of their own (they are in "all containers")` : ''})`,
    ],
  );
  const counters = countersTable(data);
  return section('run', 'Run', table(['', ''], rows, 'meta'), el('h3', null, 'Counters'), counters);
}

/** Counters with human labels and units; the metric key is each label's tooltip. */
function countersTable(data: ReportData): HTMLElement {
  const rows = data.counters;
  if (rows.length === 0) {
    return el(
      'p',
      { class: 'muted' },
      data.kind === 'diff'
        ? 'No kernel counters to compare: one of the two inputs is not a recorded run (crosstalk record / doctor), or neither run has the same counter.'
        : 'No kernel counters: the input is not a recorded run (crosstalk record / doctor).',
    );
  }
  const name = (r: ReportData['counters'][number]) =>
    el('span', { title: r.metric, class: 'counter' }, r.label);
  if (data.kind === 'diff') {
    return table(
      ['container', 'counter', 'baseline', 'target', 'change'],
      rows.map((r) => [r.container ?? 'host', name(r), r.baseline ?? '', r.text, r.change ?? '']),
      'counters',
    );
  }
  return table(
    ['container', 'counter', 'value'],
    rows.map((r) => [r.container ?? 'host', name(r), r.text]),
    'counters',
  );
}
