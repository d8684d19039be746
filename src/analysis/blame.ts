/**
 * Blame for findings no signature explains: which container harms which, and on what evidence.
 * A container is named as the antagonist of a kernel path only with evidence of harm to another
 * container (without a baseline: a shared kernel path, time-window correlation, preemption) or,
 * with a baseline, when its time in the path grew beyond noise. See README.md, "Blame".
 */
import type { AnalysisResult } from './analyze.ts';
import { type Candidate, pathUse, seriesByContainer, sum } from './blame-paths.ts';
import { isContainer } from './containers.ts';
import type { Basis, Evidence, PreemptionMatrix } from './findings.ts';
import type { ContainerPairing } from './match-containers.ts';
import type { OffCpuProfiles } from './off-cpu.ts';
import { labelSamples, type SampleLabels } from './sample-labels.ts';
import { correlation } from './signature-match.ts';
import type { Windows } from './windows.ts';

/** Prefix of a baseline container id with no counterpart in the target. */
export const UNMATCHED = '\u0001';

/** A neighbour is in the path from 0.1% of host CPU, in at least 3 samples (as for signatures). */
const IN_PATH_MIN_SHARE = 0.001;
const IN_PATH_MIN_SAMPLES = 3;
/** Blocked off-CPU in the path for 1% of the window (10 ms per second, summed over tasks). */
const MIN_BLOCKED = 0.01;
/** Series that move together at r >= 0.5 over at least 10 windows count as correlated. */
const MIN_CORRELATION = 0.5;
const MIN_WINDOWS = 10;
/** Runnable waits behind the antagonist for 2% of the window (20 ms per second). */
const MIN_PREEMPTED = 0.02;
/** Growth counts beyond 3 standard deviations of the sampling noise and 10% of the baseline level. */
const NOISE_SIGMAS = 3;
const MIN_RELATIVE_GROWTH = 0.1;
/** ... and at least 0.5% of the target host's CPU, so a flicker never makes an antagonist. */
const MIN_GROWTH_SHARE = 0.005;

/** Blamed findings per antagonist container. */
const MAX_PER_ANTAGONIST = 2;

/** How one neighbour is harmed by a candidate. */
export interface Harmed {
  container: string;
  reasons: string[];
  basis: Basis[];
  evidence: Evidence[];
}

export interface Blame {
  candidate: Candidate;
  victims: Harmed[];
  basis: Basis[];
  /** With a baseline: growth of the candidate's time in the syscall, CPU-seconds per second (or events/s). */
  growth: { rate: number; baselineRate: number; share: number } | null;
}

export interface BlameBaseline {
  /** The baseline's samples, labelled with the ids of the target containers they match (else UNMATCHED + id). */
  labels: SampleLabels;
  analysis: AnalysisResult;
  pairing: ContainerPairing;
}

export interface BlameInput {
  labels: SampleLabels;
  analysis: AnalysisResult;
  offCpu: OffCpuProfiles | null;
  preemption: PreemptionMatrix | null;
  baseline: BlameBaseline | null;
}

/** Everything computed once per diagnosis and shared by the candidates. */
class Context {
  readonly total: number;
  readonly ids: string[];
  readonly share = new Map<string, number>();
  readonly kernel: Map<string, Float64Array>;
  readonly offCpu: Map<string, Float64Array> | null;
  /** The off-CPU blocked profile, labelled like the on-CPU one. */
  readonly blocked: SampleLabels | null;
  readonly windows: Windows;
  readonly windowSeconds: number;
  constructor(readonly input: BlameInput) {
    const { labels, analysis } = input;
    this.total = analysis.input.totalWeight || 1;
    this.ids = analysis.containers.filter((c) => isContainer(c.identity)).map((c) => c.identity.id);
    for (const c of analysis.containers) this.share.set(c.identity.id, c.share);
    this.windows = labels.windows;
    this.kernel = seriesByContainer(labels, this.windows, true);
    this.offCpu = null;
    this.blocked = null;
    if (input.offCpu) {
      // The off-CPU profiles share the string and stack tables: the same attributions and containers.
      const shared = { attributions: labels.attributions, containers: labels.containers };
      this.blocked = labelSamples(input.offCpu.blocked, shared);
      // Blocked and runnable time on the same windows as the on-CPU samples.
      const blocked = seriesByContainer(this.blocked, this.windows, false);
      const runnable = seriesByContainer(labelSamples(input.offCpu.runnable, shared), this.windows, false);
      for (const [id, r] of runnable) {
        const b = blocked.get(id);
        if (b) for (let k = 0; k < r.length; k++) b[k] += r[k];
        else blocked.set(id, r);
      }
      this.offCpu = blocked;
    }
    this.windowSeconds = input.offCpu?.windowSeconds ?? analysis.input.durationSeconds ?? 0;
  }
}

/**
 * Harm a candidate's work does to other containers, from the target run alone: (a) they are in
 * the same kernel functions (on-CPU, less than the candidate, or blocked off-CPU there), (b) their
 * kernel or off-CPU time rises in the windows where the candidate is busy in the path, while the
 * candidate is the bigger kernel user, (c) they wait runnable behind it, more (per CPU-second they
 * use) than it waits behind them.
 */
function harmOf(c: Candidate, ctx: Context): Harmed[] {
  const { input } = ctx;
  const use = pathUse(input.labels, c.path);
  const own = use.get(c.container)?.weight ?? c.weight;
  const blocked = ctx.blocked ? pathUse(ctx.blocked, c.path, true) : null;
  const out: Harmed[] = [];
  for (const id of ctx.ids) {
    if (id === c.container) continue;
    const reasons: string[] = [];
    const basis = new Set<Basis>();
    const evidence: Evidence[] = [];
    const ev = (metric: string, value: number, unit: Evidence['unit']) =>
      evidence.push({ metric, value, unit, baseline: null, container: id });
    const u = use.get(id);
    if (
      u &&
      u.weight < own &&
      u.weight / ctx.total >= IN_PATH_MIN_SHARE &&
      u.samples >= IN_PATH_MIN_SAMPLES
    ) {
      reasons.push('in-path');
      ev('share of host CPU in the same kernel functions', u.weight / ctx.total, 'fraction');
      if (u.wait > 0) {
        reasons.push('lock-wait');
        ev('of which waiting for a lock', u.wait / ctx.total, 'fraction');
      }
      basis.add('shared-path');
    }
    const b = blocked?.get(id);
    if (b && ctx.windowSeconds > 0 && b.weight / 1e9 / ctx.windowSeconds >= MIN_BLOCKED) {
      reasons.push('blocked-in-path');
      ev(
        'share of the recording its tasks spent blocked (off-CPU) in the same kernel functions',
        b.weight / 1e9 / ctx.windowSeconds,
        'fraction',
      );
      basis.add('shared-path');
    }
    if (ctx.windows.count >= MIN_WINDOWS) {
      const kw = ctx.kernel.get(id);
      const ow = ctx.offCpu?.get(id);
      const r = Math.max(kw ? correlation(c.windows, kw) : 0, ow ? correlation(c.windows, ow) : 0);
      if (c.weight > sum(kw) && r >= MIN_CORRELATION) {
        reasons.push('correlated');
        ev('correlation of its kernel or off-CPU time with the path, per window', r, 'correlation');
        basis.add('time-correlation');
      }
    }
    const waited = preempted(c.container, id, ctx);
    if (waited > 0) {
      reasons.push('preempted');
      ev('share of the recording it waited runnable while the antagonist ran', waited, 'fraction');
      basis.add('preemption');
    }
    if (reasons.length > 0) out.push({ container: id, reasons, basis: [...basis], evidence });
  }
  return out;
}

/**
 * Share of the window the victim waited runnable behind the culprit, when it is at least
 * MIN_PREEMPTED and more, per CPU share used, than the culprit waited behind the victim; else 0.
 */
function preempted(culprit: string, victim: string, ctx: Context): number {
  const m = ctx.input.preemption;
  if (!m || !(m.windowSeconds > 0)) return 0;
  const behind = m.waits.get(victim)?.get(culprit) ?? 0;
  if (behind / m.windowSeconds < MIN_PREEMPTED) return 0;
  const back = m.waits.get(culprit)?.get(victim) ?? 0;
  const vShare = ctx.share.get(victim) ?? 0;
  const cShare = ctx.share.get(culprit) ?? 0;
  return vShare > 0 && (cShare === 0 || behind / vShare > back / cShare) ? behind / m.windowSeconds : 0;
}

/** Seconds of recording per unit of weight: CPU-seconds per second when weights are nanoseconds. */
function rateScale(a: AnalysisResult): number {
  const d = a.input.durationSeconds;
  if (d === null || !(d > 0)) return 1 / (a.input.totalWeight || 1);
  return (a.input.weightUnit === 'ns' ? 1e-9 : 1) / d;
}

interface BaseUse {
  /** Per target container id (translated through the pairing): weight and samples per syscall. */
  bySyscall: Map<string, { weight: number; samples: number }>;
  /** Per target container id: weight in the candidate paths is computed on demand. */
  scale: number;
  meanWeight: number;
}

function baselineUse(b: BlameBaseline): BaseUse {
  const bySyscall = new Map<string, { weight: number; samples: number }>();
  const { samples } = b.labels.profile;
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    total += samples.weight[i];
    const a = b.labels.attributions.of(samples.stack[i]);
    if (a.syscall === null) continue;
    const key = `${b.labels.identity(i).id}\u0000${a.syscall}`;
    const e = bySyscall.get(key);
    if (e) {
      e.weight += samples.weight[i];
      e.samples++;
    } else bySyscall.set(key, { weight: samples.weight[i], samples: 1 });
  }
  return {
    bySyscall,
    scale: rateScale(b.analysis),
    meanWeight: samples.length > 0 ? total / samples.length : 0,
  };
}

/** A rate difference beyond sampling noise (Poisson counts on both sides) and the relative floor. */
function grewBeyondNoise(
  t: { weight: number; samples: number },
  b: { weight: number; samples: number },
  tScale: number,
  bScale: number,
  hostRate: number,
): boolean {
  const rt = t.weight * tScale;
  const rb = b.weight * bScale;
  const perT = t.samples > 0 ? (t.weight / t.samples) * tScale : 0;
  const perB = b.samples > 0 ? (b.weight / b.samples) * bScale : 0;
  const sigma = Math.sqrt(t.samples * perT ** 2 + b.samples * perB ** 2);
  const growth = rt - rb;
  return (
    growth > NOISE_SIGMAS * sigma && growth > MIN_RELATIVE_GROWTH * rb && growth > MIN_GROWTH_SHARE * hostRate
  );
}

/**
 * With a baseline, victims are containers whose cost grew: their time in the candidate's path per
 * second, their kernel time per second of their own user time (cost per unit of work), or their
 * off-CPU (blocked + runnable) time per second.
 */
function grownVictims(c: Candidate, ctx: Context, b: BlameBaseline): Harmed[] {
  const { input } = ctx;
  const targetOf = new Map([...b.pairing.baselineOf].map(([t, base]) => [base, t]));
  const tScale = rateScale(input.analysis);
  const bScale = rateScale(b.analysis);
  const hostRate = (input.analysis.input.totalWeight || 1) * tScale;
  const useT = pathUse(input.labels, c.path);
  const useB = pathUse(b.labels, c.path);
  const baseSummary = new Map(b.analysis.containers.map((x) => [targetOf.get(x.identity.id) ?? '', x]));
  const baseOff = offCpuRate(b.analysis, (id) => targetOf.get(id) ?? '');
  const tOff = offCpuRate(input.analysis, (id) => id);
  const out: Harmed[] = [];
  for (const id of ctx.ids) {
    if (id === c.container || !b.pairing.baselineOf.has(id)) continue;
    const reasons: string[] = [];
    const evidence: Evidence[] = [];
    const t = useT.get(id);
    const tb = useB.get(id) ?? { weight: 0, samples: 0, wait: 0 };
    if (t && grewBeyondNoise(t, tb, tScale, bScale, hostRate)) {
      reasons.push('in-path-grew');
      evidence.push({
        metric: 'CPUs busy in the same kernel functions (CPU-seconds per second)',
        value: t.weight * tScale,
        unit: 'CPUs',
        baseline: tb.weight * bScale,
        container: id,
      });
    }
    const tc = input.analysis.containers.find((x) => x.identity.id === id);
    const bc = baseSummary.get(id);
    if (tc && bc && tc.userShare > 0 && bc.userShare > 0) {
      const before = bc.kernelShare / bc.userShare;
      const after = tc.kernelShare / tc.userShare;
      if (after > before * (1 + 2 * MIN_RELATIVE_GROWTH) && tc.samples >= 30 && bc.samples >= 30) {
        reasons.push('kernel-per-work-grew');
        evidence.push({
          metric: 'kernel time per second of its own user time',
          value: after,
          unit: 'ratio',
          baseline: before,
          container: id,
        });
      }
    }
    const to = tOff?.get(id) ?? 0;
    const bo = baseOff?.get(id) ?? 0;
    if (tOff && baseOff && to - bo >= MIN_BLOCKED && to > bo * (1 + MIN_RELATIVE_GROWTH)) {
      reasons.push('off-cpu-grew');
      evidence.push({
        metric: 'tasks off-CPU on average (blocked or runnable)',
        value: to,
        unit: 'ratio',
        baseline: bo,
        container: id,
      });
    }
    if (reasons.length > 0) out.push({ container: id, reasons, basis: ['growth-vs-baseline'], evidence });
  }
  return out;
}

/**
 * Blame for each candidate. Without a baseline: candidates with evidence of harm, biggest first;
 * a candidate whose container is harmed by a bigger one is its victim, not an antagonist. With a
 * baseline: candidates whose time grew beyond noise, by growth; the rest blame no one.
 */
export function blame(
  input: BlameInput,
  candidates: Candidate[],
): { blamed: Blame[]; unblamed: Candidate[] } {
  const ctx = new Context(input);
  const b = input.baseline;
  let scored: Blame[];
  if (b) {
    const base = baselineUse(b);
    const tScale = rateScale(input.analysis);
    const hostRate = (input.analysis.input.totalWeight || 1) * tScale;
    scored = [];
    for (const c of candidates) {
      const before = base.bySyscall.get(`${c.container}\u0000${c.syscall}`) ?? { weight: 0, samples: 0 };
      if (!grewBeyondNoise(c, before, tScale, base.scale, hostRate)) continue;
      const rate = c.weight * tScale;
      const baselineRate = before.weight * base.scale;
      const victims = merge(grownVictims(c, ctx, b), harmOf(c, ctx));
      const basis = new Set<Basis>(['growth-vs-baseline']);
      for (const v of victims) for (const k of v.basis) basis.add(k);
      scored.push({
        candidate: c,
        victims,
        basis: [...basis],
        growth: { rate, baselineRate, share: (rate - baselineRate) / hostRate },
      });
    }
    scored.sort(
      (x, y) =>
        (y.growth?.rate ?? 0) -
        (y.growth?.baselineRate ?? 0) -
        ((x.growth?.rate ?? 0) - (x.growth?.baselineRate ?? 0)),
    );
  } else {
    scored = candidates
      .map((c) => {
        const victims = harmOf(c, ctx);
        const basis = new Set<Basis>();
        for (const v of victims) for (const k of v.basis) basis.add(k);
        return { candidate: c, victims, basis: [...basis], growth: null };
      })
      .filter((s) => s.victims.length > 0)
      .sort((x, y) => y.candidate.weight - x.candidate.weight);
  }
  // A container harmed by a bigger (or faster-growing) antagonist is its victim: never its accuser.
  const blamed: Blame[] = [];
  const victimsSoFar = new Set<string>();
  const perContainer = new Map<string, number>();
  for (const s of scored) {
    if (victimsSoFar.has(s.candidate.container)) continue;
    // One antagonist's work in several syscalls: its two biggest paths say enough.
    const n = perContainer.get(s.candidate.container) ?? 0;
    if (n >= MAX_PER_ANTAGONIST) continue;
    perContainer.set(s.candidate.container, n + 1);
    s.victims = s.victims.filter((v) => !blamed.some((x) => x.candidate.container === v.container));
    blamed.push(s);
    for (const v of s.victims) victimsSoFar.add(v.container);
  }
  const named = new Set(blamed.map((x) => `${x.candidate.container}\u0000${x.candidate.syscall}`));
  const unblamed = candidates.filter((c) => !named.has(`${c.container}\u0000${c.syscall}`));
  return { blamed, unblamed };
}

/** Per container (id mapped): tasks off-CPU on average, blocked plus runnable; null without switches. */
function offCpuRate(a: AnalysisResult, idOf: (id: string) => string): Map<string, number> | null {
  if (!a.offCpu) return null;
  const out = new Map<string, number>();
  for (const x of [...a.offCpu.blocked, ...a.offCpu.runnable]) {
    const id = idOf(x.id);
    out.set(id, (out.get(id) ?? 0) + x.perSecond);
  }
  return out;
}

function merge(a: Harmed[], b: Harmed[]): Harmed[] {
  const out = new Map<string, Harmed>();
  for (const h of [...a, ...b]) {
    const e = out.get(h.container);
    if (!e)
      out.set(h.container, {
        container: h.container,
        reasons: [...h.reasons],
        basis: [...h.basis],
        evidence: [...h.evidence],
      });
    else {
      e.evidence.push(...h.evidence);
      for (const r of h.reasons) if (!e.reasons.includes(r)) e.reasons.push(r);
      for (const k of h.basis) if (!e.basis.includes(k)) e.basis.push(k);
    }
  }
  return [...out.values()];
}
