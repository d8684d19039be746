/** The `--json` document of `analyze`: the analysis result in the shape schema.ts defines. */
import type { AnalysisResult, ContainerSummary } from '../analysis/analyze.ts';
import type { HostFinding, VictimHarm } from '../analysis/findings.ts';
import type { OffCpuContainer } from '../analysis/off-cpu.ts';
import type { OffCpuWaits } from '../analysis/off-cpu-waits.ts';
import type { PreemptionMatrix } from '../analysis/preemption-matrix.ts';
import type { LatencySummary } from '../analysis/syscall-latency.ts';
import type { CallSiteSummary } from '../analysis/syscalls.ts';
import { UNKNOWN_PID } from '../model/profile.ts';
import { ANALYZE_SCHEMA_VERSION, type AnalyzeJson } from './schema.ts';

export const TOOL_VERSION = '0.1.0';

/** Shares are rounded to 6 decimals: enough for 1 sample in a million, without float noise. */
function r(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function callSiteJson(c: CallSiteSummary): AnalyzeJson['syscalls'][number]['callSites'][number] {
  switch (c.status) {
    case 'found':
      return {
        status: 'found',
        function: c.function,
        module: c.module,
        wrapper: c.wrapper,
        reason: null,
        share: r(c.share),
        file: c.source?.file ?? null,
        line: c.source?.line ?? null,
      };
    case 'lost':
      return {
        status: 'lost',
        function: null,
        module: null,
        wrapper: c.wrapper || null,
        reason: c.reason,
        share: r(c.share),
        file: null,
        line: null,
      };
    case 'none':
      return {
        status: 'none',
        function: null,
        module: null,
        wrapper: c.wrapper,
        reason: null,
        share: r(c.share),
        file: null,
        line: null,
      };
    case 'unknown':
      return {
        status: 'unknown',
        function: null,
        module: c.module,
        wrapper: c.wrapper,
        reason: null,
        share: r(c.share),
        file: null,
        line: null,
      };
  }
}

function containerJson(c: ContainerSummary): AnalyzeJson['containers'][number] {
  const id = c.identity;
  return {
    id: id.id,
    host: c.host === '' ? null : c.host,
    name: id.name,
    runtime: id.runtime,
    kind: id.kind,
    cgroup: id.cgroup,
    cgroups: c.cgroups,
    shortId: id.shortId ?? null,
    pod: id.pod
      ? {
          uid: id.pod.uid,
          qos: id.pod.qos ?? null,
          name: id.pod.name ?? null,
          namespace: id.pod.namespace ?? null,
        }
      : null,
    image: id.image ?? null,
    samples: c.samples,
    share: r(c.share),
    userShare: r(c.userShare),
    kernelShare: r(c.kernelShare),
    idleShare: r(c.idleShare),
    categories: c.categories.map((x) => ({ category: x.category, share: r(x.share) })),
    syscalls: c.syscalls.map((s) => ({ name: s.name, share: r(s.share) })),
    processes: c.processes.map((p) => ({
      comm: p.comm,
      pid: p.pid === UNKNOWN_PID ? null : p.pid,
      share: r(p.share),
    })),
  };
}

/** A finding of one host's diagnosis in a multi-host analysis carries that host. */

const micro = (x: number) => Math.round(x * 1e6) / 1e6;

function roundWaits(w: OffCpuWaits): OffCpuWaits {
  return {
    ...w,
    involuntarySeconds: micro(w.involuntarySeconds),
    voluntarySeconds: micro(w.voluntarySeconds),
    preemptedSeconds: micro(w.preemptedSeconds),
    reasons: w.reasons.map((r) => ({ ...r, seconds: micro(r.seconds) })),
  };
}

function roundOffCpu(c: OffCpuContainer): OffCpuContainer {
  const ms = micro;
  return {
    ...c,
    ...(c.involuntarySeconds === undefined ? {} : { involuntarySeconds: ms(c.involuntarySeconds) }),
    ...(c.voluntarySeconds === undefined ? {} : { voluntarySeconds: ms(c.voluntarySeconds) }),
    seconds: ms(c.seconds),
    perSecond: ms(c.perSecond),
    syscalls: c.syscalls.map((x) => ({ ...x, seconds: ms(x.seconds) })),
    waitPaths: c.waitPaths.map((x) => ({ ...x, seconds: ms(x.seconds) })),
  };
}

/** The matrix's top rows and columns, seconds to the microsecond, cells under 1 ms left out. */
function preemptionJson(m: PreemptionMatrix): NonNullable<AnalyzeJson['offCpu']>['preemption'] {
  const ms = (x: number) => Math.round(x * 1e6) / 1e6;
  return {
    windowSeconds: ms(m.windowSeconds),
    victims: m.victims.slice(0, 10).map((v) => ({
      ...v,
      runnableSeconds: ms(v.runnableSeconds),
      onCpuSeconds: ms(v.onCpuSeconds),
      runnableShare: r(v.runnableShare),
      byKind: {
        foreign: ms(v.byKind.foreign),
        self: ms(v.byKind.self),
        kernel: ms(v.byKind.kernel),
        idle: ms(v.byKind.idle),
        unknown: ms(v.byKind.unknown),
      },
      waits: v.waits.filter((w) => w.seconds >= 0.001).map((w) => ({ ...w, seconds: ms(w.seconds) })),
    })),
    culprits: m.culprits.slice(0, 10).map((c) => ({
      ...c,
      onCpuSeconds: ms(c.onCpuSeconds),
      causedSeconds: ms(c.causedSeconds),
    })),
    ambiguousSeconds: ms(m.ambiguousSeconds),
  };
}

export function findingJson(f: HostFinding): AnalyzeJson['findings'][number] {
  return {
    host: f.host === undefined || f.host === '' ? null : f.host,
    signature: f.signature,
    kind: f.kind,
    title: f.title,
    severity: f.severity,
    impact: r(f.impact),
    antagonist: f.antagonist,
    victims: f.victims.map((v) => v.container),
    victimDetails: f.victims.map((v) => ({
      container: v.container,
      name: v.name,
      reasons: v.reasons,
      harm: v.harm ? harmJson(v.harm) : null,
    })),
    severityBasis: f.severityBasis ?? null,
    sharedStorm: f.sharedStorm,
    drivers: f.drivers ?? [],
    syscall: f.syscall,
    callSite: f.callSite && {
      function: f.callSite.function,
      module: f.callSite.module,
      file: f.callSite.file ?? null,
      line: f.callSite.line ?? null,
    },
    callSiteNote: f.callSiteNote,
    kernelPath: f.kernelPath,
    resource: f.resource,
    evidence: f.evidence.map((e) => ({
      ...e,
      value: r(e.value),
      baseline: e.baseline === null ? null : r(e.baseline),
    })),
    fix: f.fix,
    references: f.references,
    confidence: f.confidence,
    basis: f.basis,
  };
}

function harmJson(
  h: VictimHarm,
): NonNullable<AnalyzeJson['findings'][number]['victimDetails'][number]['harm']> {
  const n = (x: number | null) => (x === null ? null : r(x));
  return {
    ...h,
    worstLatencyChange: n(h.worstLatencyChange),
    syscalls: h.syscalls.map((s) => ({
      ...s,
      callsPerSecond: r(s.callsPerSecond),
      errorsPerSecond: r(s.errorsPerSecond),
      p50Us: r(s.p50Us),
      p99Us: r(s.p99Us),
      p50Change: n(s.p50Change),
      p99Change: n(s.p99Change),
    })),
  };
}

/** The latency summary with rounded figures (histograms unchanged: integers). */
export function latencyJson(l: LatencySummary | null | undefined): AnalyzeJson['syscallLatency'] {
  if (!l) return null;
  return {
    ...l,
    windowSeconds: r(l.windowSeconds),
    containers: l.containers.map((c) => ({
      id: c.id,
      name: c.name,
      syscalls: c.syscalls.map((s) => ({
        ...s,
        callsPerSecond: r(s.callsPerSecond),
        errorsPerSecond: r(s.errorsPerSecond),
        errors: s.errors.map((e) => ({ ...e, perSecond: r(e.perSecond) })),
        meanUs: r(s.meanUs),
        p50Us: r(s.p50Us),
        p99Us: r(s.p99Us),
      })),
    })),
  };
}

export function analyzeJson(a: AnalysisResult, findings: HostFinding[] = []): AnalyzeJson {
  const i = a.input;
  return {
    schemaVersion: ANALYZE_SCHEMA_VERSION,
    tool: { name: 'crosstalk', version: TOOL_VERSION },
    input: {
      ...i,
      oddities: Object.entries(i.oddities).map(([kind, o]) => ({ kind, ...o })),
    },
    findings: findings.map(findingJson),
    hosts: a.hosts.map((h) => ({
      ...h,
      share: r(h.share),
      userShare: r(h.userShare),
      kernelShare: r(h.kernelShare),
      idleShare: r(h.idleShare),
    })),
    split: {
      user: r(a.split.user),
      kernel: r(a.split.kernel),
      idle: r(a.split.idle),
      unknown: r(a.split.unknown),
    },
    categories: a.categories.map((x) => ({ category: x.category, share: r(x.share) })),
    containers: a.containers.map(containerJson),
    syscalls: a.syscalls.map((s) => ({
      name: s.name,
      share: r(s.share),
      containers: s.containers.map((c) => ({
        id: c.id,
        host: c.host === '' ? null : c.host,
        name: c.name,
        share: r(c.share),
      })),
      callSites: s.callSites.map(callSiteJson),
      kernelPaths: s.kernelPaths.map((k) => ({ frames: k.frames, share: r(k.share) })),
      kernelFunctions: s.kernelFunctions.map((f) => ({
        name: f.name,
        selfShare: r(f.selfShare),
        totalShare: r(f.totalShare),
      })),
    })),
    offCpu: a.offCpu
      ? {
          ...a.offCpu,
          blocked: a.offCpu.blocked.map(roundOffCpu),
          runnable: a.offCpu.runnable.map(roundOffCpu),
          involuntary: a.offCpu.involuntary.map(roundOffCpu),
          voluntary: a.offCpu.voluntary.map(roundOffCpu),
          waits: roundWaits(a.offCpu.waits),
          preemption: a.offCpu.preemption && preemptionJson(a.offCpu.preemption),
        }
      : null,
    syscallLatency: latencyJson(a.syscallLatency),
    limitations: a.limitations,
  };
}

/** JSON text; `<` is escaped so the document can also be embedded in HTML safely. */
export function analyzeJsonText(a: AnalysisResult, findings: HostFinding[] = []): string {
  return jsonText(analyzeJson(a, findings));
}

/**
 * `<` is escaped so the document can also be embedded in HTML safely; C1 controls, line
 * separators and bidirectional overrides from profile names (JSON.stringify leaves them raw) are
 * escaped too, so the text is inert on a terminal. Parsed, every string is unchanged.
 */
export function jsonText(doc: unknown): string {
  const text = JSON.stringify(doc, null, 2).replace(
    /[<\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `${text}\n`;
}
