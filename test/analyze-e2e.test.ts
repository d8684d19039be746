/**
 * End to end on this machine: two cgroups, one calling posix_fadvise(DONTNEED) after every log
 * line, one spinning in user space; recorded system-wide with perf (frame pointers and DWARF) and
 * analysed with the built CLI. Needs root, perf and a C compiler; skips with the reason otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalyzeJson } from '../src/report/schema.ts';
import { analyzeSchema } from '../src/report/schema.ts';
import { CPU_BOUND, compileFixture, TestCgroups } from './record-cgroups.ts';
import { runCli } from './support/cli.ts';

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (perf record -a, cgroup creation)';
  if (spawnSync('perf', ['--version']).status !== 0) return 'perf is not installed';
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler (cc)';
  return null;
}
const reason = skipReason();

describe.skipIf(reason !== null)(
  `analyze a real recording of two cgroups${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-e2e-'));
    let cgroups: TestCgroups | null = null;
    let logger = '';
    const results: Record<'fp' | 'dwarf', AnalyzeJson | null> = { fp: null, dwarf: null };

    beforeAll(async () => {
      const bin = compileFixture('fadvise-logger', dir);
      cgroups = await TestCgroups.create('crosstalk-e2e');
      if (!cgroups) throw new Error('no writable cgroup v2 hierarchy');
      logger = (await cgroups.start('logger', [bin, join(dir, 'app.log')])).path;
      await cgroups.start('spinner', CPU_BOUND);
      for (const mode of ['fp', 'dwarf'] as const) {
        const data = join(dir, `${mode}.data`);
        const cg = mode === 'fp' ? ['-g'] : ['--call-graph', 'dwarf,16384'];
        execFileSync(
          'perf',
          ['record', '-q', '-a', '--all-cgroups', ...cg, '-F', '499', '-o', data, '--', 'sleep', '2'],
          {
            stdio: 'ignore',
          },
        );
        const r = await runCli(['analyze', '--json', data]);
        expect(r.code, r.stderr).toBe(0);
        results[mode] = analyzeSchema.parse(JSON.parse(r.stdout));
      }
      await cgroups.cleanup();
    });

    afterAll(async () => {
      await cgroups?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it.each(['fp', 'dwarf'] as const)(
      '%s: names the logger cgroup and fadvise64 as its heaviest syscall',
      (mode) => {
        const r = results[mode]!;
        expect(r.input.callGraph).toBe(mode);
        const fadvise = r.syscalls.find((s) => s.name === 'fadvise64');
        expect(fadvise, 'fadvise64 in syscalls').toBeDefined();
        const loggerContainer = r.containers.find((c) => c.cgroup === logger);
        expect(loggerContainer, `container for ${logger}`).toBeDefined();
        expect(fadvise!.containers[0].id).toBe(loggerContainer!.id);
        expect(loggerContainer!.kernelShare).toBeGreaterThan(loggerContainer!.userShare);
        const spinner = r.containers.find((c) => c.cgroup.endsWith('/spinner'));
        expect(spinner!.userShare).toBeGreaterThan(spinner!.kernelShare);
        expect(fadvise!.kernelPaths[0].frames[0]).toMatch(/fadvise64/);
      },
    );

    it('dwarf: names the calling function above the libc wrapper', () => {
      const site = results.dwarf!.syscalls.find((s) => s.name === 'fadvise64')!.callSites[0];
      expect(site).toMatchObject({
        status: 'found',
        function: 'LogFileObject_Write',
        wrapper: 'posix_fadvise',
      });
      expect(site.module).toMatch(/fadvise-logger$/);
    });

    it('fp: says the call site was lost instead of naming the wrong function', () => {
      const r = results.fp!;
      const site = r.syscalls.find((s) => s.name === 'fadvise64')!.callSites[0];
      expect(site).toMatchObject({ status: 'lost', reason: 'frame-pointer', function: null });
      expect(r.limitations.map((l) => l.code)).toContain('call-sites-lost');
    });

    it('both: the first finding is the fadvise storm, driven by the logger cgroup', () => {
      for (const mode of ['fp', 'dwarf'] as const) {
        const f = results[mode]!.findings[0];
        expect(f.signature).toBe('fadvise-dontneed-storm');
        expect(f.syscall).toBe('fadvise64');
        const loggerId = results[mode]!.containers.find((c) => c.cgroup === logger)!.id;
        expect(f.antagonist?.container).toBe(loggerId);
      }
      expect(results.dwarf!.findings[0].callSite?.function).toBe('LogFileObject_Write');
    });
  },
);
