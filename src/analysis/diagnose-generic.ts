/**
 * Generic findings for heavy kernel time that no signature explains: "container X spends N% of
 * host CPU in kernel path P via syscall S from call site F", so an unknown case still gets a
 * precise, checkable answer.
 */
import type { AnalysisResult } from './analyze.ts';
import type { Attributions } from './attribute.ts';
import type { CallSite } from './call-site.ts';
import { isContainer } from './containers.ts';
import { callSiteFields } from './diagnose-callsite.ts';
import type { Finding } from './findings.ts';
import type { SampleLabels } from './sample-labels.ts';
import { topOf } from './signature-match.ts';

/** A container's syscall worth a finding: 5% of all host CPU in one syscall's kernel paths. */
const GENERIC_MIN_SHARE = 0.05;
/** From 15% of host CPU a generic finding is a warning, below it information. */
const GENERIC_WARNING_SHARE = 0.15;

export function genericFindings(
  labels: SampleLabels,
  analysis: AnalysisResult,
  existing: Finding[],
): Finding[] {
  const p = labels.profile;
  const { attributions } = labels;
  const wanted = new Map<string, number>();
  for (const c of analysis.containers) {
    if (!isContainer(c.identity) && analysis.input.hasCgroups) continue;
    for (const s of c.syscalls) {
      if (s.share < GENERIC_MIN_SHARE || explained(existing, c.identity.id, s.name)) continue;
      wanted.set(`${c.identity.id}\u0000${s.name}`, s.share);
    }
  }
  if (wanted.size === 0) return [];
  const topStack = new Map<string, Map<number, number>>();
  const topComm = new Map<string, Map<string, number>>();
  const { samples } = p;
  for (let i = 0; i < samples.length; i++) {
    const stack = samples.stack[i];
    const a = attributions.of(stack);
    if (a.syscall === null) continue;
    const key = `${labels.identity(i).id}\u0000${a.syscall}`;
    if (!wanted.has(key)) continue;
    const w = samples.weight[i];
    addTo(topStack, key, stack, w);
    addTo(topComm, key, p.strings[samples.comm[i]], w);
  }
  const out: Finding[] = [];
  for (const [key, share] of wanted) {
    const [id, syscall] = key.split('\u0000');
    const stacks = [...(topStack.get(key) ?? [])].sort((a, b) => b[1] - a[1]);
    if (stacks.length === 0) continue;
    const a = attributions.of(stacks[0][0]);
    const c = analysis.containers.find((x) => x.identity.id === id);
    const site = callSiteFields(mainCallSite(stacks, attributions));
    const where = site.callSite ? ` from ${site.callSite.function}` : '';
    const path = a.kernelPath.length > 0 ? ` in kernel path ${a.kernelPath.slice(-3).join(' > ')}` : '';
    out.push({
      signature: null,
      kind: 'generic',
      title: `${c?.identity.name ?? id} spends ${(share * 100).toFixed(1)}% of host CPU in ${syscall}${path}${where}`,
      severity: share >= GENERIC_WARNING_SHARE ? 'warning' : 'info',
      impact: share,
      antagonist: {
        container: id,
        name: c?.identity.name ?? id,
        process: topOf(topComm.get(key) ?? new Map()),
      },
      victims: [],
      sharedStorm: false,
      syscall,
      callSite: site.callSite,
      callSiteNote: site.note,
      kernelPath: a.kernelPath,
      resource: null,
      evidence: [
        {
          metric: `share of host CPU in ${syscall}`,
          value: share,
          unit: 'fraction',
          baseline: null,
          container: id,
        },
        {
          metric: 'share of host CPU on the top kernel path',
          value: stacks[0][1] / (analysis.input.totalWeight || 1),
          unit: 'fraction',
          baseline: null,
          container: id,
        },
      ],
      fix: `No known signature matches. Check what drives ${syscall} in ${c?.identity.name ?? id}${where}; the kernel path shows where the time goes.`,
      references: [],
    });
  }
  return out;
}

function addTo<K>(m: Map<string, Map<K, number>>, key: string, k: K, w: number): void {
  let inner = m.get(key);
  if (!inner) {
    inner = new Map();
    m.set(key, inner);
  }
  inner.set(k, (inner.get(k) ?? 0) + w);
}

/** The call site carrying the most weight; a named one wins if it carries a quarter of it. */
function mainCallSite(stacks: [number, number][], attributions: Attributions): CallSite | null {
  const bySite = new Map<string, { site: CallSite | null; weight: number }>();
  let total = 0;
  for (const [stack, w] of stacks) {
    const site = attributions.of(stack).callSite;
    const key = JSON.stringify(site);
    const e = bySite.get(key);
    if (e) e.weight += w;
    else bySite.set(key, { site, weight: w });
    total += w;
  }
  const ranked = [...bySite.values()].sort((a, b) => b.weight - a.weight);
  const found = ranked.find((e) => e.site?.status === 'found');
  return found && found.weight >= total / 4 ? found.site : (ranked[0]?.site ?? null);
}

/** Already covered: the container drives a finding through this syscall, or is a victim of one. */
function explained(findings: Finding[], container: string, syscall: string): boolean {
  return findings.some(
    (f) =>
      (f.syscall === syscall && f.antagonist?.container === container) ||
      f.victims.some((v) => v.container === container && v.reasons.includes('in-path')),
  );
}
