// The lab's pure parts and its host bookkeeping on plain directories (no root needed): mountinfo
// parsing, the path guard, run names and owners, the lock, the stale-run sweep, stats, tables.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Finding } from '../src/analysis/findings.ts';
import { againstGroundTruth, splitForeignFindings } from '../src/cli/lab-hooks.ts';
import { assertInsideLab, findCgroup2Mount, labCgroupDirName } from '../src/lab/cgroupfs.ts';
import { alignRows, fixVerdict, phaseTable, scalingTable } from '../src/lab/latency-table.ts';
import {
  currentOwner,
  isOwnerAlive,
  newRunName,
  ownerOfRun,
  processStartTicks,
} from '../src/lab/run-owner.ts';
import { acquireLabLock, LabBusyError, releaseLabLock, sweepStaleRuns } from '../src/lab/run-state.ts';
import { listScenarios } from '../src/lab/scenarios.ts';
import { median, readWorkloadStats, spreadOf, summarizeLatency } from '../src/lab/stats.ts';
import type { LatencyStats, PhaseResult, ScenarioResult } from '../src/lab/types.ts';

const hybrid = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const unified = `25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw
26 25 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
`;

/** A pid that certainly belongs to no live process: one that just exited. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

describe('cgroup v2 mount and path guard', () => {
  it('finds the v2 mount in hybrid and unified layouts, none when absent', () => {
    expect(findCgroup2Mount(hybrid)).toBe('/sys/fs/cgroup/unified');
    expect(findCgroup2Mount(unified)).toBe('/sys/fs/cgroup');
    expect(findCgroup2Mount('32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n')).toBeNull();
  });

  it('prefers the hierarchy root over a bind mount of a subtree and unescapes paths', () => {
    const text = `50 1 0:40 /sub /mnt/sub rw - cgroup2 cgroup2 rw
51 1 0:40 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw
`;
    expect(findCgroup2Mount(text)).toBe('/mnt/my cgroups');
    expect(findCgroup2Mount(text.split('\n')[0])).toBe('/mnt/sub');
  });

  it('refuses anything that is not strictly inside <mount>/crosstalk-lab', () => {
    const root = `/sys/fs/cgroup/unified/${labCgroupDirName}`;
    expect(() => assertInsideLab(root, `${root}/run-1-a-b/query-1`)).not.toThrow();
    for (const bad of [root, '/sys/fs/cgroup/unified', `${root}/../system.slice`, '/etc']) {
      expect(() => assertInsideLab(root, bad)).toThrow(/refusing/);
    }
    expect(() => assertInsideLab('/sys/fs/cgroup/unified', '/sys/fs/cgroup/unified/x')).toThrow(/refusing/);
  });
});

describe('run names and owners', () => {
  it('encodes the owner pid and start time in [a-z0-9-]', () => {
    const owner = currentOwner();
    const name = newRunName(owner);
    expect(name).toMatch(/^run-[a-z0-9-]+$/);
    expect(ownerOfRun(name)).toEqual(owner);
    expect(isOwnerAlive(owner)).toBe(true);
    expect(ownerOfRun('run-abc')).toBeNull();
    expect(ownerOfRun('query-1')).toBeNull();
  });

  it('tells a dead owner, and a reused pid with another start time, from a live one', () => {
    expect(isOwnerAlive({ pid: deadPid(), startTicks: 1 })).toBe(false);
    const ticks = processStartTicks(process.pid)!;
    expect(isOwnerAlive({ pid: process.pid, startTicks: ticks + 1 })).toBe(false);
  });
});

describe('lock and stale sweep (on plain directories)', () => {
  let base: string;
  let cgroupRoot: string;
  let workRoot: string;
  let stateDir: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'crosstalk-lab-unit-'));
    cgroupRoot = join(base, 'cg', labCgroupDirName);
    workRoot = join(base, 'work');
    stateDir = join(base, 'state');
    for (const d of [cgroupRoot, workRoot, stateDir]) mkdirSync(d, { recursive: true });
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('refuses while a live run holds the lock and takes over a dead one', async () => {
    const mine = newRunName();
    await acquireLabLock(mine, { stateDir });
    await expect(acquireLabLock(newRunName(), { stateDir })).rejects.toBeInstanceOf(LabBusyError);
    releaseLabLock(mine, stateDir);
    expect(existsSync(join(stateDir, 'lock'))).toBe(false);
    writeFileSync(join(stateDir, 'lock'), `run-${deadPid()}-1-aa\n`);
    const next = newRunName();
    await acquireLabLock(next, { stateDir });
    expect(readFileSync(join(stateDir, 'lock'), 'utf8').trim()).toBe(next);
  });

  it('removes what a dead run left and leaves live runs and foreign names alone', () => {
    const dead = `run-${deadPid()}-2s-0a0b0c`;
    const live = newRunName();
    for (const d of [
      join(cgroupRoot, dead, 'query-1'),
      join(cgroupRoot, live, 'query-1'),
      join(cgroupRoot, 'other'),
    ]) {
      mkdirSync(d, { recursive: true });
    }
    mkdirSync(join(workRoot, dead, 'query-1'), { recursive: true });
    writeFileSync(join(stateDir, `${dead}.json`), '{}');
    const messages = sweepStaleRuns(cgroupRoot, workRoot, stateDir);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(
      new RegExp(`removed 2 stale lab cgroups from ${dead}, a run that was killed \\(pid \\d+ gone\\)`),
    );
    expect(existsSync(join(cgroupRoot, dead))).toBe(false);
    expect(existsSync(join(workRoot, dead))).toBe(false);
    expect(existsSync(join(stateDir, `${dead}.json`))).toBe(false);
    expect(existsSync(join(cgroupRoot, live, 'query-1'))).toBe(true);
    expect(existsSync(join(cgroupRoot, 'other'))).toBe(true);
  });
});

const sampleStats =
  '{"workload":"query-server","variant":"always","pid":1,"ops":3000,"elapsed_s":3.000078,' +
  '"throughput_per_s":999.974,"latency_us":{"mean":31.322,"p50":28.792,"p90":34.891,"p99":115.321,' +
  '"max":867.669},"extra":{"log_bytes":317843,"fadvise_calls":2961}}\n';

function latency(p50: number, p99: number): LatencyStats {
  return {
    ops: 100,
    throughputPerSec: 50,
    meanUs: p50 + 1,
    p50Us: p50,
    p90Us: p50 * 2,
    p99Us: p99,
    maxUs: p99 * 2,
  };
}

describe('workload stats', () => {
  it('reads a stats file and rejects one that is not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-lab-stats-'));
    try {
      writeFileSync(join(dir, 's.json'), sampleStats);
      const s = readWorkloadStats(join(dir, 's.json'), 'query-1');
      expect(s).toMatchObject({ container: 'query-1', workload: 'query-server', variant: 'always' });
      expect(s.latency).toMatchObject({ ops: 3000, p50Us: 28.792, p99Us: 115.321 });
      expect(s.counters.fadvise_calls).toBe(2961);
      writeFileSync(join(dir, 'bad.json'), '{"workload":"x"}');
      expect(() => readWorkloadStats(join(dir, 'bad.json'), 'q')).toThrow(/not a lab workload stats/);
      expect(() => readWorkloadStats(join(dir, 'missing.json'), 'q')).toThrow(/no stats from the workload/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('summarises runs as median and range', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spreadOf([5, 1, 9])).toEqual({ median: 5, min: 1, max: 9 });
    const s = summarizeLatency([latency(10, 50), latency(30, 70), latency(20, 90)]);
    expect(s.runs).toBe(3);
    expect(s.p50Us).toEqual({ median: 20, min: 10, max: 30 });
    expect(s.p99Us).toEqual({ median: 70, min: 50, max: 90 });
  });
});

function phase(key: string, label: string, containers: number, p50: number, p99: number): PhaseResult {
  const victim = {
    container: 'query-1',
    workload: 'query-server',
    variant: 'x',
    latency: latency(p50, p99),
    counters: {},
  };
  return {
    key,
    label,
    containers,
    victimVariant: 'fixed',
    neighbourVariant: containers > 1 ? 'fixed' : null,
    runs: [{ run: 1, victim, neighbours: [], evidence: [] }],
    victim: summarizeLatency([victim.latency]),
  };
}

describe('latency tables', () => {
  it('aligns the first column left and the others right', () => {
    expect(
      alignRows([
        ['a', '1'],
        ['long', '100'],
      ]),
    ).toEqual(['a        1', 'long   100']);
  });

  it('prints every phase and the 1-vs-N table', () => {
    const alone = phase('alone', '1 copy, with the fix', 1, 22.4, 35.2);
    const fixed = phase('fixed', '4 copies, all with the fix', 4, 22.4, 43);
    const unfixed = phase('unfixed', '4 copies, none with the fix', 4, 24.7, 74.9);
    const r = {
      scenario: 'fadvise-logger',
      title: 't',
      durationSeconds: 8,
      runs: 1,
      phases: { alone, fixed, unfixed },
      extraPhases: [],
      scaling: [
        { containers: 1, fixed: alone.victim, unfixed: alone.victim },
        { containers: 4, fixed: fixed.victim, unfixed: unfixed.victim },
      ],
      groundTruth: { victim: 'query-1' },
    } as unknown as ScenarioResult;
    const table = phaseTable(r);
    expect(table).toHaveLength(6);
    expect(table[5]).toMatch(/^4 copies, none with the fix\s+4\s+24\.7\s+49\.4\s+74\.9\s+25\.7\s+50\.0$/);
    expect(fixVerdict(r)).toBe(
      'fix verified: query-1 without -> with the fix: p50 24.7 -> 22.4 us, p90 49.4 -> 44.8 us, mean 25.7 -> 23.4 us',
    );
    const same = { ...r, phases: { alone, fixed, unfixed: phase('unfixed', 'u', 4, 22.9, 400) } };
    expect(fixVerdict(same as ScenarioResult)).toMatch(/^fix not verified on this host/);
    const scaling = scalingTable(r);
    expect(scaling[1]).toMatch(/^copies\s+with the fix\s+without the fix$/);
    expect(scaling[3]).toMatch(/^4\s+22\.4 \/ 43\.0\s+24\.7 \/ 74\.9$/);
  });

  it('lists the three scenarios of the issue', () => {
    expect(listScenarios().map((s) => s.name)).toEqual([
      'fadvise-logger',
      'negative-dentries',
      'fsync-storm',
    ]);
  });
});

describe('the blind diagnosis against the ground truth', () => {
  const result = (victim: string, antagonists: string[]) =>
    ({
      groundTruth: { victim, antagonists, syscall: 'fadvise64', callSite: 'LogFileObject::Write' },
    }) as unknown as ScenarioResult;
  const finding = (antagonist: string, victims: [string, string[]][], sharedStorm: boolean): Finding => ({
    signature: 'fadvise-dontneed-storm',
    kind: 'signature',
    title: 't',
    severity: 'warning',
    impact: 0.1,
    antagonist: { container: antagonist, name: antagonist, process: null },
    victims: victims.map(([name, reasons]) => ({ container: name, name, reasons })),
    sharedStorm,
    syscall: 'fadvise64',
    callSite: { function: 'LogFileObject::Write', module: 'q' },
    callSiteNote: null,
    kernelPath: [],
    resource: null,
    evidence: [],
    fix: '',
    references: [],
  });
  const victimCheck = (r: ScenarioResult, f: Finding) =>
    againstGroundTruth(r, f).find((c) => c.item === 'victim')!.matches;
  const all = ['query-1', 'query-2', 'query-3', 'query-4'];

  it('a victim named as a victim matches', () => {
    expect(victimCheck(result('query-1', all), finding('query-3', [['query-1', ['in-path']]], false))).toBe(
      true,
    );
  });

  it('a victim that drives the storm matches as one of its drivers, shared or not', () => {
    const storm = finding('query-1', [['query-2', ['shared-storm']]], true);
    expect(victimCheck(result('query-1', all), storm)).toBe(true);
    // Copies drifted apart: query-1 drives, the others are in the path, no shared storm.
    const drifted = finding(
      'query-1',
      [
        ['query-2', ['in-path']],
        ['query-3', ['in-path']],
      ],
      false,
    );
    expect(victimCheck(result('query-1', all), drifted)).toBe(true);
    const row = againstGroundTruth(result('query-1', all), drifted).find((c) => c.item === 'victim');
    expect(row?.found).toBe('query-2, query-3; query-1 as a driver');
  });

  it('a finding that blames a container outside the scenario is left out of the comparison', () => {
    const own = new Set(all);
    const foreign = {
      ...finding('f0a284c910d7', [['query-1', ['pressure']]], false),
      severity: 'critical' as const,
    };
    const ours = finding('query-2', [['query-1', ['in-path']]], false);
    const { compared, foreignFindings } = splitForeignFindings([foreign, ours], own);
    expect(compared).toBe(ours);
    expect(foreignFindings).toEqual([foreign]);
    expect(againstGroundTruth(result('query-1', all), compared).every((c) => c.matches)).toBe(true);
    // Without the split, the foreign CRITICAL would have been compared, and differed.
    expect(againstGroundTruth(result('query-1', all), foreign)[0].matches).toBe(false);
  });

  it('a victim named as the antagonist does not match when it is not one in truth', () => {
    // negative-dentries: web-1 only looks files up; the neighbours stat missing files.
    const wrong = finding('web-1', [['cache-1', ['in-path']]], false);
    expect(victimCheck(result('web-1', ['cache-1', 'cache-2']), wrong)).toBe(false);
    expect(victimCheck(result('query-1', all), finding('query-2', [['query-3', ['in-path']]], false))).toBe(
      false,
    );
  });
});
