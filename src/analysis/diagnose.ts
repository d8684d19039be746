/**
 * Diagnosis: known kernel-contention signatures first (antagonist, victims, syscall, call site,
 * kernel path, evidence, fix), then generic findings for heavy kernel time no signature explains,
 * and "the data cannot answer" verdicts instead of guesses.
 */
import type { Profile } from '../model/profile.ts';
import { type Signature, signatures } from '../signatures/catalog.ts';
import type { AnalysisResult } from './analyze.ts';
import type { Attributions } from './attribute.ts';
import { type BlameBaseline, UNMATCHED } from './blame.ts';
import { functionNameOf } from './call-site.ts';
import { modeOf } from './categories.ts';
import { containerOf, isContainer, type NameResolver } from './containers.ts';
import { type CounterSet, metricValue } from './counters.ts';
import { callSiteFields } from './diagnose-callsite.ts';
import { counterFindings } from './diagnose-counters.ts';
import { genericFindings } from './diagnose-generic.ts';
import { preemptionFindings, stealFinding } from './diagnose-preemption.ts';
import {
  type Basis,
  type Finding,
  type PreemptionMatrix,
  sortFindings,
  type Victim,
  verdictFinding,
} from './findings.ts';
import type { ContainerPairing } from './match-containers.ts';
import { offCpuProfiles } from './off-cpu.ts';
import { blameMatrixOf } from './preemption.ts';
import { labelSamples, type SampleLabels } from './sample-labels.ts';
import { type BaselineMatch, evidenceOf, type Names } from './signature-evidence.ts';
import {
  type ContainerMatch,
  correlation,
  matchSignatures,
  type SignatureMatch,
  topOf,
} from './signature-match.ts';

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

export { correlation };

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
  /** Runnable waits by culprit (context switches), for blame by preemption. */
  preemption?: PreemptionMatrix;
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
  const cpu = cpuNeighbourFindings(analysis, catalog, counters, out, opts.baseline);
  out.push(...cpu);
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
  // Generic findings answer the cases no kernel-path signature explains; beside one they are noise.
  // Counter findings (CPU pressure, throttling) name no kernel path and leave them in.
  if (!out.some((f) => f.kind === 'signature' && (f.kernelPath.length > 0 || f.syscall !== null)))
    out.push(
      ...genericFindings(
        {
          labels,
          analysis,
          offCpu: offCpuProfiles(p),
          preemption: opts.preemption ?? blameMatrixOf(analysis.offCpu?.preemption ?? null),
          baseline: opts.baseline ? blameBaseline(opts.baseline) : null,
        },
        out,
      ),
    );
  if (opts.syscallRates) addRateEvidence(out, opts.syscallRates);
  return sortFindings(out);
}

/**
 * Run-queue contention from the context switches (works without call graphs or kernel symbols),
 * and hypervisor steal. A counter-only runqueue-contention finding (cpu.pressure, whose
 * antagonist is a guess) is removed when the switches name a culprit for each of its victims.
 */
function cpuNeighbourFindings(
  analysis: AnalysisResult,
  catalog: Signature[],
  counters: CounterSet | undefined,
  out: Finding[],
  baseline: DiagnoseBaseline | undefined,
): Finding[] {
  // With switches missing (sampled or lost), who held a CPU is a guess: the matrix is shown, no one blamed.
  const complete = !analysis.limitations.some((l) => l.code === 'switches-incomplete');
  const m = complete ? (analysis.offCpu?.preemption ?? null) : null;
  const base = baseline?.analysis.offCpu?.preemption;
  const found = m
    ? preemptionFindings(
        m,
        catalog.find((s) => s.id === RUNQUEUE),
        counters,
        base ? { matrix: base, baselineOf: (id) => baseline?.pairing.baselineOf.get(id) ?? id } : undefined,
      )
    : [];
  const covered = new Set(found.flatMap((f) => f.victims.map((v) => v.container)));
  for (let i = out.length - 1; i >= 0; i--) {
    const f = out[i];
    if (f.signature === RUNQUEUE && f.victims.every((v) => covered.has(v.container))) out.splice(i, 1);
  }
  const steal = stealFinding(counters, m);
  return steal ? [...found, steal] : found;
}

const RUNQUEUE = 'runqueue-contention';

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

/** The baseline labelled with target container ids (unmatched baseline containers keep their own, marked). */
function blameBaseline(b: DiagnoseBaseline): BlameBaseline {
  const targetOf = new Map([...b.pairing.baselineOf].map(([t, base]) => [base, t]));
  const labels = labelSamples(b.profile, {
    nameOf: (i) => ({ ...i, id: targetOf.get(i.id) ?? `${UNMATCHED}${i.id}` }),
  });
  return { labels, analysis: b.analysis, pairing: b.pairing };
}

function cannotAnswer(a: AnalysisResult): Finding[] {
  const blocking = a.limitations.filter((l) =>
    ['no-samples', 'no-call-graphs', 'no-kernel-symbols'].includes(l.code),
  );
  return blocking.map((l) =>
    verdictFinding({
      kind: 'cannot-answer',
      title: `The data cannot answer which kernel path is contended: ${l.message}`,
      impact: 1,
      fix: l.message,
      confidence: 'high',
    }),
  );
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
  const [antId, ant] = base ? mostGrown(pool, total, base) : causeFirst(pool);
  const storm = pool.filter(([, c]) => c.weight >= STORM_FRACTION * ant.weight);
  const sharedStorm = storm.length >= 2;
  const victims = victimsOf(antId, ant, m, ctx, sharedStorm ? storm.map(([id]) => id) : []);
  const grew = base !== undefined && ant.weight / total > (base.byContainer.get(antId) ?? 0);
  const basis = signatureBasis(victims, grew);
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
    drivers: sharedStorm ? storm.map(([id]) => ({ container: id, name: names.get(id)?.name ?? id })) : [],
    syscall: topOf(ant.bySyscall),
    callSite: site.callSite,
    callSiteNote: site.note,
    kernelPath: [...ant.byPath.values()].sort((a, b) => b.weight - a.weight)[0]?.frames ?? [],
    resource: s.resource,
    evidence,
    fix: s.fix,
    references: s.references,
    confidence: basis.length > 1 ? 'high' : 'medium',
    basis,
  };
}

/** What a signature finding's blame rests on, from its victims' reasons and the baseline. */
function signatureBasis(victims: Victim[], grew: boolean): Basis[] {
  const reasons = new Set(victims.flatMap((v) => v.reasons));
  const basis: Basis[] = ['signature'];
  if (grew) basis.push('growth-vs-baseline');
  if (['in-path', 'lock-wait', 'blocked-in-path', 'shared-storm'].some((r) => reasons.has(r)))
    basis.push('shared-path');
  if (reasons.has('correlated')) basis.push('time-correlation');
  if (reasons.has('pressure')) basis.push('pressure');
  return basis;
}

/**
 * Without a baseline: the container with most weight in the signature's cause frames (`needsAnyOf`
 * frames, e.g. d_alloc_parallel for negative dentries, not counting a container whose `exceptWith`
 * frames show it as ordinary work), when any has some; else the most in the path. A victim whose
 * lookups walk the polluted path can spend more there than the neighbour that pollutes it; only
 * the neighbour runs the cause.
 */
function causeFirst(pool: [string, ContainerMatch][]): [string, ContainerMatch] {
  let best = pool[0];
  for (const entry of pool) if (entry[1].need > best[1].need) best = entry;
  return best[1].need > 0 ? best : pool[0];
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
