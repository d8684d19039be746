// The run's build-id cache: which sampled binaries are kept, and the ELF build id read to check
// that the file found is the one perf sampled. Real binaries of this machine; no recording.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { CommandResult } from '../src/collect/command-runner.ts';
import { elfBuildId, keepSampledBinaries, parseBuildIdList } from '../src/collect/symbol-cache.ts';

describe('perf buildid-list --with-hits', () => {
  it('keeps files with a build id, once per build id; JIT maps, memfd and deleted files are not files to keep', () => {
    // perf 6.1 output, trimmed (captured beside a Docker container running the lab query server).
    const text = [
      '7dd4ff0789e05e14285320129149da2555ca0bfc [kernel.kallsyms]',
      'dcb0cfffee6007722077ef5e6d9dd6f24d2ca212 /crosstalk/bin/query-server',
      '93ac61ec5a8eb1396f9fbd350e3169a558528a40 /lib/x86_64-linux-gnu/libc.so.6',
      'dcb0cfffee6007722077ef5e6d9dd6f24d2ca212 /crosstalk/bin/query-server',
      '93ac61ec5a8eb1396f9fbd350e3169a558528a40 /usr/lib/x86_64-linux-gnu/libc.so.6',
      '                                         /memfd:sealed-91173221a7ea (deleted)',
      '                                         /tmp/perf-29291.map',
    ].join('\n');
    expect(parseBuildIdList(text)).toEqual([
      { buildId: 'dcb0cfffee6007722077ef5e6d9dd6f24d2ca212', path: '/crosstalk/bin/query-server' },
      { buildId: '93ac61ec5a8eb1396f9fbd350e3169a558528a40', path: '/lib/x86_64-linux-gnu/libc.so.6' },
    ]);
  });
});

describe('elfBuildId', () => {
  it('reads the GNU build id readelf shows', async () => {
    const shown = /Build ID: ([0-9a-f]+)/.exec(
      spawnSync('readelf', ['-n', '/usr/bin/true'], { encoding: 'utf8' }).stdout ?? '',
    );
    if (shown === null) return expect.fail('readelf -n /usr/bin/true shows no build id (binutils missing?)');
    expect(await elfBuildId('/usr/bin/true')).toBe(shown[1]);
  });

  it('is null for a file that is not ELF, and for no file', async () => {
    expect(await elfBuildId('/etc/hostname')).toBeNull();
    expect(await elfBuildId('/nonexistent')).toBeNull();
  });
});

describe('keepSampledBinaries', () => {
  it('keeps what a process maps within the budget and says why the rest was not kept', async () => {
    const trueId = (await elfBuildId('/usr/bin/true'))!;
    const catId = (await elfBuildId('/usr/bin/cat'))!;
    const asked: string[][] = [];
    const runner = async (_cmd: string, args: readonly string[]): Promise<CommandResult> => {
      asked.push([...args]);
      const stdout =
        args[0] === 'buildid-list'
          ? `${trueId} /usr/bin/true\n${catId} /usr/bin/cat\n${'a'.repeat(40)} /gone/binary\n${'b'.repeat(40)} /usr/bin/true\n`
          : '';
      return { kind: 'exited', code: 0, stdout, stderr: '', truncated: false };
    };
    const trueSize = (await import('node:fs')).statSync('/usr/bin/true').size;
    const facts = await keepSampledBinaries({
      perfPath: 'perf',
      perfData: '/run/x/perf.data',
      runDir: '/run/x',
      processes: [{ pid: process.pid, inContainer: true }],
      budgetBytes: trueSize,
      runner,
    });
    expect(facts.kept).toEqual([
      { path: '/usr/bin/true', buildId: trueId, bytes: trueSize, from: 'container' },
    ]);
    expect(facts.skipped.map((s) => [s.path, s.reason])).toEqual([
      ['/usr/bin/cat', `over the budget of ${trueSize} bytes`],
      ['/gone/binary', 'binary gone: no live process or host path has it'],
      ['/usr/bin/true', 'the file at that path now has another build id'],
    ]);
    expect(asked[1]).toEqual([
      '--buildid-dir',
      '/run/x/build-id',
      'buildid-cache',
      '--target-ns',
      String(process.pid),
      '-a',
      '/usr/bin/true',
    ]);
  });
});
