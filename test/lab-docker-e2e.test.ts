/**
 * `crosstalk lab run fadvise-logger --engine docker` end to end on a private dockerd this test
 * starts (no systemd, cgroupfs driver, offline image): every container named (the `--rm` one that
 * lived ~1 s inside the recorded window too), the antagonist and the call site right, and the
 * symbols of the container binaries resolved after every container and the image were removed,
 * again when the stored run is analysed afterwards. Needs root, dockerd, perf and a C compiler.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroupSupport } from '../src/lab/cgroupfs.ts';
import { runCli } from './support/cli.ts';
import { dockerdUnavailable, type PrivateDockerd, startDockerd } from './support/dockerd.ts';

function unavailable(): string | null {
  const engine = dockerdUnavailable();
  if (engine !== null) return engine;
  const cg = cgroupSupport();
  if (!cg.ok) return `needs cgroup v2: ${cg.reason}`;
  if (spawnSync('perf', ['--version']).status !== 0) return 'perf is not installed';
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler (cc)';
  return null;
}

let reason = unavailable();
let daemon: PrivateDockerd | null = null;
if (reason === null) {
  try {
    daemon = await startDockerd();
  } catch (e) {
    // Installed but unable to run here (e.g. no overlay2): a reason to skip, printed in the title.
    reason = (e as Error).message;
  }
}

afterAll(async () => {
  await daemon?.stop();
});

interface Check {
  item: string;
  found: string;
  truth: string;
  matches: boolean;
}

describe.skipIf(reason !== null)(`lab run on Docker${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const store = mkdtempSync(join(tmpdir(), 'crosstalk-docker-store-'));
  afterAll(() => rmSync(store, { recursive: true, force: true }));

  it('names every container, finds the antagonist and resolves symbols after removal', async () => {
    const env = daemon!.env;
    const args = [
      'lab',
      'run',
      'fadvise-logger',
      '--engine',
      'docker',
      '--containers',
      '3',
      '--duration',
      '4',
    ];
    const r = await runCli([...args, '--store', store, '--json', '--wait', '300'], {
      env,
      timeoutMs: 420_000,
    });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const result = JSON.parse(r.stdout) as {
      engine: string;
      containers: { engineName?: string }[];
      diagnosis: { runDir: string; groundTruthCheck: Check[] } | null;
    };
    expect(result.engine).toBe('docker');
    const check = new Map(result.diagnosis!.groundTruthCheck.map((c) => [c.item, c]));
    for (const item of ['antagonist', 'syscall', 'call site', 'names'])
      expect(check.get(item)?.matches, JSON.stringify(check.get(item))).toBe(true);

    // Nothing of the run is left in the engine: containers and image are gone.
    const left = spawnSync('docker', ['ps', '-aq'], { env, encoding: 'utf8' });
    expect(left.stdout.trim()).toBe('');
    const images = spawnSync('docker', ['images', '-q'], { env, encoding: 'utf8' });
    expect(images.stdout.trim()).toBe('');

    // The run kept the container's binary in its build-id cache, in perf's layout.
    const runDir = result.diagnosis!.runDir;
    // The short-lived --rm container of the window was named from the engine's events (it is in
    // neither listing); when it was sampled, the names row above covered it too.
    const counters = JSON.parse(readFileSync(join(runDir, 'counters.json'), 'utf8'));
    const named = Object.values(counters.containerNames as Record<string, { name: string; engine: string }>);
    expect(named.filter((n) => /^ctlab-[0-9a-f]{6}-batch$/.test(n.name)).map((n) => n.engine)).toEqual([
      'docker',
    ]);
    const sources = counters.containerNameSources as { source: string; when: string; status: string }[];
    expect(sources.filter((s) => s.source === 'docker').map((s) => `${s.when} ${s.status}`)).toEqual([
      'before ok',
      'after ok',
      'events ok',
    ]);
    const meta = JSON.parse(readFileSync(join(runDir, 'metadata.json'), 'utf8'));
    const kept = meta.recording.symbols.kept as { path: string; from: string; buildId: string }[];
    const server = kept.find((k) => k.path === '/crosstalk/bin/query-server');
    expect(server?.from).toBe('container');
    expect(
      existsSync(
        join(runDir, 'build-id', '.build-id', server!.buildId.slice(0, 2), server!.buildId.slice(2)),
      ),
    ).toBe(true);
    expect(existsSync('/crosstalk/bin/query-server')).toBe(false);

    // Analysed again later, with the containers and the image gone: same names, same call site.
    const again = await runCli(['analyze', runDir, '--json'], {
      env: { DOCKER_HOST: 'unix:///nonexistent' },
    });
    expect(again.code, again.stderr).toBe(0);
    const analysis = JSON.parse(again.stdout) as {
      containers: { name: string; runtime: string }[];
      findings: { callSite: { function: string } | null; drivers: { name: string }[] }[];
    };
    const docker = analysis.containers.filter((c) => c.runtime === 'docker');
    expect(docker.length).toBeGreaterThanOrEqual(3);
    for (const c of docker) expect(c.name).toMatch(/^ctlab-[0-9a-f]{6}-(?:query-\d|batch)$/);
    expect(analysis.findings[0].callSite?.function).toBe('LogFileObject::Write');
  });
});
