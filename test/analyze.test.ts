import { describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { analyzeJson } from '../src/report/json.ts';
import { analyzeSchema } from '../src/report/schema.ts';
import { renderAnalysis } from '../src/report/terminal.ts';
import { profileFromText } from './support/profile-text.ts';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const A = '/system.slice/docker-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.scope';
const B = '/system.slice/docker-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.scope';
const fadvise = `main@/srv/q;LogFileObject::Write(char const*)@/srv/q;posix_fadvise@${LIBC};entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_fadvise64_[k];generic_fadvise_[k];lru_add_drain_all_[k];__lru_add_drain_all_[k]`;
const lstat = `main@/srv/v;Lookup@/srv/v;__lstat64@${LIBC};entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_newlstat_[k];filename_lookup_[k];__d_lookup_[k]`;

const text = `
${A} query:10 ${fadvise} 60
${A} query:10 main@/srv/q;ParseQuery@/srv/q 10
${B} victim:20 ${lstat} 20
${B} victim:20 main@/srv/v;Compute@/srv/v 5
/ swapper:0 cpu_startup_entry_[k];do_idle_[k];default_idle_[k] 5
`;

describe('analyzeProfile', () => {
  const result = analyzeProfile(profileFromText(text, 'dwarf'));

  it('splits each container into user, kernel and idle shares of all samples', () => {
    const a = result.containers.find((c) => c.identity.cgroup === A);
    const b = result.containers.find((c) => c.identity.cgroup === B);
    expect(a?.share).toBeCloseTo(0.7);
    expect(a?.kernelShare).toBeCloseTo(0.6);
    expect(a?.userShare).toBeCloseTo(0.1);
    expect(b?.kernelShare).toBeCloseTo(0.2);
    const host = result.containers.find((c) => c.identity.runtime === 'host');
    expect(host?.idleShare).toBeCloseTo(0.05);
    expect(result.split.user + result.split.kernel + result.split.idle + result.split.unknown).toBeCloseTo(1);
    expect(result.containers[0].identity.cgroup).toBe(A);
  });

  it('names the syscall, the containers that spend it, its call site and kernel path', () => {
    const s = result.syscalls[0];
    expect(s.name).toBe('fadvise64');
    expect(s.share).toBeCloseTo(0.6);
    expect(s.containers).toHaveLength(1);
    expect(s.containers[0].share).toBeCloseTo(0.6);
    expect(s.callSites[0]).toMatchObject({
      status: 'found',
      function: 'LogFileObject::Write',
      wrapper: 'posix_fadvise',
    });
    expect(s.kernelPaths[0].frames).toContain('lru_add_drain_all');
    expect(s.kernelFunctions[0]).toMatchObject({ name: '__lru_add_drain_all' });
    expect(result.syscalls[1].name).toBe('newlstat');
    expect(result.limitations).toEqual([]);
  });

  it('produces JSON that matches the published schema, and a terminal summary', () => {
    const json = analyzeJson(result);
    expect(() => analyzeSchema.parse(json)).not.toThrow();
    expect(json.syscalls[0].callSites[0].function).toBe('LogFileObject::Write');
    const out = renderAnalysis(result);
    expect(out).toContain('fadvise64');
    expect(out).toContain('LogFileObject::Write (q) via posix_fadvise');
  });

  it('says what the data cannot answer: no cgroups, lost call sites', () => {
    const fp = analyzeProfile(
      profileFromText(
        `query:10 main@/srv/q;posix_fadvise@${LIBC};do_syscall_64_[k];__x64_sys_fadvise64_[k] 3`,
        'fp',
        false,
      ),
    );
    expect(fp.limitations.map((l) => l.code)).toEqual(['no-cgroups', 'call-sites-lost']);
    expect(fp.syscalls[0].callSites[0]).toMatchObject({ status: 'lost', reason: 'frame-pointer' });
    expect(renderAnalysis(fp)).toContain(
      'call site lost by frame-pointer unwinding via posix_fadvise; record with --call-graph dwarf',
    );
  });

  it('says when samples carry no call chains or kernel symbols', () => {
    const flat = analyzeProfile(profileFromText('p:1 compute 5\np:1 other_[k] 5'));
    expect(flat.limitations.map((l) => l.code)).toContain('no-call-graphs');
    const hidden = analyzeProfile(profileFromText('p:1 main;[unknown]_[k];[unknown]_[k] 5\np:1 main;x 1'));
    expect(hidden.limitations.map((l) => l.code)).toContain('no-kernel-symbols');
  });

  it('neutralises hostile names in the terminal output', () => {
    const evil = 'Evil\u001b[31mRed\u0007';
    const hostile = analyzeProfile(
      profileFromText(
        `/evil-\u001b[2J q:1 main;${evil}@/srv/q;do_syscall_64_[k];__x64_sys_read_[k];vfs_read_[k] 1`,
      ),
    );
    const out = renderAnalysis(hostile);
    expect(out).toContain('Evil\\x1b[31mRed\\x07');
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});

describe('foreign load beside a scenario', () => {
  it('lists other containers busy for at least 5% of the recording, busiest first', async () => {
    const { foreignLoadOf } = await import('../src/analysis/foreign-load.ts');
    const { analyzeProfile } = await import('../src/analysis/analyze.ts');
    const { profileFromText } = await import('./support/profile-text.ts');
    const p = profileFromText(`
/crosstalk-lab/run-a/query-1 q:1 main@/srv/q;Work@/srv/q 40
/docker/${'a'.repeat(64)} other:2 main@/bin/o;Spin@/bin/o 38
/ cron:3 main@/bin/c 2
/ swapper:0 cpu_idle_[k] 20
`);
    const load = foreignLoadOf(analyzeProfile(p), new Set(['query-1']));
    expect(load.map((l) => l.name)).toEqual(['a'.repeat(12)]);
    expect(load[0].busyShare).toBeCloseTo(0.38, 6);
  });
});
