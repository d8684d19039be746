/// <reference lib="dom" />
/**
 * The only way the app makes elements: text goes in as text nodes, attributes through
 * setAttribute from a fixed list, never through innerHTML. Profile text (process names, symbols,
 * paths, cgroup names) comes from the profiled host and is untrusted.
 */

export type Child = Node | string | number | null | undefined | false;

/** Attributes the app sets; event handlers are attached with `on`, never as attributes. */
export interface Attrs {
  class?: string;
  id?: string;
  title?: string;
  role?: string;
  type?: string;
  placeholder?: string;
  href?: string;
  colspan?: number;
  'aria-label'?: string;
  'data-kind'?: string;
  'data-severity'?: string;
  'data-note'?: string;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined) continue;
      if (k === 'href' && !/^(?:https?:\/\/|#)/.test(String(v))) continue;
      e.setAttribute(k, String(v));
    }
  }
  append(e, ...children);
  return e;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(
      typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c,
    );
  }
}

/** A link to an external reference: only http(s) URLs become links; anything else stays text. */
export function reference(text: string): Node {
  if (!/^https?:\/\/\S+$/.test(text)) return document.createTextNode(text);
  const a = el('a', { href: text }, text);
  a.rel = 'noopener noreferrer';
  a.target = '_blank';
  return a;
}

export function section(id: string, title: string, ...children: Child[]): HTMLElement {
  return el('section', { id, class: 'section' }, el('h2', null, title), ...children);
}

export function table(head: string[], rows: Child[][], cls = ''): HTMLTableElement {
  return el(
    'table',
    { class: `grid ${cls}`.trim() },
    el('thead', null, el('tr', null, ...head.map((h) => el('th', null, h)))),
    el('tbody', null, ...rows.map((r) => el('tr', null, ...r.map((c) => el('td', null, c))))),
  );
}
