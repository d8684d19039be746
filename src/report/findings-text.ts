/** Findings for a terminal: verdict, antagonist, victims, syscall, call site, path, evidence, fix. */
import { createColors } from 'picocolors';
import type { Evidence, Finding } from '../analysis/findings.ts';
import { percent, safeText } from './safe-text.ts';

function evidenceText(e: Evidence): string {
  const v =
    e.unit === 'fraction'
      ? percent(e.value)
      : e.unit === 'correlation'
        ? `r=${e.value.toFixed(2)}`
        : e.unit === 'CPUs' || e.unit === 'ratio'
          ? `${e.value.toFixed(3)}${e.unit === 'CPUs' ? ' CPUs' : ''}`
          : `${Math.round(e.value).toLocaleString('en-US')} ${e.unit}`;
  const base =
    e.baseline === null
      ? ''
      : ` (baseline ${e.unit === 'fraction' ? percent(e.baseline) : e.unit === 'CPUs' || e.unit === 'ratio' ? e.baseline.toFixed(3) : e.baseline.toLocaleString('en-US')})`;
  return `${safeText(e.metric, 160)}: ${v}${base}`;
}

export function renderFindings(findings: Finding[], color = false): string[] {
  const c = createColors(color);
  const out = [c.bold('Findings')];
  if (findings.length === 0) {
    out.push('  no known kernel-contention signature and no container with heavy kernel time in one syscall');
    return out;
  }
  const tag = { critical: c.red('CRITICAL'), warning: c.yellow('WARNING '), info: c.cyan('INFO    ') };
  findings.forEach((f, i) => {
    if (i > 0) out.push('');
    out.push(`  ${tag[f.severity]}  ${safeText(f.title, 300)}`);
    const line = (label: string, text: string) => out.push(`            ${c.dim(label.padEnd(11))} ${text}`);
    if (f.antagonist) {
      const proc = f.antagonist.process ? ` (${safeText(f.antagonist.process, 40)})` : '';
      const via = f.syscall ? ` via ${safeText(f.syscall, 40)}` : '';
      const site = f.callSite ? ` from ${safeText(f.callSite.function, 100)}${sourceText(f.callSite)}` : '';
      line(
        f.sharedStorm ? 'drivers' : 'antagonist',
        `${driverNames(f, (n) => safeText(n, 60)) ?? safeText(f.antagonist.name, 60)}${proc}${via}${site}`,
      );
    }
    if (f.kind !== 'cannot-answer') line('confidence', confidenceText(f));
    if (f.sharedStorm) {
      line(
        '',
        'every container with this path drives it: each is both victim and antagonist; the shared kernel amplifies it',
      );
    }
    if (f.victims.length > 0) {
      line('victims', f.victims.map(victimText).join('; '));
    }
    if (f.severityBasis === 'antagonist-share' && f.kind === 'signature')
      line('severity', "estimated from the antagonist's share (no baseline with measured victim latency)");
    if (f.severityBasis === 'measured-harm')
      line('severity', "from the victims' measured degradation against the baseline");
    if (f.callSiteNote && f.kind !== 'cannot-answer') line('call site', safeText(f.callSiteNote, 200));
    if (f.kernelPath.length > 0) line('kernel', safeText(shortPath(f.kernelPath), 240));
    if (f.resource) line('shared', safeText(f.resource, 240));
    for (const e of f.evidence.slice(0, 6)) line('evidence', evidenceText(e));
    if (f.kind !== 'cannot-answer') line('fix', safeText(f.fix, 600));
    if (f.references.length > 0) line('see', f.references.map((r) => safeText(r, 120)).join('; '));
  });
  return out;
}

/** `name (in-path, pressure; newfstatat p99 +180%)`: why it is a victim and what it suffered. */
function victimText(v: Finding['victims'][number]): string {
  const harm = v.harm?.summary ? `; ${safeText(v.harm.summary, 160)}` : '';
  return `${safeText(v.name, 60)} (${v.reasons.join(', ')}${harm})`;
}

/** "high: signature, shared-path", or "low: no evidence of harm to another container". */
export function confidenceText(f: Pick<Finding, 'confidence' | 'basis'>): string {
  return `${f.confidence}: ${f.basis.length > 0 ? f.basis.join(', ') : 'no evidence of harm to another container'}`;
}

function shortPath(frames: string[]): string {
  if (frames.length <= 7) return frames.join(' > ');
  return `${frames.slice(0, 2).join(' > ')} > … > ${frames.slice(-5).join(' > ')}`;
}

/** Every driver of a shared storm, the antagonist first; null when the finding has one driver. */
export function driverNames(f: Finding, text: (name: string) => string): string | null {
  const drivers = f.drivers ?? [];
  return f.sharedStorm && drivers.length > 1 ? drivers.map((d) => text(d.name)).join(', ') : null;
}

/** ` at query-server.cc:87`: the file's base name (debug info is untrusted text), or ''. */
export function sourceText(at: { file?: string; line?: number } | undefined): string {
  if (at?.file === undefined || at.line === undefined) return '';
  return ` at ${safeText(at.file.slice(at.file.lastIndexOf('/') + 1), 60)}:${at.line}`;
}
