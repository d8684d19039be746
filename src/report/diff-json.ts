/** The `diff --json` document. */
import type { AnalysisInput } from '../analysis/analysis-input.ts';
import type { Delta, DiffResult } from '../analysis/diff.ts';
import type { Finding } from '../analysis/findings.ts';
import { DIFF_SCHEMA_VERSION, type DiffJson } from './diff-schema.ts';
import { findingJson, TOOL_VERSION } from './json.ts';

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

export function diffJson(d: DiffResult, findings: Finding[]): DiffJson {
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
    callSites: d.callSites.map((x) => ({ ...x, change: c(x.change) })),
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
    comparisonWarnings: d.warnings,
  };
}
