import { describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { Attributions } from '../src/analysis/attribute.ts';
import { correlation, diagnose } from '../src/analysis/diagnose.ts';
import { profileFromText } from './support/profile-text.ts';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const dock = (c: string) => `/system.slice/docker-${c.repeat(64)}.scope`;
const fadvise = `main@/srv/q;HandleQuery@/srv/q;LogFileObject::Write(char const*)@/srv/q;posix_fadvise@${LIBC};entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_fadvise64_[k];ksys_fadvise64_64_[k];generic_fadvise_[k];lru_add_drain_all_[k];__lru_add_drain_all_[k]`;
const fadviseWait = `main@/srv/q;HandleQuery@/srv/q;LogFileObject::Write(char const*)@/srv/q;posix_fadvise@${LIBC};entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_fadvise64_[k];ksys_fadvise64_64_[k];generic_fadvise_[k];lru_add_drain_all_[k];__mutex_lock_[k];osq_lock_[k]`;
const lstat = `main@/srv/v;Lookup@/srv/v;__lstat64@${LIBC};entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_newlstat_[k];filename_lookup_[k];path_lookupat_[k];__d_lookup_rcu_[k]`;
const statMissing = `main@/srv/n;Probe@/srv/n;__stat64@${LIBC};entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_newstat_[k];filename_lookup_[k];path_lookupat_[k];walk_component_[k];__lookup_slow_[k];d_alloc_parallel_[k]`;

function run(text: string, mode: 'fp' | 'dwarf' = 'dwarf') {
  const p = profileFromText(text, mode);
  const attributions = new Attributions(p);
  const analysis = analyzeProfile(p, { attributions });
  return diagnose(p, analysis, { attributions });
}

describe('diagnose: fadvise storm', () => {
  it('names the antagonist, syscall, call site, path and victims', () => {
    const findings = run(`
${dock('a')} logger:10 ${fadvise} 30
${dock('a')} logger:10 main@/srv/q;Work@/srv/q 10
${dock('b')} query:20 ${fadviseWait} 3
${dock('b')} query:20 ${fadviseWait} 3
${dock('b')} query:20 ${fadviseWait} 2
${dock('b')} query:20 main@/srv/q;Work@/srv/q 40
/ kworker/0:1:5 ret_from_fork_[k];kthread_[k];worker_thread_[k];lru_add_drain_per_cpu_[k] 5
/ swapper:0 do_idle_[k];default_idle_[k] 7
`);
    const f = findings[0];
    expect(f.signature).toBe('fadvise-dontneed-storm');
    expect(f.antagonist?.container).toBe('a'.repeat(64));
    expect(f.antagonist?.process).toBe('logger');
    expect(f.syscall).toBe('fadvise64');
    expect(f.callSite).toEqual({ function: 'LogFileObject::Write', module: '/srv/q' });
    expect(f.kernelPath).toContain('lru_add_drain_all');
    expect(f.victims.map((v) => v.container)).toEqual(['b'.repeat(64)]);
    expect(f.victims[0].reasons).toEqual(expect.arrayContaining(['in-path', 'lock-wait']));
    expect(f.severity).toBe('critical');
    expect(f.sharedStorm).toBe(false);
  });

  it("adds the antagonist's measured syscall rate as evidence, in calls per second", () => {
    const p = profileFromText(
      `${dock('a')} logger:10 ${fadvise} 30\n${dock('b')} q:20 main@/srv/q;Work@/srv/q 40`,
    );
    const attributions = new Attributions(p);
    const f = diagnose(p, analyzeProfile(p, { attributions }), {
      attributions,
      syscallRates: [
        { cgroup: dock('a'), perSecond: 130_000, top: [{ name: 'fadvise64', perSecond: 120_000 }] },
        { cgroup: dock('b'), perSecond: 9_000, top: [{ name: 'fadvise64', perSecond: 5 }] },
      ],
    })[0];
    expect(f.evidence.find((e) => e.unit === 'calls/s')).toMatchObject({
      metric: expect.stringMatching(/^fadvise64 calls, /),
      value: 120_000,
      container: 'a'.repeat(64),
    });
  });

  it('says when every container drives the same storm', () => {
    const findings = run(`
${dock('a')} q:10 ${fadvise} 30
${dock('b')} q:20 ${fadvise} 28
${dock('c')} q:30 ${fadvise} 27
${dock('c')} q:30 main@/srv/q;Work@/srv/q 15
`);
    expect(findings[0].sharedStorm).toBe(true);
    expect(findings[0].victims).toHaveLength(2);
    expect(findings[0].victims.every((v) => v.reasons.includes('shared-storm'))).toBe(true);
  });

  it('reports the lost call site on frame-pointer stacks instead of a wrong function', () => {
    const fp = `main@/srv/q;posix_fadvise@${LIBC};entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_fadvise64_[k];generic_fadvise_[k];lru_add_drain_all_[k]`;
    const f = run(`${dock('a')} q:1 ${fp} 50\n${dock('a')} q:1 main@/srv/q 50`, 'fp')[0];
    expect(f.signature).toBe('fadvise-dontneed-storm');
    expect(f.callSite).toBeNull();
    expect(f.callSiteNote).toMatch(/lost by frame-pointer unwinding .*posix_fadvise.*--call-graph dwarf/);
  });

  it('does not fire below its threshold', () => {
    const findings = run(`${dock('a')} q:1 ${fadvise} 1\n${dock('a')} q:1 main@/srv/q 99`);
    expect(findings.filter((f) => f.signature !== null)).toEqual([]);
  });
});

describe('diagnose: negative dentries and generic findings', () => {
  it('puts the neighbour probing missing names first and the victim looking up paths in victims', () => {
    const findings = run(`
${dock('d')} prober:10 ${statMissing} 40
${dock('e')} victim:20 ${lstat} 5
${dock('e')} victim:20 ${lstat} 5
${dock('e')} victim:20 ${lstat} 5
${dock('e')} victim:20 main@/srv/v;Work@/srv/v 30
/ swapper:0 do_idle_[k];default_idle_[k] 15
`);
    const f = findings[0];
    expect(f.signature).toBe('negative-dentries');
    expect(f.antagonist?.container).toBe('d'.repeat(64));
    expect(f.syscall).toBe('newstat');
    expect(f.callSite?.function).toBe('Probe');
    expect(f.victims.map((v) => v.container)).toEqual(['e'.repeat(64)]);
  });

  it('gives an unknown heavy kernel path a precise generic finding, blaming no one when no one else is there', () => {
    const odd = `main@/srv/o;Spin@/srv/o;ioctl@${LIBC};do_syscall_64_[k];__x64_sys_ioctl_[k];weird_driver_ioctl_[k];weird_busy_loop_[k]`;
    const findings = run(`${dock('f')} odd:7 ${odd} 30\n${dock('f')} odd:7 main@/srv/o 70`);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      kind: 'generic',
      syscall: 'ioctl',
      callSite: { function: 'Spin' },
      antagonist: null,
      severity: 'info',
      basis: [],
    });
    expect(findings[0].title).toContain('Busiest kernel path');
    expect(findings[0].title).toContain('30.0% of host CPU in ioctl');
    expect(findings[0].kernelPath).toContain('weird_busy_loop');
  });

  it('answers "cannot tell" when the samples have no call chains', () => {
    const findings = run(`${dock('a')} q:1 generic_fadvise_[k] 50\n${dock('a')} q:1 compute 50`);
    expect(findings).toHaveLength(1);
    expect(findings[0].kind).toBe('cannot-answer');
    expect(findings[0].title).toMatch(/no call chains/);
  });
});

describe('correlation', () => {
  it('is 1 for series that move together and about 0 for unrelated ones', () => {
    expect(correlation(Float64Array.from([1, 2, 3, 4]), Float64Array.from([2, 4, 6, 8]))).toBeCloseTo(1);
    expect(
      correlation(Float64Array.from([1, 0, 1, 0, 1, 0]), Float64Array.from([1, 1, 0, 0, 1, 1])),
    ).toBeCloseTo(0, 1);
  });
});

describe('negative-dentries needs a sign of missing names', () => {
  it('does not fire on lookups that hit the cache, however many', () => {
    const hits = `main@/srv/w;Serve@/srv/w;__stat64@${LIBC};do_syscall_64_[k];__x64_sys_newstat_[k];filename_lookup_[k];path_lookupat_[k];lookup_fast_[k];__d_lookup_rcu_[k]`;
    const findings = run(`${dock('a')} web:1 ${hits} 20\n${dock('a')} web:1 main@/srv/w 80`);
    expect(findings.find((f) => f.signature === 'negative-dentries')).toBeUndefined();
  });
});
