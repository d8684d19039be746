// Statically linked programs: libc's syscall wrappers sit inside the program's own module, so only
// their names tell them apart from application code. Same verdicts as for a shared libc.
import { describe, expect, it } from 'vitest';
import { callSiteOf } from '../src/analysis/call-site.ts';
import { callSiteFields } from '../src/analysis/diagnose-callsite.ts';

const inApp = (name: string) => ({ name, module: '/crosstalk/bin/workload', unknown: false });

describe('static libc wrappers', () => {
  it('with frame pointers, the wrapper in the program loses its caller: call site lost, DWARF advised', () => {
    // fp stack of a static glibc program: the wrapper's caller (Journal_Flush) was skipped.
    const site = callSiteOf([inApp('posix_fadvise'), inApp('main'), inApp('__libc_start_call_main')], 'fp');
    expect(site).toEqual({ status: 'lost', wrapper: 'posix_fadvise', reason: 'frame-pointer' });
    expect(callSiteFields(site).note).toBe(
      'call site lost by frame-pointer unwinding (the caller of posix_fadvise); record with --call-graph dwarf',
    );
    expect(callSiteOf([inApp('__libc_write'), inApp('LogWrite')], 'fp')).toMatchObject({ status: 'lost' });
    expect(callSiteOf([inApp('__fsync_nocancel'), inApp('Commit')], 'fp')).toMatchObject({ status: 'lost' });
  });

  it('with DWARF, the caller above the static wrapper is the call site', () => {
    const site = callSiteOf([inApp('posix_fadvise64'), inApp('Journal_Flush'), inApp('main')], 'dwarf');
    expect(site).toEqual({
      status: 'found',
      function: 'Journal_Flush',
      module: '/crosstalk/bin/workload',
      wrapper: 'posix_fadvise64',
    });
  });

  it('application functions that only contain a wrapper name are call sites', () => {
    for (const name of ['write_record', 'Journal::write', 'do_fsync_batch', 'readConfig']) {
      expect(callSiteOf([inApp(name), inApp('main')], 'fp')).toMatchObject({
        status: 'found',
        function: name,
      });
    }
  });
});

describe('frames without a symbol', () => {
  it('say why, and that DWARF would not help', () => {
    const note = (module: string) => callSiteFields({ status: 'unknown', module, wrapper: null }).note;
    expect(note('[unknown]')).toMatch(/JIT or anonymous code without a perf map.*would not help/);
    expect(note('/tmp/perf-4242.map')).toMatch(/perf map has no entry/);
    expect(note('/crosstalk/bin/workload')).toMatch(
      /not readable when the profile was decoded.*or it is stripped/,
    );
  });
});
