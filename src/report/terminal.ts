/** Human-readable `analyze` summary for a terminal. All profile-derived text goes through safeText. */
import { createColors } from 'picocolors';
import type { AnalysisResult, ContainerSummary } from '../analysis/analyze.ts';
import type { Category } from '../analysis/categories.ts';
import type { Finding } from '../analysis/findings.ts';
import type { OffCpuContainer, OffCpuSummary } from '../analysis/off-cpu.ts';
import type { PreemptionMatrix } from '../analysis/preemption-matrix.ts';
import type { CallSiteSummary, SyscallSummary } from '../analysis/syscalls.ts';
import { renderFindings, sourceText } from './findings-text.ts';
import { renderLatency } from './latency-text.ts';
import { preemptionGrid } from './preemption-grid.ts';
import { pad, percent, safeText, thousands } from './safe-text.ts';

export interface TerminalOptions {
  /** ANSI colours. Default: off (the CLI turns them on for a TTY without NO_COLOR). */
  color?: boolean;
  /** Containers listed. Default 12. */
  containers?: number;
  /** Syscalls detailed. Default 8. */
  syscalls?: number;
}

const categoryLabel: Record<Category, string> = {
  user: 'user',
  syscall: 'syscalls',
  page_fault: 'page faults',
  interrupt: 'interrupts',
  kernel_thread: 'kernel threads',
  idle: 'idle',
  kernel_other: 'other kernel',
  no_stack: 'no stack',
};

export function renderAnalysis(
  a: AnalysisResult,
  opts: TerminalOptions = {},
  findings: Finding[] | null = null,
): string {
  const c = createColors(opts.color ?? false);
  const out: string[] = [];
  const i = a.input;
  const dur = i.durationSeconds === null ? '' : `, ${i.durationSeconds.toFixed(1)} s`;
  out.push(
    c.bold(`crosstalk analyze: ${safeText(i.source)}`),
    c.dim(
      `${i.format}, event ${safeText(i.event)}, ${thousands(i.samples)} samples${dur}, call graphs: ${i.callGraph}`,
    ),
  );
  for (const w of i.warnings) out.push(c.yellow(`warning: ${safeText(w, 400)}`));
  for (const [kind, o] of Object.entries(i.oddities)) {
    out.push(
      c.yellow(
        `warning: ${o.count} ${kind}${o.count > 1 ? 's' : ''} skipped (first at line ${o.firstLine}: ${safeText(o.example, 80)})`,
      ),
    );
  }
  if (findings !== null) out.push('', ...renderFindings(findings, opts.color ?? false));
  out.push('');
  out.push(
    `${c.bold('CPU time')}   user ${percent(a.split.user)}   kernel ${percent(a.split.kernel)}   idle ${percent(a.split.idle)}` +
      (a.split.unknown > 0 ? `   no stack ${percent(a.split.unknown)}` : ''),
  );
  const kernelCats = a.categories.filter(
    (x) => x.category !== 'user' && x.category !== 'idle' && x.category !== 'no_stack',
  );
  if (kernelCats.length > 0) {
    out.push(
      `  kernel time by entry: ${kernelCats.map((x) => `${categoryLabel[x.category]} ${percent(x.share)}`).join(', ')}`,
    );
  }
  out.push(
    '',
    ...hostTable(a, c.bold),
    ...containerTable(a.containers.slice(0, opts.containers ?? 12), c.bold),
  );
  if (a.containers.length > (opts.containers ?? 12)) {
    out.push(c.dim(`  … ${a.containers.length - (opts.containers ?? 12)} more containers (see --json)`));
  }
  out.push('', c.bold('Kernel time by syscall (share of all samples)'));
  if (a.syscalls.length === 0) out.push('  no syscall time in this profile');
  for (const s of a.syscalls.slice(0, opts.syscalls ?? 8)) out.push(...syscallBlock(s));
  if (a.offCpu) out.push('', ...offCpuBlock(a.offCpu, c.bold));
  if (a.syscallLatency) out.push('', ...renderLatency(a.syscallLatency, c.bold));
  if (a.limitations.length > 0) {
    out.push('', c.bold('What this data cannot answer'));
    for (const l of a.limitations) out.push(c.yellow(`  - ${l.message}`));
  }
  return `${out.join('\n')}\n`;
}

function containerLabel(s: ContainerSummary): string {
  const id = s.identity;
  const rt = id.runtime === 'host' || id.runtime === 'unknown' ? '' : ` (${id.runtime})`;
  const host = s.host === '' ? '' : `${s.host}: `;
  return safeText(`${host}${id.name}${rt}`, 43);
}

/** Multi-host input: one line per host, before the containers (which carry a `host: ` prefix). */
function hostTable(a: AnalysisResult, bold: (s: string) => string): string[] {
  if (a.hosts.length === 0) return [];
  const rows = [
    bold(
      `${pad('Host', 46)}${pad('share', 8, true)}${pad('user', 8, true)}${pad('kernel', 8, true)}${pad('idle', 8, true)}   samples`,
    ),
  ];
  for (const h of a.hosts) {
    rows.push(
      `  ${pad(safeText(h.name, 43), 44)}${pad(percent(h.share), 8, true)}${pad(percent(h.userShare), 8, true)}` +
        `${pad(percent(h.kernelShare), 8, true)}${pad(percent(h.idleShare), 8, true)}   ${thousands(h.samples)}`,
    );
  }
  return [...rows, ''];
}

function containerTable(list: ContainerSummary[], bold: (s: string) => string): string[] {
  const rows = [
    bold(
      `${pad('Container', 46)}${pad('share', 8, true)}${pad('user', 8, true)}${pad('kernel', 8, true)}${pad('idle', 8, true)}   top syscalls`,
    ),
  ];
  for (const s of list) {
    const top = s.syscalls
      .slice(0, 3)
      .map((x) => `${safeText(x.name, 32)} ${percent(x.share)}`)
      .join(', ');
    rows.push(
      `  ${pad(containerLabel(s), 44)}${pad(percent(s.share), 8, true)}${pad(percent(s.userShare), 8, true)}` +
        `${pad(percent(s.kernelShare), 8, true)}${pad(percent(s.idleShare), 8, true)}   ${top}`,
    );
  }
  return rows;
}

export function callSiteText(cs: CallSiteSummary): string {
  const via = cs.wrapper ? ` via ${safeText(cs.wrapper, 60)}` : '';
  switch (cs.status) {
    case 'found':
      return `${safeText(cs.function, 100)} (${safeText(basename(cs.module), 40)})${sourceText(cs.source)}${via}`;
    case 'lost':
      return cs.reason === 'frame-pointer'
        ? `call site lost by frame-pointer unwinding${via}; record with --call-graph dwarf`
        : `call site lost (stack shows only the process entry)${via}; record with --call-graph dwarf`;
    case 'none':
      return `no caller on the stack${via}`;
    case 'unknown':
      return `[unknown] in ${safeText(basename(cs.module), 60)}${via}`;
  }
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? p : p.slice(i + 1);
}

function syscallBlock(s: SyscallSummary): string[] {
  const out = [`  ${pad(safeText(s.name, 40), 28)}${pad(percent(s.share), 7, true)}`];
  out.push(
    `      containers: ${s.containers
      .slice(0, 4)
      .map((c) => `${safeText(c.host === '' ? c.name : `${c.host}: ${c.name}`, 40)} ${percent(c.share)}`)
      .join(', ')}`,
  );
  for (const cs of s.callSites.slice(0, 3))
    out.push(`      call site ${pad(percent(cs.share), 6, true)}  ${callSiteText(cs)}`);
  for (const k of s.kernelPaths.slice(0, 2)) {
    out.push(`      kernel    ${pad(percent(k.share), 6, true)}  ${safeText(shortPath(k.frames), 200)}`);
  }
  const hot = s.kernelFunctions
    .filter((f) => f.selfShare > 0)
    .slice(0, 4)
    .map((f) => `${safeText(f.name, 40)} ${percent(f.selfShare)}`);
  if (hot.length > 0) out.push(`      hot (self): ${hot.join(', ')}`);
  return out;
}

/** Long kernel paths keep the entry and the last frames, where the time is. */
function shortPath(frames: string[]): string {
  if (frames.length === 0) return '(sampled in the entry code itself)';
  if (frames.length <= 6) return frames.join(' > ');
  return `${frames.slice(0, 2).join(' > ')} > … > ${frames.slice(-4).join(' > ')}`;
}

function offCpuBlock(o: OffCpuSummary, bold: (s: string) => string): string[] {
  const out = [
    bold(
      `Off-CPU time (${o.switches.toLocaleString('en-US')} context switches over ${o.windowSeconds.toFixed(1)} s)`,
    ),
  ];
  const row = (x: OffCpuContainer) => {
    const sys = x.syscalls.map((s) => `${safeText(s.name, 32)} ${s.seconds.toFixed(2)} s`).join(', ');
    const wait = x.waitPaths[0] ? `; waits in ${safeText(x.waitPaths[0].frames.join(' > '), 120)}` : '';
    return `  ${pad(safeText(x.name, 40), 42)}${pad(`${x.seconds.toFixed(2)} s`, 10, true)}  ${sys}${wait}`;
  };
  out.push(...waitSplitLines(o));
  out.push('  involuntary waits (I/O, kernel locks, lock waits), by container:');
  if (o.involuntary.length === 0) out.push('    none');
  for (const x of o.involuntary.slice(0, 6)) out.push(row(x));
  if (o.runnable.length > 0) {
    out.push('  runnable but waiting for a CPU (involuntary):');
    for (const x of o.runnable.slice(0, 4))
      out.push(`  ${pad(safeText(x.name, 40), 42)}${pad(`${x.seconds.toFixed(2)} s`, 10, true)}`);
  }
  if (o.voluntary.length > 0) {
    out.push('  voluntary waits (sleep, poll, waiting for work or input), by container:');
    for (const x of o.voluntary.slice(0, 4)) out.push(row(x));
  }
  if (o.preemption && o.preemption.victims.length > 0) out.push(...preemptionBlock(o.preemption));
  return out;
}

/** The split's totals, involuntary first, and what it rests on. */
function waitSplitLines(o: OffCpuSummary): string[] {
  const w = o.waits;
  const part = (kind: 'involuntary' | 'voluntary') =>
    w.reasons
      .filter((r) => r.kind === kind && r.seconds >= 0.005)
      .slice(0, 4)
      .map((r) => `${r.label} ${r.seconds.toFixed(2)} s`)
      .join(', ');
  return [
    `  involuntary ${w.involuntarySeconds.toFixed(2)} s${part('involuntary') ? ` (${part('involuntary')})` : ''}`,
    `  voluntary   ${w.voluntarySeconds.toFixed(2)} s${part('voluntary') ? ` (${part('voluntary')})` : ''}`,
    '  (split by task state and wait path: a heuristic; an unnamed interruptible sleep counts as voluntary)',
  ];
}

/** Rows: containers that waited runnable; columns: what held their CPU; cells: seconds. */
function preemptionBlock(m: PreemptionMatrix): string[] {
  const g = preemptionGrid(m);
  const cell = (x: string) => pad(x, 12, true);
  const out = [
    '  who held the CPU while they waited runnable (seconds; rows wait, columns ran):',
    `  ${pad('', 32)}${pad('waiting', 16, true)}${g.columns.map((c) => cell(safeText(c.name, 11))).join('')}${cell('other')}`,
  ];
  for (const r of g.rows) {
    const v = r.victim;
    const waiting = `${v.runnableSeconds.toFixed(2)} s ${(v.runnableShare * 100).toFixed(0)}%`;
    out.push(
      `  ${pad(safeText(v.name, 30), 32)}${pad(waiting, 16, true)}${r.cells.map((x) => cell(x.toFixed(2))).join('')}${cell(r.other.toFixed(2))}`,
    );
  }
  return out;
}
