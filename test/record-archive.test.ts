/**
 * `record --archive`: the run carries perf.data.tar.bz2 (kallsyms and the sampled binaries by
 * build id, packed safely), and `analyze RUN` on a host without perf and with an empty build-id
 * cache (PERF_BUILDID_DIR and HOME elsewhere) gives the findings the recording host gives through
 * perf script. System test: it records the whole host (run it holding /tmp/crosstalk-system.lock).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordShortRun, runCli } from './support/cli.ts';
import { pathWithoutPerf } from './support/no-perf-path.ts';

function whyNot(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for crosstalk record';
  const r = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'perf is not installed';
  if (spawnSync('tar', ['--version']).status !== 0) return 'tar is not installed';
  return null;
}

const skip = whyNot();

describe.skipIf(skip !== null)(`record --archive${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let work = '';
  let run = '';
  let workload: ChildProcess | null = null;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'crosstalk-archive-test-'));
    // A workload with kernel frames (syscalls), running through the window.
    workload = spawn('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=64', 'count=100000000'], { stdio: 'ignore' });
    try {
      run = await recordShortRun(join(work, 'store'), ['--archive']);
    } finally {
      workload.kill();
    }
  }, 180_000);

  afterAll(() => {
    workload?.kill();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('writes an owner-only tarball of regular files under relative paths, kallsyms included', () => {
    const tarball = join(run, 'perf.data.tar.bz2');
    expect(statSync(tarball).mode & 0o777).toBe(0o600);
    const list = spawnSync('tar', ['-tvjf', tarball], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    // Regular files only (no links, whose targets could lead anywhere when unpacked).
    expect(lines.filter((l) => !l.startsWith('-'))).toEqual([]);
    const names = spawnSync('tar', ['-tjf', tarball], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(names.filter((n) => n.startsWith('/') || n.split('/').includes('..'))).toEqual([]);
    expect(names.some((n) => /^\[kernel\.kallsyms\]\/[0-9a-f]{40}\/kallsyms$/.test(n))).toBe(true);
    expect(names.some((n) => n.endsWith('/elf'))).toBe(true);
    const meta = JSON.parse(readFileSync(join(run, 'metadata.json'), 'utf8'));
    expect(meta.recording.symbols.archive).toMatchObject({ file: 'perf.data.tar.bz2' });
    // The kernel table and the vdso the recording's header names are kept (and so packed).
    const header = spawnSync('perf', ['buildid-list', '-i', join(run, 'perf.data')], { encoding: 'utf8' });
    const special: string[] = meta.recording.symbols.special ?? [];
    expect(special).toContain('[kernel.kallsyms]');
    if (/ \[vdso\]$/m.test(header.stdout)) {
      expect(special).toContain('[vdso]');
      expect(names.some((n) => /^\[vdso\]\/[0-9a-f]{40}\/vdso$/.test(n))).toBe(true);
    }
  });

  it('gives the recording host’s findings with perf hidden and an empty build-id cache', async () => {
    const onHost = await runCli(['analyze', run, '--json', '--decoder', 'perf-script'], {
      timeoutMs: 180_000,
    });
    expect(onHost.code, onHost.stderr).toBe(0);
    const bin = pathWithoutPerf(join(work, 'bin'));
    expect(spawnSync('sh', ['-c', 'command -v perf'], { env: { PATH: bin } }).status).not.toBe(0);
    const home = join(work, 'home');
    mkdirSync(home);
    const env = { PATH: bin, HOME: home, PERF_BUILDID_DIR: join(home, '.debug') };
    const elsewhere = await runCli(['analyze', run, '--json'], { env, timeoutMs: 180_000 });
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    const doc = (t: string) => JSON.parse(t);
    const a = doc(elsewhere.stdout);
    const b = doc(onHost.stdout);
    expect(a.input.recording.decoder).toBe('native');
    expect(String(a.input.recording.kernelSymbols)).toMatch(
      /crosstalk-archive-.*kallsyms \(build-id cache\)/,
    );
    expect(a.input.recording.archive).toBe(join(run, 'perf.data.tar.bz2'));
    // Shares may differ by a sample or two (rare ld.so labels, see the conformance test).
    const findingsOf = (d: { findings: Record<string, unknown>[] }) =>
      d.findings.map((f) => ({ ...f, impact: undefined, evidence: undefined }));
    expect(findingsOf(a)).toEqual(findingsOf(b));
    // Off-CPU time comes from the context switches, decoded natively here and by perf script there.
    expect(a.offCpu.switches).toBeGreaterThan(0);
    expect(a.offCpu).toEqual(b.offCpu);
  }, 400_000);
});
