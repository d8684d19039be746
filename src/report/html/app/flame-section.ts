/// <reference lib="dom" />
/** A flame graph with its controls: container filter, search, reset, legend. */
import type { ReportData } from '../report-data.ts';
import { el } from './dom.ts';
import { FlameGraph } from './flame-graph.ts';
import type { FlameMode, FlameModel } from './flame-model.ts';
import { percent } from './format.ts';

export interface FlameSection {
  element: HTMLElement;
  graph: FlameGraph;
}

function legend(mode: FlameMode): HTMLElement {
  const item = (cls: string, text: string) =>
    el('span', { class: 'legend-item' }, el('i', { class: cls }), text);
  if (mode === 'diff') {
    return el(
      'div',
      { class: 'legend' },
      item('sw sw-grown', 'grown in the target'),
      item('sw sw-shrunk', 'shrunk (or only in the baseline)'),
      item('sw sw-same', 'unchanged'),
      item('sw sw-hit', 'search match'),
    );
  }
  return el(
    'div',
    { class: 'legend' },
    item('sw sw-user', 'user'),
    item('sw sw-kernel', 'kernel'),
    item('sw sw-jit', 'JIT'),
    item('sw sw-process', 'process'),
    item('sw sw-hit', 'search match'),
    el('span', { class: 'legend-item muted' }, 'deep, narrow towers show when you click a frame to zoom'),
  );
}

export function flameSection(
  data: ReportData,
  model: FlameModel,
  mode: FlameMode,
  key: string,
): FlameSection {
  const status = el('span', { class: 'flame-status' });
  const unit = data.kind === 'diff' ? 'share' : data.analysis.input.weightUnit;
  const graph = new FlameGraph(model, {
    mode,
    unit,
    onSearch: (share, frames) => {
      status.textContent = frames > 0 ? `${frames} frames match, ${percent(share, 2)} of this view` : '';
    },
  });
  const select = el('select', { class: 'flame-filter', 'aria-label': 'container' });
  for (const v of model.data.views) {
    const label = v.id === 'all' ? 'all containers' : v.label;
    select.append(new Option(label, v.id));
  }
  select.disabled = model.data.views.length < 2;
  select.addEventListener('change', () => graph.setView(select.value));
  const search = el('input', {
    type: 'search',
    class: 'flame-search',
    placeholder: 'search frames',
    'aria-label': 'search frames',
  });
  search.addEventListener('input', () => graph.search(search.value));
  const reset = el('button', { type: 'button', class: 'flame-reset' }, 'reset zoom');
  reset.addEventListener('click', () => graph.reset());
  const controls = el(
    'div',
    { class: 'flame-controls' },
    el('label', null, 'container ', select),
    search,
    reset,
    status,
    legend(mode),
  );
  const element = el('div', { class: 'flame-section', id: `flame-${key}` }, controls, graph.element);
  element.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') graph.reset();
  });
  return { element, graph };
}
