/**
 * Diagnosis end to end on this machine: for each known kind of neighbour (fadvise storm, stats of
 * missing files, fsync storm) a victim runs alone (baseline), then beside the neighbour
 * (contended); both are recorded system-wide with DWARF call graphs. `analyze contended` and
 * `diff baseline contended` must put the neighbour, its syscall and its call site in the first
 * finding, and the victim among the victims. Needs root, perf and cc; skips with the reason.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiffJson } from '../src/report/diff-schema.ts';
import type { AnalyzeJson } from '../src/report/schema.ts';
import { compileFixture, recordSkipReason, TestCgroups } from './record-cgroups.ts';
import { tallyAccusations } from './support/accusations.ts';
import { analyzeAndDiff, containerIdOf, recordSystemWide, settle } from './support/lab-pair.ts';

const reason = recordSkipReason();

interface Case {
  neighbour: string;
  victim: string;
  signature: string;
  syscalls: string[];
  callSite: string;
}

const cases: Case[] = [
  {
    neighbour: 'fadvise',
    victim: 'logger',
    signature: 'fadvise-dontneed-storm',
    syscalls: ['fadvise64'],
    callSite: 'LogFileObject_Write',
  },
  {
    neighbour: 'stat',
    victim: 'lookup',
    signature: 'negative-dentries',
    syscalls: ['newfstatat', 'newstat'],
    callSite: 'ProbeMissingFile',
  },
  {
    neighbour: 'fsync',
    victim: 'wal',
    signature: 'jbd2-fsync-storm',
    syscalls: ['fsync'],
    callSite: 'CommitMessage',
  },
];

interface Outcome {
  analyze: AnalyzeJson;
  diff: DiffJson;
  neighbourId: string;
  victimId: string;
}

describe.skipIf(reason !== null)(
  `diagnosis of recorded neighbours${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-diag-'));
    const bin = join(dir, 'contention');
    const outcomes = new Map<string, Outcome>();
    let cgroups: TestCgroups | null = null;

    const record = (file: string) => recordSystemWide(file, { callGraph: 'dwarf', frequency: 999 });

    async function runCase(c: Case): Promise<Outcome> {
      const work = join(dir, c.neighbour);
      mkdirSync(join(work, 'missing'), { recursive: true });
      cgroups = await TestCgroups.create(`crosstalk-diag-${c.neighbour}`);
      if (!cgroups) throw new Error('no writable cgroup v2 hierarchy');
      try {
        const victim = await cgroups.start('victim', [bin, c.victim, work]);
        await settle(300);
        record(join(work, 'baseline.data'));
        const neighbour = await cgroups.start('neighbour', [bin, c.neighbour, work]);
        await settle(300);
        record(join(work, 'contended.data'));
        await cgroups.cleanup();
        const { analyze, diff } = await analyzeAndDiff(
          join(work, 'baseline.data'),
          join(work, 'contended.data'),
        );
        const idOf = (path: string) => containerIdOf(analyze, path)!;
        return {
          analyze,
          diff,
          neighbourId: idOf(neighbour.path),
          victimId: idOf(victim.path),
        };
      } finally {
        await cgroups.cleanup();
      }
    }

    beforeAll(async () => {
      compileFixture('contention', dir, ['-fno-optimize-sibling-calls']);
      for (const c of cases) {
        const o = await runCase(c);
        outcomes.set(c.neighbour, o);
        tallyAccusations(`diagnose-e2e ${c.neighbour}: analyze`, o.analyze.findings, [o.victimId]);
        tallyAccusations(`diagnose-e2e ${c.neighbour}: diff`, o.diff.findings, [o.victimId]);
      }
    }, 240_000);

    afterAll(async () => {
      await cgroups?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    describe.each(cases)('$neighbour neighbour, $victim victim', (c) => {
      it('analyze: the first finding names the neighbour, its syscall and call site, and the victim', () => {
        const o = outcomes.get(c.neighbour)!;
        const f = o.analyze.findings[0];
        expect(f.signature).toBe(c.signature);
        expect(f.antagonist?.container).toBe(o.neighbourId);
        expect(c.syscalls).toContain(f.syscall);
        expect(f.callSite?.function).toBe(c.callSite);
        expect(f.victims).toContain(o.victimId);
      });

      it('diff baseline contended: the same, with the growth of the neighbour as evidence', () => {
        const o = outcomes.get(c.neighbour)!;
        const f = o.diff.findings[0];
        expect(f.signature).toBe(c.signature);
        expect(f.antagonist?.container).toBe(o.neighbourId);
        expect(c.syscalls).toContain(f.syscall);
        expect(f.callSite?.function).toBe(c.callSite);
        expect(f.victims).toContain(o.victimId);
        expect(f.evidence[0].baseline).not.toBeNull();
        expect(f.evidence[0].value).toBeGreaterThan(f.evidence[0].baseline!);
        expect(o.diff.containers.find((x) => x.id === o.neighbourId)?.status).toBe('new');
      });
    });
  },
);
