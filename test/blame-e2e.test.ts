/**
 * Blame on real recordings of the lab's scenarios, blind: for each scenario the victim runs alone
 * (baseline), then beside its neighbours without the fix (contended), each recorded system-wide.
 * `analyze contended` and `diff baseline contended` must never name the victim as an antagonist
 * (a victim that drives the problem too, as in fadvise-logger, is one of the antagonists), and for
 * the neighbours no signature covers (connection-churn) the first finding that names an
 * antagonist must name a neighbour, with frame-pointer and with DWARF call graphs. Every
 * diagnosis is tallied (test/support/accusations.ts); the suite prints the count of false
 * accusations. Needs root, perf, cgroup v2 and cc; skips with the reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltWorkloads, buildWorkloads } from '../src/lab/native-build.ts';
import type { ScenarioDefinition } from '../src/lab/scenario.ts';
import { findScenario } from '../src/lab/scenarios.ts';
import type { AnalyzeJson } from '../src/report/schema.ts';
import { recordSkipReason, TestCgroups } from './record-cgroups.ts';
import { falseAccusations, tallyAccusations } from './support/accusations.ts';
import {
  analyzeAndDiff,
  containerIdOf,
  recordSystemWide,
  scenarioWorkloads,
  settle,
} from './support/lab-pair.ts';

const reason = recordSkipReason();

type Mode = 'fp' | 'dwarf';
type Finding = AnalyzeJson['findings'][number];

interface Case {
  scenario: string;
  mode: Mode;
  /** The scenario's neighbour matches no signature: the generic blame must name it. */
  mustName: boolean;
}

const cases: Case[] = [
  { scenario: 'connection-churn', mode: 'fp', mustName: true },
  { scenario: 'connection-churn', mode: 'dwarf', mustName: true },
  { scenario: 'fadvise-logger', mode: 'fp', mustName: false },
  { scenario: 'negative-dentries', mode: 'fp', mustName: false },
  { scenario: 'fsync-storm', mode: 'fp', mustName: false },
];

interface Outcome {
  analyze: Finding[];
  diff: Finding[];
  /** Container ids of the scenario's containers by role. */
  victim: string;
  neighbours: string[];
  /** Ground truth: the victim, unless it drives the problem too. */
  innocent: string[];
}

const label = (c: Case) => `${c.scenario} (${c.mode})`;

describe.skipIf(reason !== null)(
  `blame on recorded lab scenarios${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-blame-'));
    const outcomes = new Map<string, Outcome>();
    let bins: BuiltWorkloads;
    let cgroups: TestCgroups | null = null;

    async function runCase(c: Case): Promise<Outcome> {
      const s = findScenario(c.scenario) as ScenarioDefinition;
      const work = join(dir, `${c.scenario}-${c.mode}`);
      const { containers, argv: argvOf } = scenarioWorkloads(s, bins, work);
      const contended = s.phases(s.defaults.containers)[2];
      cgroups = await TestCgroups.create(`crosstalk-blame-${c.scenario}`);
      if (!cgroups) throw new Error('no writable cgroup v2 hierarchy');
      const argv = (i: number) => argvOf(i, i === 0 ? contended.victimVariant : 'unfixed');
      const record = (file: string) => recordSystemWide(file, { callGraph: c.mode, frequency: 499 });
      try {
        const victim = await cgroups.start(containers[0].name, argv(0));
        await settle(300);
        record(join(work, 'baseline.data'));
        const neighbours = [];
        for (let i = 1; i < containers.length; i++)
          neighbours.push(await cgroups.start(containers[i].name, argv(i)));
        await settle(500);
        record(join(work, 'contended.data'));
        await cgroups.cleanup();
        const { analyze, diff } = await analyzeAndDiff(
          join(work, 'baseline.data'),
          join(work, 'contended.data'),
        );
        const idOf = (path: string) => containerIdOf(analyze, path) ?? path;
        const truth = s.groundTruth(containers, bins);
        const victimId = idOf(victim.path);
        return {
          analyze: analyze.findings,
          diff: diff.findings,
          victim: victimId,
          neighbours: neighbours.map((n) => idOf(n.path)),
          innocent: truth.antagonists.includes(truth.victim) ? [] : [victimId],
        };
      } finally {
        await cgroups.cleanup();
        s.afterPhase?.(work, containers);
      }
    }

    beforeAll(async () => {
      bins = await buildWorkloads();
      for (const c of cases) {
        const o = await runCase(c);
        outcomes.set(label(c), o);
        tallyAccusations(`${label(c)}: analyze`, o.analyze, o.innocent);
        tallyAccusations(`${label(c)}: diff`, o.diff, o.innocent);
      }
    }, 300_000);

    afterAll(async () => {
      await cgroups?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const firstBlamed = (fs: Finding[]) => fs.find((f) => f.antagonist !== null);
    const show = (fs: Finding[]) => {
      const f = firstBlamed(fs);
      if (!f) return `no antagonist (first: ${fs[0]?.title ?? 'no findings'})`;
      const victims = f.victimDetails.map((v) => v.name).join(', ');
      return `${f.antagonist?.name} <- [${victims}] (${f.confidence}: ${f.basis.join(', ')}; ${f.title.slice(0, 100)})`;
    };

    describe.each(cases)('$scenario, $mode call graphs', (c) => {
      it('analyze and diff never name the victim as an antagonist', () => {
        const o = outcomes.get(label(c))!;
        process.stdout.write(`${label(c)}: analyze: ${show(o.analyze)}; diff: ${show(o.diff)}\n`);
        expect(falseAccusations(o.analyze, o.innocent)).toEqual([]);
        expect(falseAccusations(o.diff, o.innocent)).toEqual([]);
      });

      it.runIf(c.mustName)(
        'the first finding that names an antagonist names a neighbour, with and without a baseline',
        () => {
          const o = outcomes.get(label(c))!;
          expect(o.neighbours).toContain(firstBlamed(o.analyze)?.antagonist?.container);
          expect(o.neighbours).toContain(firstBlamed(o.diff)?.antagonist?.container);
          expect(firstBlamed(o.diff)?.basis).toContain('growth-vs-baseline');
        },
      );
    });
  },
);
