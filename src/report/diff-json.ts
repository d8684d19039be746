/** The `diff --json` document. */
import type { AnalysisInput } from '../analysis/analysis-input.ts';
import type { Delta, DiffResult } from '../analysis/diff.ts';
import type { Finding } from '../analysis/findings.ts';
import type { LatencySummary, SyscallLatencyRow } from '../analysis/syscall-latency.ts';
import { DIFF_SCHEMA_VERSION, type DiffJson } from './diff-schema.ts';
import { findingJson, latencyJson, TOOL_VERSION } from './json.ts';

/** 9 significant decimals: shares and CPU counts without float noise. */
function r(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

function c(x: Delta): Delta {
  return { baseline: r(x.baseline), target: r(x.target), delta: r(x.delta) };
}

function runJson(i: AnalysisInput): DiffJson['baseline'] {
  return {
    source: i.source,
    format: i.format,
    event: i.event,
    samples: i.samples,
    durationSeconds: i.durationSeconds,
    callGraph: i.callGraph,
    warnings: i.warnings,
  };
}

function side(x: SyscallLatencyRow) {
  return {
    callsPerSecond: r(x.callsPerSecond),
    errorsPerSecond: r(x.errorsPerSecond),
    meanUs: r(x.meanUs),
    p50Us: r(x.p50Us),
    p99Us: r(x.p99Us),
  };
}

const n = (x: number | null) => (x === null ? null : r(x));

function latencyDiffJson(
  d: DiffResult,
  base: LatencySummary | null | undefined,
  target: LatencySummary | null | undefined,
): DiffJson['syscallLatency'] {
  if (!base && !target) return null;
  return {
    baseline: latencyJson(base),
    target: latencyJson(target),
    containers: (d.syscallLatency ?? []).map((c) => ({
      id: c.id,
      name: c.name,
      baselineId: c.baselineId,
      syscalls: c.syscalls.map((s) => ({
        syscall: s.syscall,
        baseline: side(s.baseline),
        target: side(s.target),
        p50Change: n(s.p50Change),
        p99Change: n(s.p99Change),
        callsChange: n(s.callsChange),
        errorsPerSecondDelta: r(s.errorsPerSecondDelta),
      })),
    })),
  };
}

/** `latency`: each run's syscall latency summary, when the runs have one. */
export function diffJson(
  d: DiffResult,
  findings: Finding[],
  latency: { baseline?: LatencySummary | null; target?: LatencySummary | null } = {},
): DiffJson {
  return {
    schemaVersion: DIFF_SCHEMA_VERSION,
    tool: { name: 'crosstalk', version: TOOL_VERSION },
    normalize: d.normalize,
    unit: d.unit,
    baseline: runJson(d.baseline),
    target: runJson(d.target),
    findings: findings.map(findingJson),
    split: { user: c(d.split.user), kernel: c(d.split.kernel), idle: c(d.split.idle) },
    containers: d.containers.map((x) => ({
      ...x,
      total: c(x.total),
      user: c(x.user),
      kernel: c(x.kernel),
      idle: c(x.idle),
    })),
    syscalls: d.syscalls.map((s) => ({
      name: s.name,
      total: c(s.total),
      containers: s.containers.map((x) => ({ ...x, change: c(x.change) })),
    })),
    callSites: d.callSites.map(({ source, ...x }) => ({
      ...x,
      file: source?.file ?? null,
      line: source?.line ?? null,
      change: c(x.change),
    })),
    kernelPaths: d.kernelPaths.map((x) => ({ ...x, change: c(x.change) })),
    counters: d.counters.map((x) => ({ ...x, change: c(x.change) })),
    offCpu: d.offCpu && {
      containers: d.offCpu.containers.map((x) => ({
        ...x,
        blocked: c(x.blocked),
        runnable: c(x.runnable),
        syscalls: x.syscalls.map((s) => ({ name: s.name, change: c(s.change) })),
      })),
    },
    syscallLatency: latencyDiffJson(d, latency.baseline, latency.target),
    comparisonWarnings: d.warnings,
  };
}
