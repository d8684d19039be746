import { describe, expect, it } from 'vitest';
import { parseSignature, signatures } from '../src/signatures/catalog.ts';

describe('signature catalog', () => {
  it('loads every signature file and validates it', () => {
    const all = signatures();
    expect(all.map((s) => s.id).sort()).toEqual([
      'cfs-throttling',
      'fadvise-dontneed-storm',
      'jbd2-fsync-storm',
      'memcg-reclaim-shrinkers',
      'memcg-stat-readers',
      'mount-table-lock',
      'negative-dentries',
      'netns-churn',
      'runqueue-contention',
      'smaps-mmap-lock',
      'tlb-shootdown-ipis',
    ]);
    for (const s of all) {
      expect(s.explanation.length, s.id).toBeGreaterThan(200);
      expect(s.threshold.why.length, s.id).toBeGreaterThan(40);
      expect(s.match.kernelFrames.length > 0 || s.counters.some((c) => c.role === 'required'), s.id).toBe(
        true,
      );
    }
  });

  it('rejects a malformed signature file with its name', () => {
    expect(() => parseSignature('x.md', 'no json here')).toThrow(/x\.md: expected a ```json block/);
    expect(() => parseSignature('y.md', '```json\n{"id":"Bad Id"}\n```\ntext')).toThrow(/y\.md: id/);
  });
});
