/**
 * Analysis and diagnosis of a loaded input, with its run's counters, names and rates. Several
 * hosts are analysed together (a host column) but diagnosed one by one: containers contend only
 * with neighbours on their own kernel. A finding's impact is then a share of its host's CPU.
 */
import { type AnalysisResult, analyzeProfile } from '../analysis/analyze.ts';
import { diagnose } from '../analysis/diagnose.ts';
import type { Finding, HostFinding } from '../analysis/findings.ts';
import { labelSamples, type SampleLabels } from '../analysis/sample-labels.ts';
import { hostsOf, selectHost } from '../model/hosts.ts';
import type { Profile } from '../model/profile.ts';
import type { LoadedHost, LoadedInput } from './load.ts';

export interface Analyzed {
  result: AnalysisResult;
  findings: HostFinding[];
  /** The labels of the loaded profile's samples, for the report's views. */
  labels: SampleLabels;
}

export function analyzeLoaded(loaded: LoadedInput, topSyscalls = 25): Analyzed {
  const { profile } = loaded;
  if (loaded.hosts !== undefined) {
    const labels = labelSamples(profile, { nameOf: loaded.nameOf });
    const result = analyzeProfile(profile, { topSyscalls, labels });
    return { result, findings: diagnoseHosts(loaded, loaded.hosts, topSyscalls), labels };
  }
  return analyzeOne(profile, loaded, topSyscalls);
}

/** One host's analysis and diagnosis, with its own names, counters and syscall rates. */
function analyzeOne(
  profile: Profile,
  from: Pick<LoadedInput, 'nameOf' | 'counters' | 'syscallRates'>,
  topSyscalls: number,
): { result: AnalysisResult; findings: Finding[]; labels: SampleLabels } {
  const labels = labelSamples(profile, { nameOf: from.nameOf });
  const result = analyzeProfile(profile, { topSyscalls, labels });
  const findings = diagnose(profile, result, {
    labels,
    counters: from.counters ?? undefined,
    syscallRates: from.syscallRates ?? undefined,
  });
  return { result, findings, labels };
}

function diagnoseHosts(loaded: LoadedInput, hosts: LoadedHost[], topSyscalls: number): HostFinding[] {
  const present = new Set(hostsOf(loaded.profile));
  const out: HostFinding[] = [];
  for (const h of hosts) {
    if (!present.has(h.name)) continue;
    const { findings } = analyzeOne(selectHost(loaded.profile, h.name), h, topSyscalls);
    // The title names the host, so every report (terminal, HTML) shows where the finding is.
    out.push(...findings.map((f) => ({ ...f, host: h.name, title: `${h.name}: ${f.title}` })));
  }
  const rank = { 'cannot-answer': 0, signature: 1, generic: 2 } as const;
  return out.sort((a, b) => rank[a.kind] - rank[b.kind] || b.impact - a.impact);
}
