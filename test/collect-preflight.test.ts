// Preflight failure modes, each forced for real where this machine allows: perf missing from PATH,
// a non-root user facing kernel.perf_event_paranoid=3 and kernel.kptr_restrict=1, a perf without
// --all-cgroups or without call graphs (stand-in perf scripts that behave like those builds), and a
// store on a 1 MiB filesystem. Each problem is one line with its exact remedy.
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../src/collect/perf-tool.ts';
import { formatProblem, type PreflightProblem, preflight } from '../src/collect/preflight.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const isRoot = process.geteuid?.() === 0;
const realPerf = await findOnPath('perf');
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'crosstalk-preflight-'));
  await chmod(work, 0o755);
});
afterAll(async () => {
  spawnSync('umount', [join(work, 'tiny')]);
  await rm(work, { recursive: true, force: true });
});

const base = { callGraph: 'fp' as const, frequency: 99, durationSeconds: 1 };
const codes = (ps: PreflightProblem[]) => ps.map((p) => `${p.severity}:${p.code}`).sort();

/** A directory holding a stand-in `perf` shell script, for PATH. */
async function fakePerf(name: string, body: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'perf'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

async function withSysctl<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const path = `/proc/sys/${name.replaceAll('.', '/')}`;
  const old = await readFile(path, 'utf8');
  await writeFile(path, value);
  try {
    return await fn();
  } finally {
    await writeFile(path, old);
  }
}

describe('preflight', () => {
  it.skipIf(!realPerf || !isRoot)('finds nothing fatal on this host as root', async () => {
    const r = await preflight({ ...base, storeRoot: join(work, 'store') });
    expect(r.problems.filter((p) => p.severity === 'fatal')).toEqual([]);
    expect(r.fatal).toBe(false);
    expect(r.perfVersion).toMatch(/^\d+\.\d+/);
    expect(r.privileged).toBe(true);
  });

  it('says perf is missing and how to install it', async () => {
    const r = await preflight({
      ...base,
      storeRoot: join(work, 'store'),
      env: { PATH: join(work, 'empty') },
    });
    expect(r.fatal).toBe(true);
    const [p] = r.problems.filter((x) => x.code === 'perf-missing');
    expect(formatProblem(p)).toBe('perf is not installed (not on PATH); fix: apt-get install linux-perf');
  });

  it.skipIf(!realPerf || !isRoot || !hasSetpriv)(
    'as a non-root user: perf_event_paranoid=3 and kptr_restrict=1 are both named with their remedies',
    async () => {
      const url = new URL('../src/collect/preflight.ts', import.meta.url).href;
      const script = `const { preflight } = await import(${JSON.stringify(url)});
        const r = await preflight({ callGraph: 'fp', frequency: 99, durationSeconds: 1, storeRoot: '/tmp/crosstalk-nobody' });
        process.stdout.write(JSON.stringify(r.problems));`;
      const problems = await withSysctl('kernel.perf_event_paranoid', '3', () =>
        withSysctl('kernel.kptr_restrict', '1', () => runAsNobody(script)),
      );
      expect(codes(problems)).toEqual([
        'fatal:kptr-restrict',
        'fatal:perf-event-paranoid',
        'warning:not-root',
      ]);
      const line = (code: string) => formatProblem(problems.find((p) => p.code === code)!);
      expect(line('perf-event-paranoid')).toBe(
        'kernel.perf_event_paranoid is 3: a non-root user may not record the whole system; fix: run as root (sudo crosstalk record), or: sysctl kernel.perf_event_paranoid=-1',
      );
      expect(line('kptr-restrict')).toBe(
        'kernel symbol addresses are hidden (kernel.kptr_restrict=1): kernel frames and syscalls cannot be named; fix: sysctl kernel.kptr_restrict=0',
      );
    },
  );

  it.skipIf(!realPerf || !isRoot)(
    'a perf without --all-cgroups (perf < 5.7) cannot tag samples with cgroups',
    async () => {
      const dir = await fakePerf(
        'old-perf',
        `case "$1" in record) echo "  Error: unknown option \\\`all-cgroups'" >&2; echo " Usage: perf record [<options>]" >&2; exit 129;; *) exec ${realPerf} "$@";; esac`,
      );
      const r = await preflight({
        ...base,
        storeRoot: join(work, 'store'),
        syscallRates: false,
        env: { PATH: `${dir}:/usr/bin:/bin` },
      });
      const [p] = r.problems.filter((x) => x.code === 'no-cgroup-sampling');
      expect(r.fatal).toBe(true);
      expect(formatProblem(p)).toBe(
        "perf cannot tag samples with their cgroup (this perf has no --all-cgroups (Error: unknown option `all-cgroups')); fix: use perf >= 5.7 on a kernel >= 5.7 built with CONFIG_CGROUP_PERF (apt-get install linux-perf)",
      );
    },
  );

  it.skipIf(!realPerf || !isRoot)(
    'a perf that records no call graphs is caught from the probe file itself',
    async () => {
      // Runs the real perf with the call-graph options dropped, as a perf without callchain support would.
      const dir = await fakePerf(
        'no-callchain-perf',
        `if [ "$1" = record ]; then shift; set -- $(echo "$@" | sed -e 's/--call-graph [^ ]*//'); exec ${realPerf} record "$@"; fi; exec ${realPerf} "$@"`,
      );
      const r = await preflight({
        ...base,
        storeRoot: join(work, 'store'),
        syscallRates: false,
        env: { PATH: `${dir}:/usr/bin:/bin` },
      });
      const [p] = r.problems.filter((x) => x.code === 'no-call-graph');
      expect(r.fatal).toBe(true);
      expect(formatProblem(p)).toBe(
        'no fp call graphs (the probe recording carries no call chains); fix: use a perf and kernel with call-graph support (CONFIG_PERF_EVENTS), or record with --call-graph dwarf',
      );
    },
  );

  it.skipIf(!isRoot)('a store on a full filesystem is refused before recording', async () => {
    const tiny = join(work, 'tiny');
    await mkdir(tiny, { recursive: true });
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tiny]).status).toBe(0);
    const r = await preflight({ ...base, storeRoot: join(tiny, 'runs'), env: { PATH: join(work, 'empty') } });
    const [p] = r.problems.filter((x) => x.code === 'disk-space');
    expect(p.severity).toBe('fatal');
    expect(formatProblem(p)).toMatch(
      /^only 1 MiB free on the store's filesystem \(.*tiny\); this run needs about \d+ MiB; fix: free space there, shorten --duration, or record to a larger filesystem with --store DIR$/,
    );
  });

  it('the record command prints the problem as one line and exits 69 when perf is missing', async () => {
    const driver = join(repo, 'test', 'record-cli-driver.ts');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', driver, 'record', '--store', join(work, 'store')],
      {
        cwd: repo,
        env: {
          ...process.env,
          PATH: dirname(process.execPath) === '/usr/bin' ? join(work, 'empty') : dirname(process.execPath),
        },
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(69);
    expect(r.stderr).toBe(
      'crosstalk: perf is not installed (not on PATH); fix: apt-get install linux-perf\n',
    );
  });
});

/** Runs an ES module script as uid/gid 65534 (nobody) and parses its JSON stdout. */
function runAsNobody(script: string): Promise<PreflightProblem[]> {
  return new Promise((resolve, reject) => {
    const args = [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
    ];
    const p = spawn('setpriv', args, {
      cwd: repo,
      env: { ...process.env, HOME: '/tmp' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b;
    });
    p.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}: ${out}`)),
    );
  });
}
