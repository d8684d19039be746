/**
 * The diff of two loaded inputs (normalised deltas, container pairing) and the target's diagnosis
 * with the baseline for growth; the differential folded stacks of FlameGraph's difffolded.pl.
 */
import { type AnalysisResult, analyzeProfile } from '../analysis/analyze.ts';
import type { StackAttribution } from '../analysis/attribute.ts';
import { callSiteKey } from '../analysis/call-site-address.ts';
import { diagnose } from '../analysis/diagnose.ts';
import { type DiffResult, diffAnalyses, type Normalization } from '../analysis/diff.ts';
import { diffFolded } from '../analysis/diff-profile.ts';
import type { Finding } from '../analysis/findings.ts';
import type { ExplicitMatch } from '../analysis/match-containers.ts';
import { labelSamples } from '../analysis/sample-labels.ts';
import { diffLatency } from '../analysis/syscall-latency.ts';
import { victimSide } from '../analysis/victim-harm.ts';
import { applyCallSiteLines, reportedCallSites, resolveCallSiteLines } from './call-site-lines.ts';
import type { LoadedInput } from './load.ts';

export interface Diffed {
  diff: DiffResult;
  findings: Finding[];
  target: AnalysisResult;
  baseline: AnalysisResult;
}

/**
 * diffLoaded, then file:line (debug info through addr2line; call-site-lines.ts) for the call
 * sites the target's findings and call-site deltas name. Only those few are resolved.
 */
export async function diffLoadedWithLines(
  base: LoadedInput,
  target: LoadedInput,
  opts: { normalize?: Normalization; match?: ExplicitMatch[]; top?: number } = {},
): Promise<Diffed> {
  const { attributionOf, ...d } = diffLoaded(base, target, opts);
  const lines = await resolveCallSiteLines(
    target.profile,
    attributionOf,
    reportedCallSites(d.target, d.findings),
  );
  if (lines.size === 0) return d;
  const lined = applyCallSiteLines({ result: d.target, findings: d.findings }, lines);
  const callSites = d.diff.callSites.map((x) => {
    const source =
      x.status === 'found' && x.function !== null && x.module !== null
        ? lines.get(callSiteKey(x.syscall, x.function, x.module, x.wrapper))
        : undefined;
    return source === undefined ? x : { ...x, source };
  });
  return { ...d, diff: { ...d.diff, callSites }, target: lined.result, findings: lined.findings };
}

/** Throws DiffError (analysis/diff.ts) when the two inputs cannot be compared. */
export function diffLoaded(
  base: LoadedInput,
  target: LoadedInput,
  opts: { normalize?: Normalization; match?: ExplicitMatch[]; top?: number } = {},
): Diffed & {
  /** The target's stack attribution, for file:line of its call sites (diffLoadedWithLines). */
  attributionOf: (stack: number) => StackAttribution;
} {
  const limits = { topSyscalls: 200, topCallSites: 50, topKernelPaths: 50 };
  const baseResult = {
    ...analyzeProfile(base.profile, { ...limits, nameOf: base.nameOf }),
    syscallLatency: base.latency ?? null,
  };
  const labels = labelSamples(target.profile, { nameOf: target.nameOf });
  const targetResult = {
    ...analyzeProfile(target.profile, { ...limits, labels }),
    syscallLatency: target.latency ?? null,
  };
  const diffed = diffAnalyses(baseResult, targetResult, base.counters, target.counters, opts);
  const latencyChange =
    base.latency && target.latency
      ? diffLatency(base.latency, target.latency, diffed.pairing.baselineOf)
      : null;
  const d = { ...diffed, syscallLatency: latencyChange };
  const diagnosed = diagnose(target.profile, targetResult, {
    labels,
    counters: target.counters ?? undefined,
    syscallRates: target.syscallRates ?? undefined,
    baseline: {
      profile: base.profile,
      analysis: baseResult,
      pairing: d.pairing,
      counters: base.counters ?? undefined,
    },
  });
  // The victim side: measured harm per victim, unharmed ones dropped, severity from degradation.
  const findings = victimSide(diagnosed, {
    latency: target.latency ?? null,
    baselineLatency: base.latency ?? null,
    latencyChange,
    offCpuChange: d.offCpu?.containers ?? null,
    matched: new Set(d.pairing.baselineOf.keys()),
    // Who held the victims' CPUs; a guess when switches were lost, so not used then.
    preemption: targetResult.limitations.some((l) => l.code === 'switches-incomplete')
      ? null
      : (targetResult.offCpu?.preemption ?? null),
    baselinePreemption: baseResult.limitations.some((l) => l.code === 'switches-incomplete')
      ? null
      : (baseResult.offCpu?.preemption ?? null),
    baselineOf: d.pairing.baselineOf,
    counters: target.counters,
    hasBaseline: true,
  });
  return {
    diff: d,
    findings,
    target: targetResult,
    baseline: baseResult,
    attributionOf: (s) => labels.attributions.of(s),
  };
}

/** `stack BASELINE TARGET` lines, containers paired as the diff pairs them. */
export function diffFoldedLoaded(base: LoadedInput, target: LoadedInput, match: ExplicitMatch[]): string[] {
  const ba = analyzeProfile(base.profile, { nameOf: base.nameOf });
  const ta = analyzeProfile(target.profile, { nameOf: target.nameOf });
  const pairing = diffAnalyses(ba, ta, null, null, { match }).pairing;
  const names = (l: LoadedInput) => (i: Parameters<NonNullable<LoadedInput['nameOf']>>[0]) =>
    (l.nameOf ? l.nameOf(i) : i).name;
  return diffFolded(base.profile, target.profile, pairing, names(target));
}
