/**
 * The native perf.data decoder against its oracle, `perf script`: short real recordings of this
 * host (frame pointers, system-wide, cgroups; with context switches; with two sampled events),
 * each decoded both ways, samples matched by (tid, time) and their folded stacks, comm and
 * cgroup compared. At least 99.9% of the weight must be identical, and no difference may be in
 * a kernel frame or a cgroup. A second part hides perf from PATH and checks that `analyze`
 * gives the same findings from the perf.data alone and with a `perf archive` tarball.
 * System test: it records the whole host (run it holding /tmp/crosstalk-system.lock).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importProfile } from '../src/formats/input.ts';
import { CPU_BOUND, SYSCALL_HEAVY, TestCgroups } from './record-cgroups.ts';
import { recordShortRun, runCli } from './support/cli.ts';
import { type Conformance, compareDecoders, type SwitchConformance } from './support/decoder-conformance.ts';
import { pathWithoutPerf } from './support/no-perf-path.ts';

function whyNotRecord(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for perf record -a and cgroup creation';
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-conformance-probe-'));
  const r = spawnSync('perf', ['record', '-a', '--all-cgroups', '-o', join(dir, 'p.data'), '--', 'true'], {
    encoding: 'utf8',
  });
  rmSync(dir, { recursive: true, force: true });
  if (r.error) return `perf cannot run: ${r.error.message}`;
  if (r.status !== 0) return `perf record fails here: ${r.stderr.split('\n')[0]}`;
  return null;
}

const skip = whyNotRecord();

function record(out: string, args: string[], seconds: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const perf = spawn(
      'perf',
      ['record', '-a', '--all-cgroups', ...args, '-o', out, '--', 'sleep', String(seconds)],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    perf.stderr.on('data', (d) => {
      err += d;
    });
    perf.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`perf record exited ${code}: ${err}`)),
    );
  });
}

/** The table row the closing note quotes: recording, samples, share of weight identical. */
function row(name: string, c: Conformance): string {
  const diffs = c.differences
    .slice(0, 5)
    .map((d) => `${d.where} ${d.samples}x: native "${d.native}" vs perf "${d.perf}"`)
    .join('; ');
  return `${name}: ${c.samples} samples (perf script ${c.perfSamples}), ${(100 * c.share).toFixed(3)}% of weight identical, kernel symbols from ${c.kernelSymbols}${diffs ? `; differences: ${diffs}` : ''}`;
}

function checkConformance(name: string, c: Conformance): void {
  process.stdout.write(`conformance: ${row(name, c)}\n`);
  expect(c.samples).toBeGreaterThan(0);
  expect(c.samples).toBe(c.perfSamples);
  // Rare labels may differ (ld.so start-up code, typeinfo past a library's last function), but
  // never more than 0.1% of the weight.
  expect(c.share).toBeGreaterThanOrEqual(0.999);
  expect(c.differences.filter((d) => d.kernel)).toEqual([]);
  expect(c.differences.filter((d) => d.where === 'cgroup' || d.where === 'missing')).toEqual([]);
}

/**
 * Context switches (off-CPU, preemption and blame read them): the native decoder must give the
 * switch table perf script gives, field by field. Every field but the stack must agree on every
 * switch; stacks follow the samples' rule (at least 99.9% identical).
 */
function checkSwitches(name: string, c: SwitchConformance | null): void {
  expect(c, `${name}: no context switches`).not.toBeNull();
  const s = c as SwitchConformance;
  const diffs = [...s.differences].map(
    ([f, d]) => `${f} ${d.count}x: native "${d.native}" vs perf "${d.perf}"`,
  );
  process.stdout.write(
    `conformance: ${name} switches: ${s.native} native, ${s.perf} perf script, ${s.identical} identical in every field${diffs.length ? `; ${diffs.join('; ').slice(0, 2000)}` : ''}\n`,
  );
  expect(s.perf).toBeGreaterThan(0);
  expect(s.native).toBe(s.perf);
  expect([...s.differences.keys()].filter((f) => f !== 'stack')).toEqual([]);
  expect(s.identical / s.perf).toBeGreaterThanOrEqual(0.999);
}

describe.skipIf(skip !== null)(`native decoder vs perf script${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let work = '';
  let cgroups: TestCgroups | null = null;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'crosstalk-conformance-'));
    cgroups = await TestCgroups.create('crosstalk-conformance');
    await cgroups?.start('spin', CPU_BOUND);
    await cgroups?.start('syscalls', SYSCALL_HEAVY);
    files.fp = join(work, 'fp.data');
    await record(files.fp, ['-g', '-F', '999'], 2);
    files.switches = join(work, 'switches.data');
    await record(files.switches, ['-g', '-e', 'cpu-clock', '-F', '999', '-e', 'sched:sched_switch'], 1);
    files.events = join(work, 'events.data');
    await record(files.events, ['-g', '-e', 'cpu-clock', '-e', 'page-faults', '-F', '999'], 1);
    // crosstalk's own recording path (perf -N, its event mix, the run's build-id cache).
    files.run = join(await recordShortRun(join(work, 'store')), 'perf.data');
  }, 240_000);

  afterAll(async () => {
    await cgroups?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('decodes a system-wide frame-pointer recording with cgroups as perf script does', async () => {
    const c = await compareDecoders(files.fp);
    checkConformance('fp system-wide, cgroups', c);
    // The test containers' samples are attributed to their cgroups (same on both sides, checked above).
    expect(cgroups?.containers.length).toBe(2);
  });

  it('decodes the profiled event and the context switches of a recording with both', async () => {
    const c = await compareDecoders(files.switches, 'cpu-clock');
    checkConformance('cpu-clock + sched_switch', c);
    checkSwitches('cpu-clock + sched_switch', c.switches);
  });

  it('decodes a crosstalk record run (samples and context switches) as perf script does, natively by default', async () => {
    const c = await compareDecoders(files.run);
    checkConformance('crosstalk record --off-cpu', c);
    checkSwitches('crosstalk record --off-cpu', c.switches);
    const auto = await importProfile(files.run, {});
    expect(auto.meta.recording.decoder).toBe('native');
    expect(auto.switches?.length).toBe(c.switches?.perf);
  }, 180_000);

  it('decodes each event of a recording with two sampled events', async () => {
    checkConformance(
      'cpu-clock of cpu-clock + page-faults',
      await compareDecoders(files.events, 'cpu-clock'),
    );
    checkConformance(
      'page-faults of cpu-clock + page-faults',
      await compareDecoders(files.events, 'page-faults'),
    );
  });

  it('gives the same findings with perf hidden from PATH, from the file and from a perf archive', async () => {
    // A PATH holding only the tools crosstalk may use besides perf (tar, bzip2, c++filt).
    const bin = pathWithoutPerf(join(work, 'bin'));
    expect(spawnSync('sh', ['-c', 'command -v perf'], { env: { PATH: bin } }).status).not.toBe(0);
    const withPerf = await runCli(['analyze', files.fp, '--json', '--decoder', 'perf-script']);
    expect(withPerf.code).toBe(0);
    const home = join(work, 'home');
    mkdirSync(home);
    // Same HOME (its ~/.debug) as the perf script run: only perf is missing.
    const env = { PATH: bin };
    const noPerf = await runCli(['analyze', files.fp, '--json'], { env });
    expect(noPerf.code, noPerf.stderr).toBe(0);
    const strip = (t: string) => {
      const doc = JSON.parse(t);
      delete doc.input;
      return doc;
    };
    expect(strip(noPerf.stdout)).toEqual(strip(withPerf.stdout));

    // perf archive packs the build-id cache entries the recording hit: record into a cache of
    // our own (no -N), archive, and analyse with an empty home so only the archive can help.
    const cache = join(work, 'cache');
    const archived = join(work, 'archived.data');
    const r = spawnSync(
      'perf',
      // Only this command (not the host): the cache and the archive then hold a few files, not every binary running.
      [
        'record',
        '-g',
        '-F',
        '999',
        '-o',
        archived,
        '--',
        // Syscalls, so the recording has kernel frames and the archive carries kallsyms.
        'dd',
        'if=/dev/zero',
        'of=/dev/null',
        'bs=64',
        'count=400000',
      ],
      { env: { ...process.env, PERF_BUILDID_DIR: cache }, encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const a = spawnSync('perf', ['archive', archived], {
      env: { ...process.env, PERF_BUILDID_DIR: cache },
      encoding: 'utf8',
    });
    expect(a.status, a.stderr).toBe(0);
    const tarball = `${archived}.tar.bz2`;
    const viaPerf = await runCli(['analyze', archived, '--json', '--decoder', 'perf-script']);
    const viaArchive = await runCli(['analyze', archived, '--json', '--archive', tarball], { env });
    expect(viaArchive.code, viaArchive.stderr).toBe(0);
    // The same findings as perf script on the recording host. Shares may differ by a sample:
    // native and perf script still disagree on rare ld.so start-up labels (see bench/README.md).
    const findingsOf = (t: string) =>
      strip(t).findings.map((f: Record<string, unknown>) => ({
        ...f,
        impact: undefined,
        evidence: undefined,
      }));
    expect(findingsOf(viaArchive.stdout)).toEqual(findingsOf(viaPerf.stdout));
    // The kernel table came from the archive, not from ~/.debug or /proc/kallsyms.
    const saved = process.env.PERF_BUILDID_DIR;
    process.env.PERF_BUILDID_DIR = home;
    try {
      const p = await importProfile(archived, { archive: tarball });
      expect(String(p.meta.recording.kernelSymbols)).toMatch(/crosstalk-archive-.*\(build-id cache\)/);
      expect(p.meta.recording.decoder).toBe('native');
    } finally {
      if (saved === undefined) delete process.env.PERF_BUILDID_DIR;
      else process.env.PERF_BUILDID_DIR = saved;
    }
  }, 300_000);
});
