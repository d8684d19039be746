/**
 * Analysis and diagnosis of a loaded input, with its run's counters, names and rates. Several
 * hosts are analysed together (a host column) but diagnosed one by one: containers contend only
 * with neighbours on their own kernel. A finding's impact is then a share of its host's CPU.
 */
import { type AnalysisResult, analyzeProfile } from '../analysis/analyze.ts';
import { diagnose } from '../analysis/diagnose.ts';
import { type Finding, type HostFinding, sortFindings } from '../analysis/findings.ts';
import { labelSamples, type SampleLabels } from '../analysis/sample-labels.ts';
import { victimSide } from '../analysis/victim-harm.ts';
import { hostsOf, selectHost } from '../model/hosts.ts';
import type { Profile } from '../model/profile.ts';
import { withCallSiteLines } from './call-site-lines.ts';
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
    const engineNotes = loaded.hosts.flatMap((h) => (h.engineNotes ?? []).map((n) => `${h.name}: ${n}`));
    const result = analyzeProfile(profile, { topSyscalls, labels, engineNotes });
    return { result, findings: diagnoseHosts(loaded, loaded.hosts, topSyscalls), labels };
  }
  return analyzeOne(profile, loaded, topSyscalls);
}

/** One host's analysis and diagnosis, with its own names, counters and syscall rates. */
function analyzeOne(
  profile: Profile,
  from: Pick<LoadedInput, 'nameOf' | 'counters' | 'syscallRates' | 'engineNotes' | 'latency'>,
  topSyscalls: number,
): { result: AnalysisResult; findings: Finding[]; labels: SampleLabels } {
  const labels = labelSamples(profile, { nameOf: from.nameOf });
  const result = {
    ...analyzeProfile(profile, { topSyscalls, labels, engineNotes: from.engineNotes }),
    syscallLatency: from.latency ?? null,
  };
  const diagnosed = diagnose(profile, result, {
    labels,
    counters: from.counters ?? undefined,
    syscallRates: from.syscallRates ?? undefined,
  });
  const findings = victimSide(diagnosed, {
    latency: from.latency ?? null,
    counters: from.counters,
    hasBaseline: false,
  });
  return { result, findings, labels };
}

/**
 * analyzeLoaded, then file:line for the call sites it reports (debug info through addr2line;
 * call-site-lines.ts). Only the reported few are resolved, after the analysis.
 */
export async function analyzeLoadedWithLines(loaded: LoadedInput, topSyscalls = 25): Promise<Analyzed> {
  const analyzed = analyzeLoaded(loaded, topSyscalls);
  const { attributions } = analyzed.labels;
  return withCallSiteLines(loaded.profile, (s) => attributions.of(s), analyzed);
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
  return sortFindings(out);
}
