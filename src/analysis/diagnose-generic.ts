/**
 * Generic findings for heavy kernel time that no signature explains: "container X spends N% of
 * host CPU in kernel path P via syscall S from call site F", so an unknown case still gets a
 * precise, checkable answer.
 */
import type { Attributions } from './attribute.ts';
import { type Blame, type BlameInput, blame } from './blame.ts';
import { type Candidate, candidatesOf } from './blame-paths.ts';
import type { CallSite } from './call-site.ts';
import { isContainer } from './containers.ts';
import { callSiteFields } from './diagnose-callsite.ts';
import { type Evidence, type Finding, verdictFinding } from './findings.ts';
import { wantedKeyOf } from './sample-labels.ts';
import { topOf } from './signature-match.ts';

/** A container's syscall worth a finding: 5% of all host CPU in one syscall's kernel paths. */
const GENERIC_MIN_SHARE = 0.05;
/** A container with 10% of host CPU in the kernel: its top 3 syscalls from 1% of host CPU each. */
const HEAVY_KERNEL_SHARE = 0.1;
const HEAVY_SYSCALL_SHARE = 0.01;
/** From 15% of host CPU a generic finding is a warning, below it information. */
const GENERIC_WARNING_SHARE = 0.15;

interface Described {
  share: number;
  where: string;
  text: string;
  fields: Pick<
    Finding,
    'syscall' | 'callSite' | 'callSiteNote' | 'kernelPath' | 'resource' | 'references' | 'sharedStorm'
  >;
  evidence: Evidence[];
  process: string | null;
}

export function genericFindings(input: BlameInput, existing: Finding[]): Finding[] {
  const { labels, analysis } = input;
  const p = labels.profile;
  const { attributions } = labels;
  const wanted = new Map<string, number>();
  for (const c of analysis.containers) {
    if (!isContainer(c.identity) && analysis.input.hasCgroups) continue;
    // A container busy in the kernel spreads its time over several syscalls (connect, close, read
    // for one connection): its top ones are candidates too, from 1% of host CPU each.
    const heavy = c.kernelShare >= HEAVY_KERNEL_SHARE;
    c.syscalls.forEach((s, rank) => {
      const enough = s.share >= GENERIC_MIN_SHARE || (heavy && rank < 3 && s.share >= HEAVY_SYSCALL_SHARE);
      if (!enough || explained(existing, c.identity.id, s.name)) return;
      wanted.set(`${c.identity.id}\u0000${s.name}`, s.share);
    });
  }
  if (wanted.size === 0) return [];
  const topStack = new Map<string, Map<number, number>>();
  const topComm = new Map<string, Map<string, number>>();
  const { samples } = p;
  const keyOf = wantedKeyOf(labels, wanted);
  for (let i = 0; i < samples.length; i++) {
    const stack = samples.stack[i];
    const a = attributions.of(stack);
    if (a.syscall === null) continue;
    const key = keyOf(i, a.syscall);
    if (key === null) continue;
    const w = samples.weight[i];
    addTo(topStack, key, stack, w);
    addTo(topComm, key, p.strings[samples.comm[i]], w);
  }
  const nameOf = (id: string) => analysis.containers.find((x) => x.identity.id === id)?.identity.name ?? id;
  const total = analysis.input.totalWeight || 1;
  /** What every generic finding says about its path: syscall, call site, kernel path, process. */
  const describe = (c: Candidate): Described => {
    const key = `${c.container}\u0000${c.syscall}`;
    const stacks = [...(topStack.get(key) ?? [])].sort((a, b) => b[1] - a[1]);
    const a = attributions.of(stacks[0][0]);
    const site = callSiteFields(mainCallSite(stacks, attributions));
    const where = site.callSite ? ` from ${site.callSite.function}` : '';
    const path = a.kernelPath.length > 0 ? ` in kernel path ${a.kernelPath.slice(-3).join(' > ')}` : '';
    const share = wanted.get(key) ?? c.weight / total;
    return {
      share,
      where,
      text: `${nameOf(c.container)} spends ${(share * 100).toFixed(1)}% of host CPU in ${c.syscall}${path}${where}`,
      fields: {
        syscall: c.syscall,
        callSite: site.callSite,
        callSiteNote: site.note,
        kernelPath: a.kernelPath,
        resource: null,
        references: [],
        sharedStorm: false,
      },
      evidence: [
        {
          metric: `share of host CPU in ${c.syscall}, ${nameOf(c.container)}`,
          value: share,
          unit: 'fraction' as const,
          baseline: null as number | null,
          container: c.container,
        },
        {
          metric: 'share of host CPU on the top kernel path',
          value: stacks[0][1] / total,
          unit: 'fraction' as const,
          baseline: null,
          container: c.container,
        },
      ],
      process: topOf(topComm.get(key) ?? new Map()),
    };
  };
  const candidates = candidatesOf(input, new Set(wanted.keys())).filter((c) =>
    topStack.has(`${c.container}\u0000${c.syscall}`),
  );
  const { blamed, unblamed } = blame(input, candidates);
  const out: Finding[] = blamed.map((b) => blamedFinding(b, describe(b.candidate), nameOf));
  const victims = new Set(blamed.flatMap((b) => b.victims.map((v) => v.container)));
  if (!input.baseline) {
    // Self-contained work: what it is, the busiest kernel path, with no one to blame.
    for (const c of unblamed.sort((a, b) => b.weight - a.weight).slice(0, 3)) {
      if (victims.has(c.container)) continue;
      const d = describe(c);
      out.push({
        ...d.fields,
        signature: null,
        kind: 'generic',
        title: `Busiest kernel path: ${d.text}; no other container shows harm from it`,
        severity: 'info',
        impact: d.share,
        antagonist: null,
        victims: [],
        callSiteNote: d.fields.callSiteNote,
        evidence: d.evidence,
        fix: `Not a neighbour problem: no other container shares this kernel path, moves with it in time or waits behind it. If ${nameOf(c.container)} itself is slow, check what drives ${c.syscall}${d.where}.`,
        confidence: 'low',
        basis: [],
      });
    }
  }
  // Nothing grew (with a baseline) or nothing heavy stood out: one line, naming no one.
  if (out.length === 0 && !existing.some((f) => f.kind === 'signature'))
    out.push(noHarmFinding(input.baseline !== null));
  return out;
}

function blamedFinding(b: Blame, d: Described, nameOf: (id: string) => string): Finding {
  const c = b.candidate;
  const name = nameOf(c.container);
  const victims = b.victims.map((v) => ({
    container: v.container,
    name: nameOf(v.container),
    reasons: v.reasons,
  }));
  const evidence = [...d.evidence];
  let title = d.text;
  if (b.growth) {
    const g = b.growth;
    evidence[0] = { ...evidence[0], baseline: g.baselineRate === 0 ? 0 : null };
    evidence.unshift({
      metric: `CPUs busy in ${c.syscall} (CPU-seconds per second), ${name}`,
      value: g.rate,
      unit: 'CPUs',
      baseline: g.baselineRate,
      container: c.container,
    });
    title = `${d.text}: grew by ${(g.share * 100).toFixed(1)}% of host CPU against the baseline${g.baselineRate === 0 ? ' (not in the baseline)' : ''}`;
  }
  for (const v of b.victims)
    evidence.push(...v.evidence.map((e) => ({ ...e, metric: `${e.metric}, ${nameOf(v.container)}` })));
  const harm = b.basis.filter((k) => k !== 'growth-vs-baseline');
  const confidence = b.growth
    ? victims.length > 0
      ? 'high'
      : 'medium'
    : harm.length >= 2
      ? 'high'
      : harm.length === 1 && harm[0] === 'time-correlation'
        ? 'low'
        : 'medium';
  const share = b.growth ? b.growth.share : d.share;
  return {
    ...d.fields,
    signature: null,
    kind: 'generic',
    title: victims.length > 0 ? `${title}; slows ${victims.map((v) => v.name).join(', ')}` : title,
    severity: share >= GENERIC_WARNING_SHARE ? 'warning' : 'info',
    impact: share,
    antagonist: { container: c.container, name, process: d.process },
    victims,
    evidence,
    fix: `No known signature matches. Check what drives ${c.syscall} in ${name}${d.where}; the kernel path shows where the time goes. To protect the others meanwhile: a lower cpu.weight or its own cpuset for ${name}.`,
    confidence,
    basis: b.basis,
  };
}

/** When no container shows harm to another: one line that says so, naming no one. */
function noHarmFinding(withBaseline: boolean): Finding {
  return verdictFinding({
    kind: 'generic',
    title: withBaseline
      ? "No container's kernel time grew beyond noise against the baseline: nothing here shows one container slowing another"
      : 'Nothing in the data shows one container harming another (no shared kernel path, time correlation or preemption)',
    impact: 0,
    fix: withBaseline
      ? 'Nothing to change between these runs at the kernel level; if the target is slower, look at its own code and inputs.'
      : 'Record with context switches (crosstalk record does) and compare with a healthy run (diff, doctor --baseline) to see who waits behind whom.',
    confidence: 'low',
  });
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
