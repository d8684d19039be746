// The ranking rules of blame for findings no signature explains (src/analysis/blame.ts), on
// synthetic profiles: level vs growth against a baseline, shared vs private kernel path,
// time-window correlation, preemption, and the order of findings.
import { describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { Attributions } from '../src/analysis/attribute.ts';
import { type DiagnoseOptions, diagnose } from '../src/analysis/diagnose.ts';
import { type Finding, sortFindings } from '../src/analysis/findings.ts';
import { matchContainers } from '../src/analysis/match-containers.ts';
import { tallyAccusations } from './support/accusations.ts';
import { profileFromText } from './support/profile-text.ts';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const dock = (c: string) => `/system.slice/docker-${c.repeat(64)}.scope`;
const V = 'a'.repeat(64);
const N = 'b'.repeat(64);
const O = 'c'.repeat(64);
const entry = 'entry_SYSCALL_64_[k];do_syscall_64_[k]';
/** The victim's steady work: stat() of existing files (no signature: cache hits). */
const victimStat = `main@/srv/v;Serve@/srv/v;__stat64@${LIBC};${entry};__x64_sys_newfstatat_[k];vfs_statx_[k];filename_lookup_[k];path_lookupat_[k];complete_walk_[k]`;
/** The neighbour's kernel-heavy work through a driver path no signature knows. */
const neighbourIoctl = `main@/srv/n;Churn@/srv/n;ioctl@${LIBC};${entry};__x64_sys_ioctl_[k];widget_ioctl_[k];widget_table_update_[k]`;
/** Another container taking the same widget table lock, spinning on it. */
const sharedRead = `main@/srv/v;Poll@/srv/v;read@${LIBC};${entry};__x64_sys_read_[k];widget_read_[k];widget_table_update_[k];native_queued_spin_lock_slowpath_[k]`;
const user = (who: string) => `main@/srv/${who};Compute@/srv/${who}`;
const idle = '/ swapper:0 do_idle_[k];default_idle_[k]';

/** Lines interleaved over time: each entry repeated `n` times, spread over the whole recording. */
function spread(entries: [string, number][], rounds = 100): string {
  const out: string[] = [];
  for (let r = 0; r < rounds; r++) for (const [line, n] of entries) if (r < n) out.push(line);
  return out.join('\n');
}

function analyse(text: string) {
  const p = profileFromText(text);
  const attributions = new Attributions(p);
  return { p, attributions, analysis: analyzeProfile(p, { attributions }) };
}

/** Every synthetic recording here has the victim V; each diagnosis joins the suite's tally. */
function run(text: string, opts: DiagnoseOptions = {}): Finding[] {
  const { p, attributions, analysis } = analyse(text);
  const fs = diagnose(p, analysis, { attributions, ...opts });
  tallyAccusations(`blame.test: ${expect.getState().currentTestName}`, fs, [V]);
  return fs;
}

function diffRun(baseText: string, targetText: string): Finding[] {
  const b = analyse(baseText);
  const t = analyse(targetText);
  const fs = diagnose(t.p, t.analysis, {
    attributions: t.attributions,
    baseline: {
      profile: b.p,
      analysis: b.analysis,
      pairing: matchContainers(b.analysis.containers, t.analysis.containers),
    },
  });
  tallyAccusations(`blame.test (diff): ${expect.getState().currentTestName}`, fs, [V]);
  return fs;
}

const accused = (fs: Finding[]) => fs.flatMap((f) => (f.antagonist ? [f.antagonist.container] : []));

describe('with a baseline: blame by growth, not by level', () => {
  // Baseline: the victim alone, 48% of host CPU in newfstatat. Target: its share falls to 23%
  // (it gets less CPU) and a new container spends 45% in an unknown ioctl path.
  const base = spread([
    [`${dock('a')} web:10 ${victimStat} 1`, 48],
    [`${dock('a')} web:10 ${user('v')} 1`, 12],
    [`${idle} 1`, 40],
  ]);
  const target = spread([
    [`${dock('a')} web:10 ${victimStat} 1`, 23],
    [`${dock('a')} web:10 ${user('v')} 1`, 12],
    [`${dock('b')} churn:20 ${neighbourIoctl} 1`, 45],
    [`${dock('b')} churn:20 ${user('n')} 1`, 10],
    [`${idle} 1`, 10],
  ]);

  it('names the container that grew (absent from the baseline: all growth), never the one that shrank', () => {
    const fs = diffRun(base, target);
    const first = fs.find((f) => f.antagonist !== null)!;
    expect(first.antagonist?.container).toBe(N);
    expect(first.syscall).toBe('ioctl');
    expect(first.basis).toContain('growth-vs-baseline');
    expect(first.evidence[0]).toMatchObject({ unit: 'CPUs', baseline: 0 });
    expect(accused(fs)).not.toContain(V);
    expect(fs[0]).toBe(first);
  });

  it('a container whose time in the path did not grow beyond noise is never the antagonist', () => {
    // Both runs: the victim at the same level; nothing else changes.
    const same = spread([
      [`${dock('a')} web:10 ${victimStat} 1`, 48],
      [`${dock('a')} web:10 ${user('v')} 1`, 12],
      [`${idle} 1`, 40],
    ]);
    const fs = diffRun(base, same);
    expect(accused(fs)).toEqual([]);
    expect(fs).toHaveLength(1);
    expect(fs[0].title).toMatch(/grew beyond noise/);
  });

  it('ranks by growth: a lower level that grew beats a higher level that stayed', () => {
    const baseTwo = spread([
      [`${dock('a')} web:10 ${victimStat} 1`, 40],
      [`${dock('b')} churn:20 ${neighbourIoctl} 1`, 5],
      [`${dock('b')} churn:20 ${user('n')} 1`, 10],
      [`${idle} 1`, 45],
    ]);
    const targetTwo = spread([
      [`${dock('a')} web:10 ${victimStat} 1`, 40],
      [`${dock('b')} churn:20 ${neighbourIoctl} 1`, 25],
      [`${dock('b')} churn:20 ${user('n')} 1`, 10],
      [`${idle} 1`, 25],
    ]);
    const fs = diffRun(baseTwo, targetTwo);
    expect(accused(fs)).toEqual([N]);
    expect(fs[0].evidence[0].value).toBeGreaterThan(fs[0].evidence[0].baseline!);
  });
});

describe('without a baseline: blame needs evidence of harm', () => {
  it('private paths: each container is the busiest kernel path of its own, nobody is accused', () => {
    const fs = run(
      spread([
        [`${dock('a')} web:10 ${victimStat} 1`, 23],
        [`${dock('a')} web:10 ${user('v')} 1`, 12],
        [`${dock('b')} churn:20 ${neighbourIoctl} 1`, 45],
        [`${idle} 1`, 20],
      ]),
    );
    expect(accused(fs)).toEqual([]);
    expect(fs.length).toBeGreaterThan(0);
    for (const f of fs) {
      expect(f.title).toMatch(/^Busiest kernel path/);
      expect(f).toMatchObject({ severity: 'info', basis: [], antagonist: null });
    }
  });

  it('shared path: the neighbour in the same kernel functions (spinning on the lock) is the victim', () => {
    const fs = run(
      spread([
        [`${dock('a')} web:10 ${sharedRead} 1`, 8],
        [`${dock('a')} web:10 ${user('v')} 1`, 30],
        [`${dock('b')} churn:20 ${neighbourIoctl} 1`, 45],
        [`${idle} 1`, 17],
      ]),
    );
    expect(accused(fs)).toEqual([N]);
    const f = fs[0];
    expect(f.basis).toEqual(['shared-path']);
    expect(f.confidence).toBe('medium');
    expect(f.victims).toEqual([{ container: V, name: V.slice(0, 12), reasons: ['in-path', 'lock-wait'] }]);
    // The victim's own read() path (8% of host CPU) is covered by the finding, not reported apart.
    expect(fs.filter((x) => x.syscall === 'read')).toEqual([]);
  });

  it('time correlation: the victim’s kernel time rises in the windows where the neighbour is busy', () => {
    // The neighbour works in bursts (every other tenth of the recording); the victim's stat()
    // calls take longer in those windows. The victim's level is lower than the neighbour's.
    const lines: string[] = [];
    for (let w = 0; w < 10; w++) {
      const busy = w % 2 === 0;
      for (let i = 0; i < 20; i++) {
        lines.push(`${dock('b')} churn:20 ${busy ? neighbourIoctl : user('n')} 1`);
        lines.push(`${dock('a')} web:10 ${i < (busy ? 12 : 3) ? victimStat : user('v')} 1`);
      }
    }
    const fs = run(lines.join('\n'));
    expect(accused(fs)).toEqual([N]);
    const f = fs.find((x) => x.antagonist)!;
    expect(f.basis).toEqual(['time-correlation']);
    expect(f.confidence).toBe('low');
    expect(f.victims.map((v) => [v.container, v.reasons])).toEqual([[V, ['correlated']]]);
  });

  it('preemption: a victim that waits runnable behind the neighbour, per CPU it uses', () => {
    const text = spread([
      [`${dock('a')} web:10 ${victimStat} 1`, 10],
      [`${dock('a')} web:10 ${user('v')} 1`, 5],
      [`${dock('b')} churn:20 ${neighbourIoctl} 1`, 60],
      [`${dock('b')} churn:20 ${user('n')} 1`, 25],
    ]);
    // 2 s: the victim waited 0.6 s behind the neighbour; the neighbour 0.8 s behind the victim,
    // more seconds but far less per CPU share (85% vs 15%).
    const waits = new Map([
      [V, new Map([[N, 0.6]])],
      [N, new Map([[V, 0.8]])],
    ]);
    const fs = run(text, { preemption: { windowSeconds: 2, waits } });
    expect(accused(fs)).toEqual([N]);
    const f = fs.find((x) => x.antagonist)!;
    expect(f.basis).toEqual(['preemption']);
    expect(f.victims[0]).toMatchObject({ container: V, reasons: ['preempted'] });
    // Without the matrix nothing shows harm: no one is accused.
    expect(accused(run(text))).toEqual([]);
  });

  it('a third container in neither path is neither victim nor antagonist', () => {
    const fs = run(
      spread([
        [`${dock('a')} web:10 ${sharedRead} 1`, 8],
        [`${dock('b')} churn:20 ${neighbourIoctl} 1`, 45],
        [`${dock('c')} batch:30 ${user('o')} 1`, 40],
        [`${idle} 1`, 7],
      ]),
    );
    expect(accused(fs)).toEqual([N]);
    expect(fs[0].victims.map((v) => v.container)).toEqual([V]);
    expect(fs.flatMap((f) => f.victims.map((v) => v.container))).not.toContain(O);
  });
});

describe('signature findings without a baseline', () => {
  it('name the container that runs the cause frames, not the one that spends most in the path', () => {
    // The victim's lookups of existing files walk the hash chains (__d_lookup_rcu) for longer than
    // the neighbour probing missing names, which alone allocates the negative dentries.
    const lookup = `main@/srv/v;Serve@/srv/v;__stat64@${LIBC};${entry};__x64_sys_newfstatat_[k];filename_lookup_[k];path_lookupat_[k];lookup_fast_[k];__d_lookup_rcu_[k]`;
    const probe = `main@/srv/n;Probe@/srv/n;__stat64@${LIBC};${entry};__x64_sys_newfstatat_[k];filename_lookup_[k];path_lookupat_[k];walk_component_[k];__lookup_slow_[k];d_alloc_parallel_[k]`;
    const fs = run(
      spread([
        [`${dock('a')} web:10 ${lookup} 1`, 30],
        [`${dock('b')} cache:20 ${probe} 1`, 12],
        [`${dock('b')} cache:20 ${lookup.replace('/srv/v', '/srv/n')} 1`, 8],
        [`${idle} 1`, 50],
      ]),
    );
    expect(fs[0].signature).toBe('negative-dentries');
    expect(fs[0].antagonist?.container).toBe(N);
    expect(fs[0].victims.map((v) => v.container)).toContain(V);
  });
});

describe('order of findings', () => {
  it('severity, then confidence, then harm; cannot-answer verdicts first', () => {
    const f = (
      title: string,
      kind: Finding['kind'],
      severity: Finding['severity'],
      confidence: Finding['confidence'],
      impact: number,
    ) => ({ title, kind, severity, confidence, impact }) as Finding;
    const sorted = sortFindings([
      f('info-high', 'generic', 'info', 'high', 0.9),
      f('warn-low-big', 'generic', 'warning', 'low', 0.9),
      f('warn-high-small', 'generic', 'warning', 'high', 0.1),
      f('warn-high-big', 'signature', 'warning', 'high', 0.3),
      f('cannot', 'cannot-answer', 'info', 'high', 1),
      f('crit-medium', 'signature', 'critical', 'medium', 0.01),
    ]);
    expect(sorted.map((x) => x.title)).toEqual([
      'cannot',
      'crit-medium',
      'warn-high-big',
      'warn-high-small',
      'warn-low-big',
      'info-high',
    ]);
  });
});
