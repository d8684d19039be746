/**
 * The watch `finding` event carries each victim's measured harm and what the severity rests on
 * (src/watch/finding-event.ts), in a shape the public event schema accepts; the harmed-victims
 * metric counts only victims measured as degraded.
 */
import { describe, expect, it } from 'vitest';
import type { Finding } from '../src/analysis/findings.ts';
import { watchEventSchema } from '../src/report/watch-event-schema.ts';
import { findingFields, harmedVictims } from '../src/watch/finding-event.ts';

function finding(over: Partial<Finding> = {}): Finding {
  return {
    signature: 'fadvise-dontneed-storm',
    kind: 'signature',
    title: 'fadvise storm',
    severity: 'warning',
    impact: 0.2,
    antagonist: { container: 'b', name: 'batch', process: 'hog' },
    victims: [
      {
        container: 'a',
        name: 'api',
        reasons: ['in-path'],
        harm: { summary: 'write p99 +101%', degraded: true, worstLatencyChange: 1.01, syscalls: [] },
      },
      { container: 'c', name: 'cache', reasons: ['pressure'] },
    ],
    sharedStorm: false,
    syscall: 'fadvise64',
    callSite: null,
    callSiteNote: null,
    kernelPath: [],
    resource: null,
    evidence: [],
    fix: 'x',
    references: [],
    confidence: 'high',
    basis: ['signature'],
    severityBasis: 'measured-harm',
    ...over,
  };
}

const event = (f: Finding) => ({
  schemaVersion: 1,
  time: '2026-12-04T09:00:00.000Z',
  event: 'finding',
  run: 'r1',
  kind: 'triggered',
  trigger: null,
  baseline: { run: 'b1', createdAt: '2026-12-04T08:00:00.000Z' },
  ...findingFields(f),
});

describe('watch finding event: the victim side', () => {
  it("carries each victim's measured harm and the severity basis, and the schema accepts it", () => {
    const e = watchEventSchema.parse(event(finding()));
    if (e.event !== 'finding') throw new Error('not a finding event');
    expect(e.victims[0].harm).toEqual({
      summary: 'write p99 +101%',
      degraded: true,
      worstLatencyChange: 1.01,
    });
    expect(e.victims[1].harm).toBeUndefined();
    expect(e.severityBasis).toBe('measured-harm');
  });

  it('an event without the new fields (an older watch) still validates: the change is additive', () => {
    const { severityBasis: _, ...old } = finding();
    const e = event({ ...old, victims: old.victims.map(({ harm: _h, ...v }) => v) });
    expect(watchEventSchema.safeParse(e).success).toBe(true);
  });

  it('a malformed harm is rejected by the schema', () => {
    const e = event(finding());
    (e.victims[0] as { harm?: unknown }).harm = { summary: 3, degraded: 'yes', worstLatencyChange: null };
    expect(watchEventSchema.safeParse(e).success).toBe(false);
  });

  it('counts only victims measured as degraded', () => {
    expect(harmedVictims(finding())).toBe(1);
    const cleared = finding({
      victims: [
        {
          container: 'a',
          name: 'api',
          reasons: [],
          harm: { summary: '', degraded: false, worstLatencyChange: 0.02, syscalls: [] },
        },
      ],
    });
    expect(harmedVictims(cleared)).toBe(0);
  });
});
