// Issue 16, items 1 and 15: the lab's build cache. An unprivileged user who controls the cache
// path root inherits (sudo -E, su without -) must not get a binary of theirs run as root; cached
// binaries are verified before use; CC runs only when something is built, and a failing CC is
// reported as failing. Compiles the lab workloads (seconds); no cgroups, no perf.
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkloads, cacheProblem, systemCacheRoot } from '../src/lab/native-build.ts';
import { attackerDir, attackerShell, attackerUnavailable } from './support/attacker.ts';

const skip = attackerUnavailable();
const names = ['query-server', 'cache-prober', 'static-server', 'spool-writer', 'wal-writer'] as const;

describe.skipIf(skip !== null)(
  `lab build cache against a local user${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const saved = { ...process.env };
    let scratch = '';
    beforeAll(() => {
      scratch = mkdtempSync(join(tmpdir(), 'crosstalk-i16-build-'));
    });
    afterAll(() => {
      process.env = saved;
      rmSync(scratch, { recursive: true, force: true });
    });

    it('ignores an XDG_CACHE_HOME the user owns, says so, and never returns a binary from it', async () => {
      const evil = attackerDir();
      // The attacker plants binaries at every hash-named directory they could predict.
      attackerShell('mkdir -p "$1/crosstalk/lab/planted" && chmod -R 0777 "$1"', evil);
      process.env.XDG_CACHE_HOME = evil;
      const said: string[] = [];
      try {
        const built = await buildWorkloads({ onProgress: (m) => said.push(m) });
        expect(said.join('\n')).toContain(`ignoring the build cache ${evil}/crosstalk/lab`);
        expect(said.join('\n')).toContain('owned by uid');
        expect(built.cacheDir.startsWith(`${systemCacheRoot}/`)).toBe(true);
        for (const n of names) expect(built.binaries[n].startsWith(evil)).toBe(false);
        expect(cacheProblem(built.cacheDir, names)).toBeNull();
      } finally {
        process.env.XDG_CACHE_HOME = saved.XDG_CACHE_HOME;
        rmSync(evil, { recursive: true, force: true });
      }
    });

    it('refuses an explicit cache root under a directory the user can write', async () => {
      const evil = attackerDir();
      attackerShell('chmod 0777 "$1"', evil);
      try {
        await expect(buildWorkloads({ cacheRoot: join(evil, 'cache') })).rejects.toThrow(/owned by uid/);
      } finally {
        rmSync(evil, { recursive: true, force: true });
      }
    });

    it('verifies cached binaries (link, mode, content) and rebuilds a tampered cache', async () => {
      const root = join(scratch, 'cache');
      const first = await buildWorkloads({ cacheRoot: root });
      const dir = first.cacheDir;
      expect(cacheProblem(dir, names)).toBeNull();
      const bin = join(dir, 'cache-prober');
      const original = readFileSync(bin);

      writeFileSync(bin, '#!/bin/sh\ntouch /tmp/pwned\n');
      expect(cacheProblem(dir, names)).toMatch(/cache-prober does not match the hash/);

      writeFileSync(bin, original);
      chmodSync(bin, 0o777);
      expect(cacheProblem(dir, names)).toMatch(/cache-prober is writable by other users/);

      rmSync(bin);
      const decoy = join(scratch, 'decoy');
      writeFileSync(decoy, original, { mode: 0o755 });
      symlinkSync(decoy, bin);
      expect(cacheProblem(dir, names)).toMatch(/cache-prober is not a regular file/);

      const said: string[] = [];
      const again = await buildWorkloads({ cacheRoot: root, onProgress: (m) => said.push(m) });
      expect(again.compiled).toBe(true);
      expect(said.join('\n')).toContain(
        'rebuilding lab workloads: cached cache-prober is not a regular file',
      );
      expect(cacheProblem(dir, names)).toBeNull();
      // The link was removed as a link: its target is untouched.
      expect(readFileSync(decoy).equals(original)).toBe(true);
    });

    it('runs CC only when building, and reports a failing CC as failed, not missing', async () => {
      const root = join(scratch, 'cc-cache');
      const log = join(scratch, 'cc.log');
      const wrapper = join(scratch, 'cc-wrapper');
      writeFileSync(wrapper, `#!/bin/sh\necho "$@" >> ${log}\nexec cc "$@"\n`, { mode: 0o755 });
      process.env.CC = wrapper;
      try {
        const first = await buildWorkloads({ cacheRoot: root });
        expect(first.compiled).toBe(true);
        const calls = readFileSync(log, 'utf8');
        expect(calls.length).toBeGreaterThan(0);
        const second = await buildWorkloads({ cacheRoot: root });
        expect(second.compiled).toBe(false);
        // The old build ran `$CC --version` on every use.
        expect(readFileSync(log, 'utf8')).toBe(calls);

        process.env.CC = '/bin/false';
        const err = await buildWorkloads({ cacheRoot: join(scratch, 'false-cache') }).catch((e: Error) => e);
        expect(String(err)).toMatch(/building lab workload \S+ failed \(exit status 1/);
        expect(String(err)).not.toMatch(/not found/);

        process.env.CC = join(scratch, 'no-such-cc');
        await expect(buildWorkloads({ cacheRoot: root })).rejects.toThrow(/no-such-cc: not found/);
        expect(existsSync(join(scratch, 'no-such-cc'))).toBe(false);
      } finally {
        process.env.CC = saved.CC;
        if (saved.CC === undefined) delete process.env.CC;
      }
    });
  },
);
