/**
 * A finding as the watch `finding` event and the findings metric carry it. Each victim carries the
 * harm it suffered, measured (analysis/victim-harm.ts: e.g. "write p99 +101%", degraded against
 * the baseline or not), and the event says what the severity rests on (measured harm against the
 * quiet baseline, or the antagonist's share when there was none to compare with).
 */
import type { Finding } from '../analysis/findings.ts';

/** The metric label of a finding's signature: the catalog id, or its kind for the rest (bounded). */
export function signatureLabel(f: Finding): string {
  return f.signature ?? f.kind;
}

export function findingFields(f: Finding) {
  // confidence and basis arrive with the diagnosis's confidence work; passed on when present.
  const extra = f as Finding & { confidence?: unknown; basis?: unknown };
  return {
    severity: f.severity,
    signature: f.signature,
    findingKind: f.kind,
    title: f.title,
    antagonist: f.antagonist,
    victims: f.victims.map((v) => ({
      container: v.container,
      name: v.name,
      reasons: v.reasons,
      ...(v.harm
        ? {
            harm: {
              summary: v.harm.summary,
              degraded: v.harm.degraded,
              worstLatencyChange: v.harm.worstLatencyChange,
            },
          }
        : {}),
    })),
    syscall: f.syscall,
    callSite: f.callSite?.function ?? null,
    ...(extra.confidence !== undefined ? { confidence: extra.confidence } : {}),
    ...(extra.basis !== undefined ? { basis: extra.basis } : {}),
    ...(f.severityBasis !== undefined ? { severityBasis: f.severityBasis } : {}),
  };
}

/** Victims a finding names whose harm was measured as degraded against the baseline. */
export function harmedVictims(f: Finding): number {
  return f.victims.filter((v) => v.harm?.degraded === true).length;
}
