/**
 * Diagnosis: known kernel-contention signatures first (antagonist, victims, syscall, call site,
 * kernel path, evidence, fix), then generic findings for heavy kernel time no signature explains,
 * and "the data cannot answer" verdicts instead of guesses.
 */
import type { Profile } from '../model/profile.ts';
import { type Signature, signatures } from '../signatures/catalog.ts';
import type { AnalysisResult } from './analyze.ts';
import type { Attributions } from './attribute.ts';
import { functionNameOf } from './call-site.ts';
import { modeOf } from './categories.ts';
import { containerOf, isContainer, type NameResolver } from './containers.ts';
import { type CounterSet, metricValue } from './counters.ts';
import { callSiteFields } from './diagnose-callsite.ts';
import { counterFindings } from './diagnose-counters.ts';
import { genericFindings } from './diagnose-generic.ts';
import type { Evidence, Finding, Victim } from './findings.ts';
import type { ContainerPairing } from './match-containers.ts';
import { offCpuProfiles } from './off-cpu.ts';
import { labelSamples, type SampleLabels } from './sample-labels.ts';
import { type ContainerMatch, matchSignatures, type SignatureMatch, topOf } from './signature-match.ts';

/** Per-cgroup syscall rates counted around the recording (`crosstalk record`). */
export interface SyscallRateRow {
  cgroup: string;
  perSecond: number;
  top: { name: string; perSecond: number }[];
}

/** A healthy run to compare with: the antagonist is then the container whose time in the path grew most. */
export interface DiagnoseBaseline {
  profile: Profile;
  analysis: AnalysisResult;
  pairing: ContainerPairing;
  counters?: CounterSet;
}

export interface DiagnoseOptions {
  baseline?: DiagnoseBaseline;
  counters?: CounterSet;
  syscallRates?: SyscallRateRow[];
  /** Signatures to match. Default: the built-in catalog. */
  catalog?: Signature[];
  nameOf?: NameResolver;
  attributions?: Attributions;
  /** The profile's sample labels, shared with analyze. Default: computed from `attributions` and `nameOf`. */
  labels?: SampleLabels;
}

/**
 * A victim shares the path when at least this share of host CPU runs in it, in at least
 * VICTIM_MIN_SAMPLES samples: on a serialised host-global path even a small share means the
 * container queues behind the antagonist (0.1% is 1 sample in 1000; 3 samples rule out a fluke).
 */
const VICTIM_MIN_SHARE = 0.001;
const VICTIM_MIN_SAMPLES = 3;
/** Kernel-time series that move with the antagonist's activity at r >= 0.5 count as correlated. */
const MIN_CORRELATION = 0.5;
/** Off-CPU in the path for 1% of the window (10 ms per second, summed over tasks) makes a victim. */
const MIN_BLOCKED = 0.01;
/** Containers with at least half the top container's weight in the path are all storm drivers. */
const STORM_FRACTION = 0.5;

export function diagnose(p: Profile, analysis: AnalysisResult, opts: DiagnoseOptions = {}): Finding[] {
  const cannot = cannotAnswer(analysis);
  const counters = opts.counters;
  const catalog = opts.catalog ?? signatures();
  const out: Finding[] = [...cannot];
  if (counters) out.push(...counterFindings(catalog, counters, analysis));
  if (cannot.length > 0) return sortFindings(out);
  const labels = opts.labels ?? labelSamples(p, { attributions: opts.attributions, nameOf: opts.nameOf });
  const userNames = userNamesOf(p);
  const matches = matchSignatures(
    labels,
    catalog.filter((s) => s.match.kernelFrames.length > 0),
    userNames,
  );
  const kernelWindows = kernelByWindow(labels);
  const total = analysis.input.totalWeight;
  const names = new Map(analysis.containers.map((c) => [c.identity.id, c.identity]));
  const base = opts.baseline ? baselineMatches(opts.baseline, catalog) : null;
  const blocked = blockedInPaths(labels, catalog, userNames);
  for (const m of matches) {
    const f = signatureFinding(m, {
      total,
      names,
      kernelWindows,
      counters,
      base: base?.get(m.signature.id),
      baseline: opts.baseline,
      blocked: blocked?.get(m.signature.id),
    });
    if (f) out.push(f);
  }
  // Generic findings answer the cases no signature explains; with a signature finding they are noise.
  if (!out.some((f) => f.kind === 'signature')) out.push(...genericFindings(labels, analysis, out));
  if (opts.syscallRates) addRateEvidence(out, opts.syscallRates);
  return sortFindings(out);
}

/** "container X called fadvise64 120k times/s": the call rate behind the antagonist's kernel time. */
function addRateEvidence(findings: Finding[], rates: SyscallRateRow[]): void {
  for (const f of findings) {
    if (!f.antagonist || !f.syscall) continue;
    let perSecond = 0;
    for (const row of rates) {
      if (containerOf(row.cgroup).id !== f.antagonist.container) continue;
      perSecond += row.top.find((t) => t.name === f.syscall)?.perSecond ?? 0;
    }
    if (perSecond > 0) {
      f.evidence.push({
        metric: `${f.syscall} calls, ${f.antagonist.name}`,
        value: perSecond,
        unit: 'calls/s',
        baseline: null,
        container: f.antagonist.container,
      });
    }
  }
}

interface BaselineMatch {
  /** Baseline matched weight as a share of the baseline's total. */
  share: number;
  /** Per target container id: the baseline share of its matched container. */
  byContainer: Map<string, number>;
}

/** The baseline's signature matches, with container ids translated to the target's. */
function baselineMatches(b: DiagnoseBaseline, catalog: Signature[]): Map<string, BaselineMatch> {
  const targetOf = new Map([...b.pairing.baselineOf].map(([t, base]) => [base, t]));
  const labels = labelSamples(b.profile, { nameOf: (i) => ({ ...i, id: targetOf.get(i.id) ?? i.id }) });
  const sigs = catalog.filter((s) => s.match.kernelFrames.length > 0);
  const ms = matchSignatures(labels, sigs, userNamesOf(b.profile));
  const total = b.analysis.input.totalWeight || 1;
  return new Map(
    ms.map((m) => [
      m.signature.id,
      {
        share: m.weight / total,
        byContainer: new Map([...m.byContainer].map(([id, c]) => [id, c.weight / total])),
      },
    ]),
  );
}

/**
 * Cannot-answer verdicts first (they qualify everything else), then kernel-path signatures by share
 * of host CPU, then counter-only signatures (CPU pressure, throttling: plain sharing or the
 * container's own limit, whose impact is a different unit), then generic findings.
 */
function sortFindings(f: Finding[]): Finding[] {
  const rank = (x: Finding) =>
    x.kind === 'cannot-answer'
      ? 0
      : x.kind === 'generic'
        ? 3
        : x.kernelPath.length > 0 || x.syscall !== null
          ? 1
          : 2;
  return f.sort((a, b) => rank(a) - rank(b) || b.impact - a.impact);
}

function cannotAnswer(a: AnalysisResult): Finding[] {
  const blocking = a.limitations.filter((l) =>
    ['no-samples', 'no-call-graphs', 'no-kernel-symbols'].includes(l.code),
  );
  return blocking.map((l) => ({
    signature: null,
    kind: 'cannot-answer',
    title: `The data cannot answer which kernel path is contended: ${l.message}`,
    severity: 'info',
    impact: 1,
    antagonist: null,
    victims: [],
    sharedStorm: false,
    syscall: null,
    callSite: null,
    callSiteNote: null,
    kernelPath: [],
    resource: null,
    evidence: [],
    fix: l.message,
    references: [],
  }));
}

/** Function names of the user frames of each stack (memoised), for user-frame signature hints. */
function userNamesOf(p: Profile): (stack: number) => Set<string> {
  const memo = new Map<number, Set<string>>();
  return (stack) => {
    let s = memo.get(stack);
    if (s === undefined) {
      s = new Set();
      for (let n = stack; n !== -1; n = p.stacks.prefix[n]) {
        const f = p.stacks.frame[n];
        if (p.frames.kind[f] !== 1) s.add(functionNameOf(p.strings[p.frames.name[f]]));
      }
      memo.set(stack, s);
    }
    return s;
  };
}

/** Kernel time (as analyze counts it) per container id and window. */
function kernelByWindow(labels: SampleLabels) {
  const out = new Map<string, Float64Array>();
  const { samples } = labels.profile;
  for (let i = 0; i < samples.length; i++) {
    if (modeOf(labels.categoryOf(i)) !== 'kernel') continue;
    const id = labels.identity(i).id;
    let arr = out.get(id);
    if (!arr) {
      arr = new Float64Array(labels.windows.count);
      out.set(id, arr);
    }
    arr[labels.window[i]] += samples.weight[i];
  }
  return out;
}

export function correlation(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  if (n < 3) return 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}

type Names = Map<string, { id: string; name: string; runtime: string }>;

/** What a signature finding is judged with, besides its own matches. */
interface FindingContext {
  total: number;
  names: Names;
  kernelWindows: Map<string, Float64Array>;
  counters: CounterSet | undefined;
  base: BaselineMatch | undefined;
  baseline: DiagnoseBaseline | undefined;
  /** Container id -> share of the recording window its tasks spent blocked in the path (off-CPU). */
  blocked: Map<string, number> | undefined;
}

function signatureFinding(m: SignatureMatch, ctx: FindingContext): Finding | null {
  const { total, names, counters, base, baseline } = ctx;
  const s = m.signature;
  if (total <= 0) return null;
  const share = m.weight / total;
  if (share < s.threshold.hostShare || share === 0) return null;
  if (!needsMet(m, total, counters)) return null;
  if (!requiredCountersMet(s, counters)) return null;
  const ranked = [...m.byContainer].sort((a, b) => b[1].weight - a[1].weight);
  const candidates = ranked.filter(([id]) => isContainerId(id, names));
  const pool = candidates.length > 0 ? candidates : ranked;
  const [antId, ant] = base ? mostGrown(pool, total, base) : pool[0];
  const storm = pool.filter(([, c]) => c.weight >= STORM_FRACTION * ant.weight);
  const sharedStorm = storm.length >= 2;
  const victims = victimsOf(antId, ant, m, ctx, sharedStorm ? storm.map(([id]) => id) : []);
  const site = callSiteFields(topOf(new Map([...ant.byCallSite.values()].map((e) => [e.site, e.weight]))));
  const evidence = evidenceOf(s, m, total, pool, names, counters, base, baseline?.counters);
  for (const [id, f] of [...(ctx.blocked ?? [])].sort((a, b) => b[1] - a[1]).slice(0, 4)) {
    evidence.push({
      metric: `share of the recording its tasks spent blocked (off-CPU) in the path, ${names.get(id)?.name ?? id}`,
      value: f,
      unit: 'fraction',
      baseline: null,
      container: id,
    });
  }
  return {
    signature: s.id,
    kind: 'signature',
    title: s.title,
    severity: share >= s.threshold.critical ? 'critical' : 'warning',
    impact: share,
    antagonist: { container: antId, name: names.get(antId)?.name ?? antId, process: topOf(ant.byProcess) },
    victims,
    sharedStorm,
    syscall: topOf(ant.bySyscall),
    callSite: site.callSite,
    callSiteNote: site.note,
    kernelPath: [...ant.byPath.values()].sort((a, b) => b.weight - a.weight)[0]?.frames ?? [],
    resource: s.resource,
    evidence,
    fix: s.fix,
    references: s.references,
  };
}

/** With a baseline the antagonist is the container whose share in the path grew most. */
function mostGrown(
  pool: [string, ContainerMatch][],
  total: number,
  base: BaselineMatch,
): [string, ContainerMatch] {
  let best = pool[0];
  let bestGrowth = Number.NEGATIVE_INFINITY;
  for (const entry of pool) {
    const growth = entry[1].weight / total - (base.byContainer.get(entry[0]) ?? 0);
    if (growth > bestGrowth) {
      best = entry;
      bestGrowth = growth;
    }
  }
  return bestGrowth > 0 ? best : pool[0];
}

function isContainerId(id: string, names: Names): boolean {
  const n = names.get(id);
  return n !== undefined && isContainer(n as Parameters<typeof isContainer>[0]);
}

/**
 * Off-CPU time in each signature's path, per container, as a share of the recording window:
 * tasks that sleep on the path's locks or wait for its I/O (a journal commit, a drain on every
 * CPU) never show in on-CPU samples.
 */
function blockedInPaths(
  labels: SampleLabels,
  catalog: Signature[],
  userNames: (stack: number) => Set<string>,
): Map<string, Map<string, number>> | null {
  const off = offCpuProfiles(labels.profile);
  if (off === null || !(off.windowSeconds > 0)) return null;
  const sigs = catalog.filter((s) => s.match.kernelFrames.length > 0);
  // The blocked profile shares the string and stack tables: the same attributions and containers apply.
  const blocked = labelSamples(off.blocked, {
    attributions: labels.attributions,
    containers: labels.containers,
  });
  const ms = matchSignatures(blocked, sigs, userNames);
  const window = off.windowSeconds * 1e9;
  return new Map(
    ms.map((m) => [m.signature.id, new Map([...m.byContainer].map(([id, c]) => [id, c.weight / window]))]),
  );
}

/** At least one of the signature's `needsAnyOf` holds (or it lists none). */
function needsMet(m: SignatureMatch, total: number, counters: CounterSet | undefined): boolean {
  const needs = m.signature.needsAnyOf;
  if (!needs || needs.length === 0) return true;
  return needs.some((n, k) => {
    if ('frames' in n) return m.needWeights[k] / total >= n.minShare;
    const v = counters ? metricValue(counters, n.metric) : null;
    return v !== null && v.value >= n.min;
  });
}

function requiredCountersMet(s: Signature, counters: CounterSet | undefined): boolean {
  for (const rule of s.counters) {
    if (rule.role !== 'required') continue;
    const v = counters ? metricValue(counters, rule.metric) : null;
    if (v === null || v.value < rule.min) return false;
  }
  return true;
}

function victimsOf(
  antId: string,
  ant: ContainerMatch,
  m: SignatureMatch,
  ctx: FindingContext,
  storm: string[],
): Victim[] {
  const { total, names, kernelWindows, counters } = ctx;
  const out: Victim[] = [];
  for (const [id, n] of names) {
    if (id === antId || !isContainerId(id, names)) continue;
    const reasons: string[] = [];
    const c = m.byContainer.get(id);
    if (storm.includes(id)) reasons.push('shared-storm');
    if (c && c.weight / total >= VICTIM_MIN_SHARE && c.samples >= VICTIM_MIN_SAMPLES) reasons.push('in-path');
    if (c && c.wait > 0) reasons.push('lock-wait');
    if ((ctx.blocked?.get(id) ?? 0) >= MIN_BLOCKED) reasons.push('blocked-in-path');
    const kw = kernelWindows.get(id);
    if (kw && ant.windows.length >= 10 && correlation(ant.windows, kw) >= MIN_CORRELATION)
      reasons.push('correlated');
    const pressure = counters?.byContainer.get(id);
    if (
      pressure &&
      ['cpu', 'memory', 'io'].some((r) => (pressure.get(`cgroup.${r}.pressure.some`) ?? 0) >= 0.05)
    ) {
      reasons.push('pressure');
    }
    if (reasons.length > 0) out.push({ container: id, name: n.name, reasons });
  }
  return out;
}

function evidenceOf(
  s: Signature,
  m: SignatureMatch,
  total: number,
  pool: [string, ContainerMatch][],
  names: Names,
  counters: CounterSet | undefined,
  base: BaselineMatch | undefined,
  baseCounters: CounterSet | undefined,
): Evidence[] {
  const frames = s.match.kernelFrames.slice(0, 3).join(', ');
  const ev: Evidence[] = [
    {
      metric: `share of host CPU with ${frames}… on the stack`,
      value: m.weight / total,
      unit: 'fraction',
      baseline: base ? base.share : null,
      container: null,
    },
  ];
  m.signature.needsAnyOf?.forEach((n, k) => {
    if (!('frames' in n)) return;
    ev.push({
      metric: `share of host CPU with ${n.frames.join(', ')} on the stack`,
      value: m.needWeights[k] / total,
      unit: 'fraction',
      baseline: null,
      container: null,
    });
  });
  for (const [id, c] of pool.slice(0, 6)) {
    ev.push({
      metric: `share of host CPU in the path, ${names.get(id)?.name ?? id}`,
      value: c.weight / total,
      unit: 'fraction',
      baseline: base ? (base.byContainer.get(id) ?? 0) : null,
      container: id,
    });
    if (c.userFrame > 0 && s.match.userFrames) {
      ev.push({
        metric: `of which with ${s.match.userFrames[0]} on the stack`,
        value: c.userFrame / total,
        unit: 'fraction',
        baseline: null,
        container: id,
      });
    }
  }
  for (const rule of s.counters) {
    const v = counters ? metricValue(counters, rule.metric) : null;
    const b = baseCounters ? metricValue(baseCounters, rule.metric) : null;
    if (v)
      ev.push({
        metric: `${rule.metric} (${rule.unit})`,
        value: v.value,
        unit: unitOf(rule.metric),
        baseline: b?.value ?? null,
        container: v.container,
      });
  }
  return ev;
}

function unitOf(metric: string): Evidence['unit'] {
  if (metric.startsWith('dentry.')) return 'dentries';
  if (metric.endsWith('.bytes.delta')) return 'bytes';
  return 'fraction';
}
