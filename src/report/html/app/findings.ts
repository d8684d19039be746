/// <reference lib="dom" />
/** Section 1: findings (verdict, antagonist, victims, syscall, call site, kernel path, evidence, fix). */
import type { AnalyzeJson } from '../../schema.ts';
import type { DiffDeltaRow, LabSummary, ReportData } from '../report-data.ts';
import { type Child, el, reference, section, table } from './dom.ts';
import { basename, microseconds, percent, points, shortPath, thousands } from './format.ts';

type Finding = AnalyzeJson['findings'][number];
type Evidence = Finding['evidence'][number];

function evidenceValue(e: Evidence, v: number): string {
  if (e.unit === 'fraction') return percent(v);
  if (e.unit === 'correlation') return `r = ${v.toFixed(2)}`;
  if (e.unit === 'CPUs') return `${v.toFixed(3)} CPUs`;
  if (e.unit === 'ratio') return v.toFixed(3);
  return `${thousands(v)} ${e.unit}`;
}

/**
 * Evidence as a small table: what was measured (its text names the container), the value, and
 * the baseline's value when there is one. The container id is the row's tooltip.
 */
function evidenceTable(list: Evidence[]): HTMLElement {
  const withBaseline = list.some((e) => e.baseline !== null);
  const head = ['measured', 'value', ...(withBaseline ? ['baseline'] : [])];
  return table(
    head,
    list.map((e) => [
      e.container === null ? e.metric : el('span', { title: e.container }, e.metric),
      evidenceValue(e, e.value),
      ...(withBaseline ? [e.baseline === null ? '' : evidenceValue(e, e.baseline)] : []),
    ]),
    'evidence numeric',
  );
}

const verdict: Record<Finding['severity'], string> = {
  critical: 'critical',
  warning: 'warning',
  info: 'info',
};

function row(label: string, ...value: Child[]): HTMLElement[] {
  return [el('dt', null, label), el('dd', null, ...value)];
}

function findingCard(f: Finding): HTMLElement {
  const rows: HTMLElement[] = [];
  if (f.antagonist) {
    const proc = f.antagonist.process ? ` (process ${f.antagonist.process})` : '';
    rows.push(
      ...row(
        f.sharedStorm ? 'drivers' : 'antagonist',
        el(
          'span',
          { class: 'who' },
          f.sharedStorm && f.drivers.length > 1 ? f.drivers.map((d) => d.name).join(', ') : f.antagonist.name,
        ),
        proc,
      ),
    );
  }
  if (f.kind !== 'cannot-answer')
    rows.push(
      ...row(
        'confidence',
        `${f.confidence}: ${f.basis.length > 0 ? f.basis.join(', ') : 'no evidence of harm to another container'}`,
      ),
    );
  if (f.sharedStorm) {
    rows.push(...row('', 'Every container with this path drives it: each is both victim and antagonist.'));
  }
  if (f.victimDetails.length > 0) {
    const list = el('ul', { class: 'plain' });
    for (const v of f.victimDetails)
      list.append(
        el(
          'li',
          null,
          el('span', { class: 'who' }, v.name),
          ` (${v.reasons.join(', ')})`,
          v.harm?.summary ? el('span', { class: 'harm' }, ` ${v.harm.summary}`) : null,
        ),
      );
    rows.push(...row('victims', list));
  }
  if (f.severityBasis === 'measured-harm')
    rows.push(...row('severity', "from the victims' measured degradation against the baseline"));
  else if (f.severityBasis === 'antagonist-share' && f.kind === 'signature')
    rows.push(
      ...row('severity', "estimated from the antagonist's share (no baseline with measured victim latency)"),
    );
  if (f.syscall) rows.push(...row('syscall', el('code', null, f.syscall)));
  if (f.callSite)
    rows.push(
      ...row(
        'call site',
        el('code', null, f.callSite.function),
        ` in ${f.callSite.module}`,
        ...(f.callSite.file && f.callSite.line
          ? [
              ' at ',
              el('code', { title: f.callSite.file }, `${basename(f.callSite.file)}:${f.callSite.line}`),
            ]
          : []),
      ),
    );
  else if (f.callSiteNote && f.kind !== 'cannot-answer') rows.push(...row('call site', f.callSiteNote));
  if (f.kernelPath.length > 0)
    rows.push(
      ...row(
        'kernel path',
        el('code', { class: 'path', title: f.kernelPath.join(' › ') }, shortPath(f.kernelPath, 6)),
      ),
    );
  if (f.resource) rows.push(...row('shared resource', f.resource));
  if (f.evidence.length > 0) rows.push(...row('evidence', evidenceTable(f.evidence)));
  if (f.kind !== 'cannot-answer') rows.push(...row('fix', el('span', { class: 'fix' }, f.fix)));
  if (f.references.length > 0)
    rows.push(
      ...row(
        'references',
        el('ul', { class: 'plain' }, ...f.references.map((r) => el('li', null, reference(r)))),
      ),
    );
  const badge = f.kind === 'cannot-answer' ? 'the data cannot answer' : verdict[f.severity];
  return el(
    'article',
    { class: `finding sev-${f.severity} kind-${f.kind}`, 'data-kind': f.kind, 'data-severity': f.severity },
    el('header', null, el('span', { class: 'badge' }, badge), el('h3', null, f.title)),
    el('dl', null, ...rows),
  );
}

function labBlock(lab: LabSummary): HTMLElement {
  const g = lab.groundTruth;
  return el(
    'div',
    { class: 'lab' },
    el('h3', null, `Lab: ${lab.scenario} (${lab.title})`),
    el(
      'p',
      { class: 'muted' },
      `The victim's latency per phase, median of ${lab.runs} run(s) of ${lab.durationSeconds} s; the lab knows the answer the findings should give.`,
    ),
    table(
      ['phase', 'containers', 'p50', 'p90', 'p99', 'throughput'],
      lab.phases.map((p) => [
        p.label,
        String(p.containers),
        microseconds(p.p50Us),
        microseconds(p.p90Us),
        microseconds(p.p99Us),
        `${thousands(p.throughputPerSec)}/s`,
      ]),
      'numeric',
    ),
    el(
      'dl',
      { class: 'truth' },
      ...row('victim', g.victim),
      ...row('antagonists', g.antagonists.join(', ')),
      ...row('syscall', g.syscall === null ? 'none (CPU time)' : el('code', null, g.syscall)),
      ...row('call site', g.callSite === null ? 'none' : el('code', null, g.callSite)),
      ...row('kernel resource', g.kernelResource),
      ...row('fix', g.fix),
    ),
  );
}

function deltaTable(title: string, rows: DiffDeltaRow[], unit: string): HTMLElement {
  const fmt = (x: number) => (unit === 'share' ? percent(x, 2) : x.toFixed(3));
  const delta = (x: number) => (unit === 'share' ? points(x) : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);
  return el(
    'div',
    null,
    el('h4', null, title),
    table(
      ['', 'baseline', 'target', 'change'],
      rows.map((r) => [
        r.status && r.status !== 'matched' ? `${r.name} (${r.status})` : r.name,
        fmt(r.baseline),
        fmt(r.target),
        el('span', { class: r.delta > 0 ? 'grown' : r.delta < 0 ? 'shrunk' : '' }, delta(r.delta)),
      ]),
      'numeric',
    ),
  );
}

function diffBlock(data: ReportData): HTMLElement | null {
  const d = data.diff;
  if (!d) return null;
  const unitText =
    d.unit === 'share'
      ? "shares of each run's own total"
      : d.unit === 'cpus'
        ? 'CPUs busy on average'
        : 'events per second';
  return el(
    'div',
    { class: 'diff-summary' },
    el('h3', null, 'What changed'),
    el(
      'p',
      { class: 'muted' },
      `baseline ${d.baselineSource} → target ${d.targetSource}; normalised by ${d.normalize} (${unitText}).`,
    ),
    el(
      'div',
      { class: 'cols' },
      deltaTable('CPU time', [d.split.user, d.split.kernel, d.split.idle], d.unit),
      deltaTable('Kernel time by container', d.containers.slice(0, 8), d.unit),
      deltaTable('Kernel time by syscall', d.syscalls.slice(0, 8), d.unit),
      // Tasks on average, whatever the normalisation: deltaTable prints non-shares as numbers.
      d.offCpuBlocked === null
        ? null
        : deltaTable('Blocked tasks by container (off-CPU)', d.offCpuBlocked.slice(0, 8), 'tasks'),
    ),
  );
}

export function findingsSection(data: ReportData): HTMLElement {
  const a = data.analysis;
  const body: Child[] = [];
  if (a.findings.length === 0) {
    body.push(
      el(
        'p',
        { class: 'none' },
        'No known kernel-contention signature, and no container with heavy kernel time in one syscall.',
      ),
    );
  }
  body.push(...a.findings.map(findingCard));
  if (a.limitations.length > 0) {
    body.push(
      el(
        'div',
        { class: 'limitations' },
        el('h3', null, 'What this data cannot answer'),
        el('ul', null, ...a.limitations.map((l) => el('li', null, l.message))),
      ),
    );
  }
  body.push(diffBlock(data));
  if (data.lab) body.push(labBlock(data.lab));
  return section('findings', 'Findings', ...body);
}
