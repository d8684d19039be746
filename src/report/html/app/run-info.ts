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
  const counters =
    data.counters.length === 0
      ? el(
          'p',
          { class: 'muted' },
          'No kernel counters: the input is not a recorded run (crosstalk record / doctor).',
        )
      : table(
          ['container', 'metric', 'value'],
          data.counters.map((c) => [
            c.container ?? 'host',
            c.metric,
            Number.isInteger(c.value) ? thousands(c.value) : c.value.toFixed(4),
          ]),
          'counters',
        );
  return section('run', 'Run', table(['', ''], rows, 'meta'), el('h3', null, 'Counters'), counters);
}
