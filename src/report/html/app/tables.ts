/// <reference lib="dom" />
/** Sections 2 and 3: containers (user / kernel / idle bars, top syscalls) and kernel time by syscall. */
import { preemptionGrid } from '../../preemption-grid.ts';
import type { AnalyzeJson } from '../../schema.ts';
import type { ReportData } from '../report-data.ts';
import { el, section, table } from './dom.ts';
import { basename, percent, shortPath, thousands } from './format.ts';

type Container = AnalyzeJson['containers'][number];
type CallSite = AnalyzeJson['syscalls'][number]['callSites'][number];

function splitBar(c: Container): HTMLElement {
  const own = c.userShare + c.kernelShare + c.idleShare;
  const seg = (cls: string, x: number, label: string) => {
    const s = el('span', { class: `seg ${cls}`, title: `${label} ${percent(x)} of host` });
    s.style.width = `${own > 0 ? (100 * x) / own : 0}%`;
    return s;
  };
  return el(
    'div',
    {
      class: 'bar',
      role: 'img',
      'aria-label': `user ${percent(c.userShare)}, kernel ${percent(c.kernelShare)}, idle ${percent(c.idleShare)}`,
    },
    seg('seg-user', c.userShare, 'user'),
    seg('seg-kernel', c.kernelShare, 'kernel'),
    seg('seg-idle', c.idleShare, 'idle'),
  );
}

function containerName(c: Container): HTMLElement {
  const rt = c.runtime === 'host' || c.runtime === 'unknown' ? '' : ` (${c.runtime})`;
  return el('span', { title: c.cgroup }, el('span', { class: 'who' }, c.name), rt);
}

export function containersSection(data: ReportData): HTMLElement {
  const list = data.analysis.containers;
  const rows = list.map((c) => [
    containerName(c),
    percent(c.share),
    splitBar(c),
    percent(c.userShare),
    percent(c.kernelShare),
    percent(c.idleShare),
    c.syscalls
      .slice(0, 3)
      .map((s) => `${s.name} ${percent(s.share)}`)
      .join(', '),
    c.processes
      .slice(0, 3)
      .map((p) => p.comm)
      .join(', '),
  ]);
  return section(
    'containers',
    'Containers',
    el(
      'p',
      { class: 'muted' },
      "Shares of all samples. Bars split each container's own time into ",
      el('span', { class: 'key key-user' }, 'user'),
      ', ',
      el('span', { class: 'key key-kernel' }, 'kernel'),
      ' and ',
      el('span', { class: 'key key-idle' }, 'idle'),
      '.',
    ),
    table(
      ['container', 'share', 'user / kernel / idle', 'user', 'kernel', 'idle', 'top syscalls', 'processes'],
      rows,
      'containers',
    ),
  );
}

export function callSiteText(cs: CallSite): string {
  const via = cs.wrapper ? ` via ${cs.wrapper}` : '';
  switch (cs.status) {
    case 'found': {
      const at = cs.file && cs.line ? ` at ${basename(cs.file)}:${cs.line}` : '';
      return `${cs.function} (${basename(cs.module ?? '')})${at}${via}`;
    }
    case 'lost':
      return cs.reason === 'frame-pointer'
        ? `lost by frame-pointer unwinding${via}`
        : `lost (stack shows only the process entry)${via}`;
    case 'none':
      return `no caller on the stack${via}`;
    case 'unknown':
      return `[unknown] in ${basename(cs.module ?? '')}${via}`;
  }
}

/** Syscalls shown open; the rest are one click away. */
const SHOWN = 10;

export function syscallsSection(data: ReportData): HTMLElement {
  const list = data.analysis.syscalls;
  const max = list.reduce((m, s) => Math.max(m, s.share), 0);
  const rows = list.map((s) => {
    const bar = el('span', { class: 'seg seg-kernel' });
    bar.style.width = `${max > 0 ? (100 * s.share) / max : 0}%`;
    const sites = el(
      'ul',
      { class: 'plain' },
      ...s.callSites
        .slice(0, 3)
        .map((c) => el('li', null, `${percent(c.share)} `, el('code', null, callSiteText(c)))),
    );
    const paths = el(
      'ul',
      { class: 'plain' },
      ...s.kernelPaths
        .slice(0, 2)
        .map((k) =>
          el(
            'li',
            { title: k.frames.join(' › ') },
            `${percent(k.share)} `,
            el('code', { class: 'path' }, shortPath(k.frames, 4)),
          ),
        ),
    );
    const hot = s.kernelFunctions
      .filter((f) => f.selfShare > 0)
      .slice(0, 3)
      .map((f) => `${f.name} ${percent(f.selfShare)}`)
      .join(', ');
    return [
      el('code', null, s.name),
      percent(s.share),
      el('div', { class: 'bar' }, bar),
      s.containers
        .slice(0, 3)
        .map((c) => `${c.name} ${percent(c.share)}`)
        .join(', '),
      sites,
      paths,
      hot,
    ];
  });
  const head = ['syscall', 'share', '', 'containers', 'call sites', 'kernel paths', 'hot (self)'];
  const body =
    list.length === 0
      ? [el('p', { class: 'none' }, 'No syscall time in this profile.')]
      : [
          table(head, rows.slice(0, SHOWN), 'syscalls'),
          rows.length > SHOWN
            ? el(
                'details',
                null,
                el('summary', null, `${rows.length - SHOWN} more syscalls`),
                table(head, rows.slice(SHOWN), 'syscalls'),
              )
            : null,
        ];
  const total = list.reduce((x, s) => x + s.share, 0);
  // The advice for lost call sites is said once, under the table, not in every row.
  const lost = list.some((s) => s.callSites.some((c) => c.status === 'lost' && c.reason === 'frame-pointer'));
  return section(
    'syscalls',
    'Kernel time by syscall',
    el(
      'p',
      { class: 'muted' },
      `${thousands(list.length)} syscalls listed, ${percent(total)} of all samples.`,
    ),
    ...body,
    lost
      ? el(
          'p',
          { class: 'muted', 'data-note': 'call-sites-lost' },
          'Call sites "lost by frame-pointer unwinding": the libc syscall wrapper has no frame pointer, so the unwinder skipped its caller. Record with --call-graph dwarf to name it.',
        )
      : null,
  );
}

type OffCpuRow = NonNullable<AnalyzeJson['offCpu']>['blocked'][number];

function offCpuRows(list: OffCpuRow[], withDetail: boolean): (string | HTMLElement)[][] {
  return list.map((x) => [
    el('span', { class: 'who' }, x.name),
    `${x.seconds.toFixed(2)} s`,
    x.perSecond.toFixed(2),
    ...(withDetail
      ? [
          x.syscalls
            .slice(0, 3)
            .map((s) => `${s.name} ${s.seconds.toFixed(2)} s`)
            .join(', '),
          x.waitPaths[0]
            ? el(
                'code',
                { class: 'path', title: x.waitPaths[0].frames.join(' › ') },
                shortPath(x.waitPaths[0].frames, 4),
              )
            : '',
        ]
      : []),
  ]);
}

/** Off-CPU time (recordings with context switches): involuntary waits first, then runnable, then voluntary. */
export function offCpuSection(data: ReportData): HTMLElement | null {
  const o = data.analysis.offCpu;
  if (o === null) return null;
  const blockedTable = (list: OffCpuRow[], id: string, what: string) =>
    list.length === 0
      ? el('p', { class: 'none' }, `No ${what} wait during the recording.`)
      : table(
          ['container', 'blocked', 'tasks blocked (avg)', 'under syscall', 'top wait path'],
          offCpuRows(list, true),
          id,
        );
  // Runs analysed before the split have only `blocked`.
  const involuntary = o.involuntary ?? o.blocked;
  const runnable =
    o.runnable.length === 0
      ? null
      : table(
          ['container', 'runnable', 'tasks waiting (avg)'],
          offCpuRows(o.runnable, false),
          'offcpu-runnable',
        );
  const w = o.waits;
  const reasons = (kind: 'involuntary' | 'voluntary') =>
    (w?.reasons ?? [])
      .filter((r) => r.kind === kind && r.seconds >= 0.005)
      .map((r) => `${r.label} ${r.seconds.toFixed(2)} s`)
      .join(', ');
  return section(
    'offcpu',
    'Off-CPU time',
    el(
      'p',
      { class: 'muted' },
      `${thousands(o.switches)} context switches over ${o.windowSeconds.toFixed(1)} s. `,
      'Seconds are task-seconds: several tasks can be off-CPU at once.',
    ),
    w
      ? el(
          'p',
          { class: 'offcpu-split' },
          el('strong', null, `Involuntary ${w.involuntarySeconds.toFixed(2)} s`),
          reasons('involuntary') ? ` (${reasons('involuntary')})` : '',
          '; ',
          `voluntary ${w.voluntarySeconds.toFixed(2)} s`,
          reasons('voluntary') ? ` (${reasons('voluntary')})` : '',
          '.',
        )
      : null,
    w ? el('p', { class: 'muted' }, `How: ${w.rule}`) : null,
    el('h3', null, 'Involuntary waits: I/O, kernel locks, lock waits'),
    blockedTable(involuntary, 'offcpu-involuntary', 'involuntary'),
    runnable ? el('h3', null, 'Runnable, waiting for a CPU') : null,
    runnable,
    preemptionTable(o.preemption),
    o.voluntary ? el('h3', null, 'Voluntary waits: sleep, poll, waiting for work or input') : null,
    o.voluntary ? blockedTable(o.voluntary, 'offcpu-voluntary', 'voluntary') : null,
  );
}

type PreemptionJson = NonNullable<NonNullable<AnalyzeJson['offCpu']>['preemption']>;

/**
 * The victim x culprit matrix as a small heat map: rows are containers that waited runnable,
 * columns what held their CPU; a cell's shade is its share of the row's waiting.
 */
function preemptionTable(m: PreemptionJson | null): HTMLElement | null {
  if (m === null || m.victims.length === 0) return null;
  const g = preemptionGrid(m);
  const heat = (x: number, total: number) => {
    const f = total > 0 ? x / total : 0;
    return el('span', { class: `heat heat-${Math.min(4, Math.floor(f * 5))}` }, x > 0 ? x.toFixed(2) : '·');
  };
  const rows = g.rows.map((r) => [
    el('span', { class: 'who' }, r.victim.name),
    `${r.victim.runnableSeconds.toFixed(2)} s (${percent(r.victim.runnableShare)})`,
    ...r.cells.map((x) => heat(x, r.victim.runnableSeconds)),
    heat(r.other, r.victim.runnableSeconds),
  ]);
  return el(
    'div',
    { class: 'preemption' },
    el('h3', null, 'Who held the CPU while they waited runnable'),
    el(
      'p',
      { class: 'muted' },
      "Rows wait, columns ran on their CPU; seconds of runnable waiting. A container's own column is its threads waiting for each other. ",
      'The share after the seconds is of the time its tasks wanted a CPU (runnable + running).',
    ),
    table(
      ['waiting', 'runnable', ...g.columns.map((c) => c.name), 'other'],
      rows,
      'numeric preemption-matrix',
    ),
  );
}
