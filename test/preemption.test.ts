/**
 * CPU noisy neighbours from context switches: who held a CPU while a task waited runnable
 * (synthetic switch tables: foreign, self, kernel, idle with migration, a missing idle switch),
 * and the preemption rule of runqueue-contention: the container that makes others wait is named,
 * never the one that waits; even sharing names no one; a container that waits for its own threads
 * is told so; cpu.pressure corroborates, steal says the neighbour is outside the kernel.
 */
import { describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { containerOf } from '../src/analysis/containers.ts';
import type { CounterSet } from '../src/analysis/counters.ts';
import { diagnose } from '../src/analysis/diagnose.ts';
import { preemptionFindings, STEAL_METRIC, stealFinding } from '../src/analysis/diagnose-preemption.ts';
import { KERNEL_CULPRIT } from '../src/analysis/findings.ts';
import { blameMatrixOf, preemptionMatrix, waitedFor } from '../src/analysis/preemption.ts';
import type { PreemptionMatrix } from '../src/analysis/preemption-matrix.ts';
import { ProfileBuilder } from '../src/model/builder.ts';
import { FrameKind, type Profile, SwitchState } from '../src/model/profile.ts';
import { signatures } from '../src/signatures/catalog.ts';
import { tallyAccusations } from './support/accusations.ts';

const R = SwitchState.runnable;
const S = SwitchState.sleeping;

/** [ms, cpu, prevTid, prevCgroup, prevComm, prevState, nextTid] */
type Row = [number, number, number, string, string, number, number];

function profileOf(rows: Row[]): Profile {
  const b = new ProfileBuilder('test', 'perf-data');
  b.meta.hasCgroups = true;
  const f = b.frame('__schedule', '[kernel.kallsyms]', FrameKind.kernel, false, null);
  const stack = b.stack(-1, f);
  for (const [ms, cpu, prev, cgroup, comm, state, next] of rows) {
    b.addSwitch({
      stack,
      timeNs: ms * 1e6,
      cpu,
      prevTid: prev,
      prevPid: prev,
      comm: b.strings.intern(comm),
      cgroup: b.strings.intern(cgroup),
      prevState: state,
      nextTid: next,
    });
  }
  return b.finish();
}

function matrixOf(p: Profile): PreemptionMatrix {
  return preemptionMatrix(p, (_host, cgroup) => containerOf(p.strings[cgroup]))!;
}

const API = '/crosstalk-lab/run-1-a-abcdef/api-1';
const BATCH = '/crosstalk-lab/run-1-a-abcdef/batch-1';
const apiId = 'run-1-a-abcdef/api-1';
const batchId = 'run-1-a-abcdef/batch-1';

describe('preemptionMatrix: who held the CPU while a task waited runnable', () => {
  it('splits a wait into foreign, self and kernel seconds by what ran on the CPU', () => {
    const m = matrixOf(
      profileOf([
        [0, 0, 10, API, 'api', R, 20],
        [4, 0, 20, BATCH, 'hog', R, 11],
        [6, 0, 11, API, 'api-worker', R, 40],
        [7, 0, 40, '/', 'kworker/0:1', S, 10],
        [9, 0, 10, API, 'api', S, 20],
      ]),
    );
    const api = m.victims.find((v) => v.name === 'api-1')!;
    expect(api.waits.find((w) => w.kind === 'foreign')).toMatchObject({ culprit: batchId });
    // tid 10 waited 0-7 ms: 4 behind the hog, 2 behind its own worker, 1 behind a kworker;
    // tid 11 waited 6-9 ms: 1 behind the kworker, 2 behind tid 10 (self).
    expect(api.byKind.foreign).toBeCloseTo(0.004, 6);
    expect(api.byKind.self).toBeCloseTo(0.002 + 0.002, 6);
    expect(api.byKind.kernel).toBeCloseTo(0.001 + 0.001, 6);
    expect(api.runnableSeconds).toBeCloseTo(0.007 + 0.003, 6);
    expect(api.onCpuSeconds).toBeCloseTo(0.002 + 0.002, 6);
    expect(m.culprits.find((c) => c.id === 'kernel')).toMatchObject({
      kind: 'kernel',
      processes: ['kworker/0:1'],
    });
    expect(waitedFor(m, apiId, batchId).seconds).toBeCloseTo(0.004, 6);
    expect(waitedFor(m, apiId, batchId).share).toBeCloseTo(0.004 / 0.014, 6);
  });

  it('follows a task whose CPU went idle to the CPU it ran on next', () => {
    const m = matrixOf(
      profileOf([
        [-1, 1, 60, '/', 'bash', S, 61],
        [0, 0, 10, API, 'api', R, 0],
        [3, 1, 61, BATCH, 'hog', R, 10],
        [5, 0, 0, '/', 'swapper/0', R, 50],
        [6, 1, 10, API, 'api', S, 61],
      ]),
    );
    const api = m.victims.find((v) => v.name === 'api-1')!;
    expect(api.waits).toEqual([{ culprit: batchId, kind: 'foreign', seconds: expect.closeTo(0.003, 6) }]);
  });

  it('takes the known holder where a switch is missing, and counts that time as ambiguous', () => {
    const m = matrixOf(
      profileOf([
        [0, 1, 70, API, 'api', S, 0],
        // idle -> hog on CPU 1 was not recorded; the hog switching out says it ran until 10.
        [2, 0, 10, API, 'api', R, 71],
        [10, 1, 71, BATCH, 'hog', R, 10],
        [11, 0, 71, BATCH, 'hog', R, 0],
      ]),
    );
    expect(m.ambiguousSeconds).toBeCloseTo(0.01, 6);
    expect(m.victims.find((v) => v.name === 'api-1')?.byKind.foreign).toBeGreaterThan(0);
  });

  it('uses processes as the unit when the input has no cgroups (perf script text)', () => {
    const m = matrixOf(
      profileOf([
        [0, 0, 10, '', 'api', R, 20],
        [4, 0, 20, '', 'hog', R, 10],
      ]),
    );
    expect(m.victims.find((v) => v.id === 'process:10')).toMatchObject({ name: 'api[10]', container: false });
    expect(waitedFor(m, 'process:10', 'process:20').seconds).toBeCloseTo(0.004, 6);
  });

  it('gives generic-finding blame its victim -> culprit map (kernel threads as KERNEL_CULPRIT)', () => {
    const m = matrixOf(
      profileOf([
        [0, 0, 10, API, 'api', R, 20],
        [4, 0, 20, BATCH, 'hog', R, 40],
        [5, 0, 40, '/', 'ksoftirqd/0', S, 10],
      ]),
    );
    const b = blameMatrixOf(m)!;
    expect(b.windowSeconds).toBeCloseTo(0.005, 6);
    expect(b.waits.get(apiId)?.get(batchId)).toBeCloseTo(0.004, 6);
    expect(b.waits.get(apiId)?.get(KERNEL_CULPRIT)).toBeCloseTo(0.001, 6);
    expect(blameMatrixOf(null)).toBeNull();
  });

  it('is null without switches', () => {
    const b = new ProfileBuilder('test', 'perf-data');
    const p = b.finish();
    expect(preemptionMatrix(p, () => containerOf(''))).toBeNull();
  });
});

/**
 * A round-robin scheduler over `cpus` CPUs with 3 ms slices: every task is always runnable; at
 * each slice end a CPU switches its task out (R) for the head of one global queue.
 */
function schedule(
  tasks: { tid: number; cgroup: string; comm: string }[],
  cpus: number,
  slices: number,
): Row[] {
  const rows: Row[] = [];
  const queue = [...tasks];
  const running = queue.splice(0, cpus);
  for (let c = 0; c < cpus; c++) rows.push([0, c, 1000 + c, '/', 'bash', S, running[c].tid]);
  for (let k = 1; k <= slices; k++) {
    for (let c = 0; c < cpus; c++) {
      const out = running[c];
      queue.push(out);
      running[c] = queue.shift()!;
      rows.push([k * 3 + c * 0.5, c, out.tid, out.cgroup, out.comm, R, running[c].tid]);
    }
  }
  return rows;
}

const runqueue = signatures().find((s) => s.id === 'runqueue-contention');

describe('runqueue-contention from preemption: blame rests on who made whom wait', () => {
  const hog = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ tid: 20 + i, cgroup: BATCH, comm: 'hog' }));
  const api = { tid: 10, cgroup: API, comm: 'api' };

  it('names the container with more busy threads than CPUs, never the one waiting for it', () => {
    const m = matrixOf(profileOf(schedule([api, ...hog(4)], 2, 400)));
    const f = preemptionFindings(m, runqueue, undefined);
    tallyAccusations('preemption.test: hog vs api', f, [apiId]);
    const neighbour = f.find((x) => x.antagonist !== null)!;
    expect(neighbour.antagonist?.container).toBe(batchId);
    expect(neighbour.victims.map((v) => v.container)).toEqual([apiId]);
    expect(neighbour.victims[0].reasons).toEqual(['preemption']);
    expect(f.every((x) => x.antagonist?.container !== apiId)).toBe(true);
    // Per task the waits are about even; the hog's CPU time is what makes it the neighbour.
    expect(waitedFor(m, batchId, apiId).share).toBeGreaterThan(0.1);
    expect(f.some((x) => x.sharedStorm)).toBe(false);
    // The hog waits mostly for its own threads: told so, with no antagonist.
    const self = f.find((x) => x.title.includes("batch-1's own threads exceed its CPUs"))!;
    expect(self).toMatchObject({ antagonist: null, severity: 'info' });
    expect(waitedFor(m, apiId, batchId).share).toBeGreaterThan(0.5);
  });

  it('names no one when two containers share the CPUs evenly', () => {
    const other = { tid: 11, cgroup: BATCH, comm: 'batch' };
    const m = matrixOf(profileOf(schedule([api, other], 1, 400)));
    const f = preemptionFindings(m, runqueue, undefined);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ antagonist: null, sharedStorm: true });
    expect(f[0].victims.map((v) => v.container).sort()).toEqual([apiId, batchId].sort());
  });

  it('says nothing when the waits are under 10% of the wanted CPU time', () => {
    // api waits one slice in twenty behind the batch job, which waits behind nobody.
    const rows: Row[] = [[0, 0, 1000, '/', 'bash', S, 10]];
    for (let k = 0; k < 50; k++) {
      const t = k * 40;
      rows.push([t + 38, 0, 10, API, 'api', R, 20], [t + 40, 0, 20, BATCH, 'batch', S, 10]);
    }
    const f = preemptionFindings(matrixOf(profileOf(rows)), runqueue, undefined);
    expect(f).toEqual([]);
  });

  it('adds cpu.pressure as a corroborating reason, throttling as the own limit, and steal', () => {
    const m = matrixOf(profileOf(schedule([api, ...hog(4)], 2, 400)));
    const counters: CounterSet = {
      windowSeconds: 1.2,
      host: new Map([[STEAL_METRIC, 0.07]]),
      byContainer: new Map([
        [
          apiId,
          new Map([
            ['cgroup.cpu.pressure.some', 0.6],
            ['cgroup.cpu.throttled.ratio', 0.2],
          ]),
        ],
      ]),
    };
    const f = preemptionFindings(m, runqueue, counters).find((x) => x.antagonist !== null)!;
    expect(f.victims[0].reasons).toEqual(['preemption', 'pressure']);
    expect(f.evidence.map((e) => e.metric)).toEqual(
      expect.arrayContaining([
        'cgroup.cpu.pressure.some, api-1',
        'cgroup.cpu.throttled.ratio, api-1 (its own limit)',
        'hypervisor steal, share of CPU time (/proc/stat)',
      ]),
    );
    const steal = stealFinding(counters, m)!;
    expect(steal.title).toMatch(/^Hypervisor steal: 7% .*the neighbour is outside this kernel$/);
    expect(steal.antagonist).toBeNull();
    expect(stealFinding({ ...counters, host: new Map([[STEAL_METRIC, 0.01]]) }, m)).toBeNull();
  });

  it('diagnose: works from switches alone and replaces the counter finding that guessed', () => {
    const p = profileOf(schedule([api, ...hog(4)], 2, 400));
    const analysis = analyzeProfile(p);
    expect(analysis.offCpu?.preemption?.victims.map((v) => v.name)).toContain('api-1');
    const counters: CounterSet = {
      windowSeconds: 1.2,
      host: new Map(),
      byContainer: new Map([[apiId, new Map([['cgroup.cpu.pressure.some', 0.6]])]]),
    };
    const f = diagnose(p, analysis, { counters }).filter((x) => x.signature === 'runqueue-contention');
    expect(f.filter((x) => x.antagonist !== null).map((x) => x.antagonist?.container)).toEqual([batchId]);
    // The pressure-only finding (its antagonist a guess) is gone: api-1 is covered by the switches.
    expect(f.every((x) => x.callSiteNote !== 'a counter finding: the profile has no call site for it')).toBe(
      true,
    );
  });
});
