/// <reference lib="dom" />
/**
 * A flame graph drawn on a <canvas> (icicle: root on top): click a frame to zoom, click an
 * ancestor or press Escape to zoom out, hover for a tooltip, search to highlight. Names are drawn
 * with fillText, which never parses markup; the tooltip is filled with text nodes.
 */
import { FlameKind } from '../report-data.ts';
import { el } from './dom.ts';
import {
  type FlameLayout,
  type FlameMode,
  type FlameModel,
  layoutFlame,
  matchedWeight,
  searchFlame,
  ViewWeights,
} from './flame-model.ts';
import { percent, points, thousands, weightText } from './format.ts';

const ROW = 18;
const FONT = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const CHAR_PX = 6.7;

export interface FlameGraphOptions {
  mode: FlameMode;
  /** ns / events: raw weights; share: already normalised (a diff's target side). */
  unit: 'ns' | 'events' | 'share';
  /** Called after every draw with what the search matched. */
  onSearch?: (matchedShare: number, frames: number) => void;
}

/** Stable hue offsets per name, so one function keeps its colour across views and zooms. */
function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length && i < 24; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return ((h >>> 0) % 1000) / 1000;
}

function kindColour(kind: number, name: string): string {
  const v = hash(name);
  switch (kind) {
    case FlameKind.kernel:
      return `hsl(${200 + 25 * v}, 60%, ${62 + 12 * v}%)`;
    case FlameKind.jit:
      return `hsl(${100 + 30 * v}, 50%, ${55 + 12 * v}%)`;
    case FlameKind.user:
      return `hsl(${10 + 35 * v}, 85%, ${58 + 10 * v}%)`;
    case FlameKind.process:
      return `hsl(${270 + 20 * v}, 35%, 75%)`;
    default:
      return 'hsl(0, 0%, 78%)';
  }
}

/** Red for grown, blue for shrunk, near white for unchanged. */
function diffColour(change: number): string {
  const c = Math.max(-1, Math.min(1, change));
  const fade = Math.round(235 - 175 * Math.abs(c));
  return c >= 0 ? `rgb(245, ${fade}, ${fade})` : `rgb(${fade}, ${fade}, 245)`;
}

export class FlameGraph {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly tooltip: HTMLElement;
  private weights: ViewWeights;
  private zoomNode = 0;
  private hit: Uint8Array;
  private layout: FlameLayout | null = null;
  private width = 0;

  constructor(
    private readonly model: FlameModel,
    private readonly opts: FlameGraphOptions,
  ) {
    this.weights = new ViewWeights(model, model.data.views[0]);
    this.hit = new Uint8Array(model.n);
    this.canvas = el('canvas', { class: 'flame-canvas', role: 'img', 'aria-label': 'flame graph' });
    this.tooltip = el('div', { class: 'flame-tip', role: 'tooltip' });
    this.element = el('div', { class: 'flame-host' }, this.canvas, this.tooltip);
    this.canvas.addEventListener('click', (e) => this.onClick(e));
    this.canvas.addEventListener('mousemove', (e) => this.onHover(e));
    this.canvas.addEventListener('mouseleave', () => this.hideTip());
    new ResizeObserver(() => this.draw()).observe(this.element);
  }

  setView(id: string): void {
    const view = this.model.data.views.find((v) => v.id === id) ?? this.model.data.views[0];
    this.weights = new ViewWeights(this.model, view);
    if (!(this.weights.width(this.zoomNode, this.opts.mode) > 0)) this.zoomNode = 0;
    this.canvas.dataset.view = view.id;
    this.draw();
  }

  search(query: string): void {
    this.hit = searchFlame(this.model, query);
    this.draw();
  }

  zoom(node: number): void {
    this.zoomNode = node;
    this.draw();
  }

  reset(): void {
    this.zoom(0);
  }

  /** Drawn frames, for tests and debugging: name and CSS-pixel box. */
  frames(): { node: number; name: string; x: number; y: number; w: number }[] {
    const l = this.layout;
    if (!l) return [];
    const out = [];
    for (let k = 0; k < l.count; k++) {
      out.push({
        node: l.node[k],
        name: this.model.name(l.node[k]),
        x: l.x[k],
        y: l.row[k] * ROW,
        w: l.w[k],
      });
    }
    return out;
  }

  draw(): void {
    const width = this.element.clientWidth;
    if (width === 0) return;
    this.width = width;
    const l = layoutFlame(this.model, this.weights, this.opts.mode, this.zoomNode, width);
    this.layout = l;
    const dpr = window.devicePixelRatio || 1;
    const height = Math.max(1, l.rows) * ROW;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    let highlighted = 0;
    for (let k = 0; k < l.count; k++) {
      const node = l.node[k];
      const isHit = this.hit[node] === 1;
      if (isHit) highlighted++;
      this.drawFrame(
        ctx,
        node,
        l.x[k],
        l.row[k] * ROW,
        l.w[k],
        isHit,
        this.model.depth[node] < this.model.depth[this.zoomNode],
      );
    }
    this.canvas.dataset.drawn = String(l.count);
    this.canvas.dataset.hiddenDeep = String(l.hiddenDeep);
    this.canvas.dataset.highlighted = String(highlighted);
    this.canvas.dataset.zoom = this.model.name(this.zoomNode);
    const total = this.weights.width(0, this.opts.mode);
    const matched = matchedWeight(this.model, this.weights, this.hit, this.opts.mode);
    this.opts.onSearch?.(total > 0 ? matched / total : 0, highlighted);
  }

  private drawFrame(
    ctx: CanvasRenderingContext2D,
    node: number,
    x: number,
    y: number,
    w: number,
    isHit: boolean,
    above: boolean,
  ): void {
    const name = this.model.name(node);
    const kind = this.model.data.kind[node];
    ctx.fillStyle = isHit
      ? 'rgb(230, 0, 210)'
      : this.opts.mode === 'diff' && kind !== FlameKind.root
        ? diffColour(this.weights.change(node))
        : kindColour(kind, name);
    ctx.globalAlpha = above ? 0.55 : 1;
    ctx.fillRect(x, y, Math.max(w - 0.5, 0.35), ROW - 1);
    ctx.globalAlpha = 1;
    if (w < 3 * CHAR_PX + 6) return;
    const fits = Math.floor((w - 6) / CHAR_PX);
    const label = name.length <= fits ? name : `${name.slice(0, Math.max(1, fits - 1))}…`;
    ctx.fillStyle = isHit ? '#fff' : '#111';
    ctx.fillText(label, x + 3, y + ROW / 2);
  }

  private nodeAt(e: MouseEvent): number | null {
    const l = this.layout;
    if (!l) return null;
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const row = Math.floor((e.clientY - r.top) / ROW);
    for (let k = 0; k < l.count; k++) {
      if (l.row[k] === row && x >= l.x[k] && x < l.x[k] + l.w[k]) return l.node[k];
    }
    return null;
  }

  private onClick(e: MouseEvent): void {
    const node = this.nodeAt(e);
    if (node !== null) this.zoom(node);
  }

  private onHover(e: MouseEvent): void {
    const node = this.nodeAt(e);
    if (node === null) {
      this.hideTip();
      return;
    }
    const lines = this.tipLines(node);
    this.tooltip.replaceChildren(...lines.map((t, i) => el(i === 0 ? 'strong' : 'div', null, t)));
    this.tooltip.style.display = 'block';
    const r = this.element.getBoundingClientRect();
    const x = e.clientX - r.left + 14;
    const y = e.clientY - r.top + 14;
    this.tooltip.style.left = `${Math.min(x, Math.max(0, this.width - 380))}px`;
    this.tooltip.style.top = `${y}px`;
  }

  private hideTip(): void {
    this.tooltip.style.display = 'none';
  }

  private tipLines(node: number): string[] {
    const m = this.model;
    const w = this.weights;
    const view = w.view;
    const kind = ['user', 'kernel', 'JIT', 'unknown', 'process', 'all samples'][m.data.kind[node]] ?? '';
    const lines = [m.name(node), `${kind}${m.module(node) ? ` · ${m.module(node)}` : ''}`];
    const zoomW = w.width(this.zoomNode, this.opts.mode);
    if (this.opts.mode === 'diff') {
      const t = view.total > 0 ? w.value[node] / view.total : 0;
      const b = view.baseTotal > 0 ? w.base[node] / view.baseTotal : 0;
      lines.push(
        `target ${percent(t, 2)} (${thousands(w.samples[node])} samples) · baseline ${percent(b, 2)} (${thousands(w.baseSamples[node])} samples)`,
        `change ${points(t - b)}; colour ${(w.change(node) * 100).toFixed(0)}% of (target − baseline) / (target + baseline)`,
      );
    } else {
      const share = view.total > 0 ? w.value[node] / view.total : 0;
      const time = this.opts.unit === 'share' ? '' : ` · ${weightText(w.value[node], this.opts.unit)}`;
      lines.push(`${percent(share, 2)} of ${view.label} · ${thousands(w.samples[node])} samples${time}`);
    }
    if (this.zoomNode !== 0 && zoomW > 0) {
      lines.push(`${percent(w.width(node, this.opts.mode) / zoomW, 2)} of the zoomed frame`);
    }
    return lines;
  }
}
