/**
 * The run's archive and its kernel/vdso entries: only regular files, relative paths, no link
 * followed; build ids checked before anything is kept. Unit test (tar, no perf).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  keepKernelAndVdso,
  regularFiles,
  specialBuildIds,
  writeRunArchive,
} from '../src/collect/run-build-ids.ts';

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('run archive', () => {
  it('packs regular files only, under relative paths, owner-only, and never follows a link', () => {
    dir = mkdtempSync(join(tmpdir(), 'crosstalk-run-archive-'));
    const cache = join(dir, 'build-id');
    const bid = 'ab'.repeat(20);
    mkdirSync(join(cache, 'usr/bin/tool', bid), { recursive: true });
    writeFileSync(join(cache, 'usr/bin/tool', bid, 'elf'), 'ELF bytes');
    mkdirSync(join(cache, '.build-id', 'ab'), { recursive: true });
    symlinkSync(`../../usr/bin/tool/${bid}`, join(cache, '.build-id', 'ab', bid.slice(2)));
    // A link to a file outside the cache, and one to a directory: neither may be packed or walked.
    writeFileSync(join(dir, 'secret'), 'not for the archive');
    symlinkSync(join(dir, 'secret'), join(cache, 'usr/bin/tool', bid, 'debug'));
    symlinkSync('/etc', join(cache, 'etc-link'));
    return regularFiles(cache).then(async (files) => {
      expect(files).toEqual([`usr/bin/tool/${bid}/elf`]);
      const facts = await writeRunArchive(dir, cache);
      expect(facts).toMatchObject({ file: 'perf.data.tar.bz2', files: 1 });
      const tarball = join(dir, 'perf.data.tar.bz2');
      expect(statSync(tarball).mode & 0o777).toBe(0o600);
      const listed = spawnSync('tar', ['-tvjf', tarball], { encoding: 'utf8' }).stdout.trim().split('\n');
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatch(new RegExp(`^-rw.* 0/0 .* usr/bin/tool/${bid}/elf$`));
      // Never over an existing file (or a link planted in its place).
      expect((await writeRunArchive(dir, cache)).skipped).toMatch(/EEXIST/);
    });
  });

  it('says why there is no archive when the cache is missing or empty', async () => {
    dir = mkdtempSync(join(tmpdir(), 'crosstalk-run-archive-'));
    expect((await writeRunArchive(dir, join(dir, 'build-id'))).skipped).toMatch(/no build-id cache/);
    mkdirSync(join(dir, 'build-id'));
    expect((await writeRunArchive(dir, join(dir, 'build-id'))).skipped).toMatch(/empty/);
  });
});

describe('kernel and vdso entries', () => {
  it('reads their build ids from perf buildid-list', () => {
    const text = `${'7d'.repeat(20)} [kernel.kallsyms]\n${'82'.repeat(20)} [vdso]\n${'93'.repeat(20)} /usr/lib/libc.so.6\n`;
    expect(specialBuildIds(text)).toEqual({ kernel: '7d'.repeat(20), vdso: '82'.repeat(20) });
    expect(specialBuildIds('')).toEqual({ kernel: null, vdso: null });
  });

  it('keeps nothing whose build id is not the recorded one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'crosstalk-run-special-'));
    const r = await keepKernelAndVdso(dir, { kernel: '00'.repeat(20), vdso: '00'.repeat(20) });
    expect(r.kept).toEqual([]);
    expect(r.skipped.map((s) => s.path)).toEqual(['[kernel.kallsyms]', '[vdso]']);
    expect(r.skipped[0].reason).toMatch(/not the recorded one/);
    // The vdso was read and checked; with another build id it is not left behind.
    expect(spawnSync('find', [dir, '-type', 'f']).stdout.toString()).toBe('');
  });
});
