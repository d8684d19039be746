import { describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { diagnose } from '../src/analysis/diagnose.ts';
import { diffAnalyses } from '../src/analysis/diff.ts';
import { diffFolded, diffProfile } from '../src/analysis/diff-profile.ts';
import { matchContainers } from '../src/analysis/match-containers.ts';
import { ProfileBuilder } from '../src/model/builder.ts';
import { mergeProfiles } from '../src/model/merge.ts';
import { FrameKind, type Profile, SwitchState } from '../src/model/profile.ts';
import { diffJson } from '../src/report/diff-json.ts';
import { diffSchema } from '../src/report/diff-schema.ts';
import { renderDiff } from '../src/report/diff-text.ts';
import { profileFromText } from './support/profile-text.ts';

/**
 * `p` with context switches: for each [cgroup, tid, ms] a task of that cgroup sleeps in
 * clock_nanosleep from 0 to `ms`, within a 1000 ms window.
 */
function withSleeps(p: Profile, rows: [cgroup: string, tid: number, ms: number][]): Profile {
  const b = new ProfileBuilder('switches', 'perf-script');
  b.meta.hasCgroups = p.meta.hasCgroups;
  b.meta.callGraph = p.meta.callGraph;
  let stack = -1;
  for (const name of ['do_syscall_64', '__x64_sys_clock_nanosleep', 'schedule'])
    stack = b.stack(stack, b.frame(name, '[kernel.kallsyms]', FrameKind.kernel, false, null));
  const comm = b.strings.intern('sleeper');
  const at = (ms: number, prevTid: number, nextTid: number, cgroup: string) =>
    b.addSwitch({
      stack: prevTid > 0 ? stack : -1,
      timeNs: ms * 1e6,
      cpu: 0,
      prevTid,
      prevPid: prevTid,
      comm,
      cgroup: b.strings.intern(cgroup),
      prevState: SwitchState.sleeping,
      nextTid,
    });
  for (const [cgroup, tid, ms] of rows) {
    at(0, tid, 0, cgroup);
    at(ms, 0, tid, cgroup);
  }
  at(1000, 0, 0, '');
  // The merge carries the switches over, re-interned into one profile with p's samples.
  return mergeProfiles([p, b.finish()], p.meta.source);
}

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const lab = (run: string, name: string) => `/crosstalk-lab/${run}/${name}`;
const fadvise = `main@/srv/q;LogFileObject::Write@/srv/q;posix_fadvise@${LIBC};do_syscall_64_[k];__x64_sys_fadvise64_[k];generic_fadvise_[k];lru_add_drain_all_[k]`;
const work = 'main@/srv/q;Work@/srv/q';
const read = `main@/srv/q;Load@/srv/q;read@${LIBC};do_syscall_64_[k];__x64_sys_read_[k];vfs_read_[k]`;

// Baseline: 100 units; query-1 logs a little. Target: 400 units (four times the load), query-2 now logs per line.
const baselineText = `
${lab('run-aaa', 'query-1')} q:1 ${fadvise} 2
${lab('run-aaa', 'query-1')} q:1 ${work} 48
${lab('run-aaa', 'query-2')} q:2 ${read} 10
${lab('run-aaa', 'query-2')} q:2 ${work} 40
`;
const targetText = `
${lab('run-bbb', 'query-1')} q:11 ${fadvise} 8
${lab('run-bbb', 'query-1')} q:11 ${work} 192
${lab('run-bbb', 'query-2')} q:12 ${fadvise} 120
${lab('run-bbb', 'query-2')} q:12 ${read} 40
${lab('run-bbb', 'query-2')} q:12 ${work} 40
`;

describe('diff', () => {
  const bp = profileFromText(baselineText);
  const tp = profileFromText(targetText);
  const ba = analyzeProfile(bp);
  const ta = analyzeProfile(tp);
  const d = diffAnalyses(ba, ta, null, null);

  it('matches containers across runs by name when their ids changed', () => {
    expect(d.pairing.how.get('run-bbb/query-2')).toBe('name');
    expect(d.pairing.baselineOf.get('run-bbb/query-2')).toBe('run-aaa/query-2');
    expect(d.pairing.gone).toEqual([]);
    expect(d.pairing.added).toEqual([]);
  });

  it('normalises by shares: four times the load with the same mix is no change', () => {
    const q1 = d.containers.find((c) => c.name === 'query-1')!;
    expect(q1.total.baseline).toBeCloseTo(0.5);
    expect(q1.total.target).toBeCloseTo(0.5);
    expect(q1.kernel.delta).toBeCloseTo(0.02 - 0.02);
  });

  it('ranks what grew first: fadvise64 in query-2', () => {
    expect(d.syscalls[0].name).toBe('fadvise64');
    expect(d.syscalls[0].total.delta).toBeCloseTo(0.32 - 0.02);
    expect(d.syscalls[0].containers[0]).toMatchObject({ id: 'run-bbb/query-2', name: 'query-2' });
    expect(d.containers[0].name).toBe('query-2');
    expect(d.callSites[0]).toMatchObject({ syscall: 'fadvise64', function: 'LogFileObject::Write' });
    expect(() => diffSchema.parse(diffJson(d, []))).not.toThrow();
    expect(renderDiff(d, [])).toMatch(/fadvise64\s+2\.0%\s+32\.0%\s+\+30\.0%/);
  });

  it('rate normalisation needs durations and reports CPUs', () => {
    const r = diffAnalyses(ba, ta, null, null, { normalize: 'rate' });
    expect(r.unit).toBe('cpus');
    expect(r.split.kernel.target).toBeGreaterThan(r.split.kernel.baseline);
  });

  it('blames the container whose time in the path grew, not the biggest one, with a baseline', () => {
    // Both containers call fadvise in the target; query-1 more, but it already did in the baseline.
    const base2 = profileFromText(
      `${lab('run-aaa', 'query-1')} q:1 ${fadvise} 40\n${lab('run-aaa', 'query-1')} q:1 ${work} 10\n${lab('run-aaa', 'query-2')} q:2 ${work} 50`,
    );
    const target2 = profileFromText(
      `${lab('run-bbb', 'query-1')} q:1 ${fadvise} 40\n${lab('run-bbb', 'query-1')} q:1 ${work} 10\n${lab('run-bbb', 'query-2')} q:2 ${fadvise} 30\n${lab('run-bbb', 'query-2')} q:2 ${work} 20`,
    );
    const b2 = analyzeProfile(base2);
    const t2 = analyzeProfile(target2);
    const pairing = matchContainers(b2.containers, t2.containers);
    const without = diagnose(target2, t2)[0];
    expect(without.antagonist?.container).toBe('run-bbb/query-1');
    const withBase = diagnose(target2, t2, { baseline: { profile: base2, analysis: b2, pairing } })[0];
    expect(withBase.signature).toBe('fadvise-dontneed-storm');
    expect(withBase.antagonist?.container).toBe('run-bbb/query-2');
    expect(withBase.evidence[0].baseline).toBeCloseTo(0.4);
  });

  it('compares off-CPU time as tasks waiting on average, by container and syscall', () => {
    // query-1 sleeps 100 ms of 1000 in the baseline, 600 ms with a second task in the target.
    const b = analyzeProfile(withSleeps(bp, [[lab('run-aaa', 'query-1'), 7, 100]]));
    const t = analyzeProfile(
      withSleeps(tp, [
        [lab('run-bbb', 'query-1'), 7, 600],
        [lab('run-bbb', 'query-1'), 8, 600],
        [lab('run-bbb', 'query-2'), 9, 50],
      ]),
    );
    const off = diffAnalyses(b, t, null, null).offCpu!;
    const q1 = off.containers[0];
    expect(q1).toMatchObject({ id: 'run-bbb/query-1', name: 'query-1' });
    expect(q1.blocked.baseline).toBeCloseTo(0.1);
    expect(q1.blocked.target).toBeCloseTo(1.2);
    expect(q1.blocked.delta).toBeCloseTo(1.1);
    expect(q1.syscalls[0].name).toBe('clock_nanosleep');
    expect(q1.syscalls[0].change.delta).toBeCloseTo(1.1);
    expect(off.containers[1]).toMatchObject({ id: 'run-bbb/query-2' });
    expect(off.containers[1].blocked.delta).toBeCloseTo(0.05);
    const json = diffJson(diffAnalyses(b, t, null, null), []);
    expect(() => diffSchema.parse(json)).not.toThrow();
    expect(json.offCpu?.containers[0].blocked).toEqual({ baseline: 0.1, target: 1.2, delta: 1.1 });
    expect(renderDiff(diffAnalyses(b, t, null, null), [])).toMatch(
      /query-1 blocked\s+0\.100\s+1\.200\s+\+1\.100\n\s+in clock_nanosleep\s+0\.100\s+1\.200\s+\+1\.100/,
    );
    // Without switches on one side there is nothing to compare.
    expect(diffAnalyses(ba, t, null, null).offCpu).toBeNull();
    expect(d.offCpu).toBeNull();
  });

  it('writes the differential folded format with the container as the root frame', () => {
    const lines = diffFolded(bp, tp, d.pairing, (i) => i.name);
    const f = lines.find((l) =>
      l.startsWith('[query-2];q;main;LogFileObject::Write;posix_fadvise;do_syscall_64_[k]'),
    );
    // Baseline scaled to the target's total (x4): 0 -> 120.
    expect(f).toMatch(/ 0 120$/);
    const w = lines.find((l) => l.startsWith('[query-1];q;main;Work '));
    expect(w).toBe('[query-1];q;main;Work 192 192');
  });

  it('builds one differential profile: target positive, baseline negative, containers merged', () => {
    const dp = diffProfile(bp, tp, d.pairing);
    let pos = 0;
    let neg = 0;
    for (const w of dp.samples.weight) {
      if (w > 0) pos += w;
      else neg += w;
    }
    expect(pos).toBeCloseTo(1);
    expect(neg).toBeCloseTo(-1);
    const cgroups = new Set(Array.from(dp.samples.cgroup, (c) => dp.strings[c]));
    expect(cgroups).toEqual(new Set([lab('run-bbb', 'query-1'), lab('run-bbb', 'query-2')]));
  });
});

describe('diff of runs unwound differently (frame pointers vs DWARF)', () => {
  // The libc wrapper hides its caller under frame pointers; a raw syscall from the program does not.
  const text = `
${lab('run-aaa', 'query-1')} q:1 ${fadvise} 20
${lab('run-aaa', 'query-1')} q:1 main@/srv/q;Direct@/srv/q;do_syscall_64_[k];__x64_sys_read_[k];vfs_read_[k] 10
${lab('run-aaa', 'query-1')} q:1 ${work} 70
`;
  const fp = analyzeProfile(profileFromText(text, 'fp'));
  const dwarf = analyzeProfile(profileFromText(text, 'dwarf'));

  it('compares only call sites both runs name, and says why', () => {
    const d = diffAnalyses(fp, dwarf, null, null);
    expect(d.callSites.map((c) => `${c.syscall} ${c.status} ${c.function}`)).toEqual(['read found Direct']);
    expect(d.callSites[0].change.delta).toBeCloseTo(0, 12);
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toContain('fp call graphs and the target with dwarf');
    expect(renderDiff(d, [])).toContain('call sites are compared only where both runs name the function');
    expect(diffSchema.parse(diffJson(d, [])).comparisonWarnings).toEqual(d.warnings);
  });

  it('runs unwound the same way compare every call site, lost ones included', () => {
    const d = diffAnalyses(fp, fp, null, null);
    expect(d.warnings).toEqual([]);
    expect(d.callSites.map((c) => c.status).sort()).toEqual(['found', 'lost']);
  });
});

describe('terminal tables keep columns apart', () => {
  it('a number wider than its column is still separated from the one before', () => {
    const a = analyzeProfile(profileFromText(`${lab('run-aaa', 'query-1')} q:1 ${work} 10`));
    const d = diffAnalyses(a, a, null, null);
    d.counters = [
      {
        metric: 'dentry.negative.delta',
        container: null,
        change: { baseline: 1_247_814_784, target: 2_000_000_000, delta: 752_185_216 },
      },
    ];
    const line = renderDiff(d, [])
      .split('\n')
      .find((l) => l.includes('negative dentries added'))!;
    expect(line).toMatch(/ 1,247,814,784 +2,000,000,000 /);
  });
});
