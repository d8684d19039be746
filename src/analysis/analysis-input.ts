/**
 * What an analysis says about its input: source, format, the event analysed and why, call-graph
 * mode, samples, total weight and its unit, duration, truncation, cgroups, warnings. Limitations
 * (limitations.ts) and diffs read it beside the analysis.
 */
import type { Profile } from '../model/profile.ts';
import { weightUnitOf } from '../model/units.ts';

export interface AnalysisInput {
  source: string;
  format: Profile['meta']['format'];
  event: string;
  events: { name: string; samples: number }[];
  eventChosenBy: Profile['meta']['eventChosenBy'];
  callGraph: Profile['meta']['callGraph'];
  samples: number;
  totalWeight: number;
  weightUnit: 'ns' | 'events';
  durationSeconds: number | null;
  truncated: boolean;
  hasCgroups: boolean;
  warnings: string[];
  oddities: Profile['meta']['oddities'];
  recording: Profile['meta']['recording'];
}

export function inputOf(p: Profile, total: number): AnalysisInput {
  const m = p.meta;
  return {
    source: m.source,
    format: m.format,
    event: m.event,
    events: [...m.events],
    eventChosenBy: m.eventChosenBy,
    callGraph: m.callGraph,
    samples: p.samples.length,
    totalWeight: total,
    weightUnit: weightUnitOf(m.event),
    durationSeconds: m.durationSeconds,
    truncated: m.truncated,
    hasCgroups: m.hasCgroups,
    warnings: [...m.warnings],
    oddities: m.oddities,
    recording: m.recording,
  };
}
