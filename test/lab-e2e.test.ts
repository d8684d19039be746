// The lab for real: cgroup v2 containers with their own namespaces, the three scenarios at short
// durations, and cleanup after SIGKILL (the next run sweeps) and SIGINT. Needs root and cgroup v2.
// Lab runs serialise on the lab lock (waitSeconds), so other suites' lab runs only delay these.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cgroupPids, cgroupSupport, childCgroups } from '../src/lab/cgroupfs.ts';
import { defaultWorkRoot } from '../src/lab/lab-run.ts';
import { isOwnerAlive, ownerOfRun } from '../src/lab/run-owner.ts';
import { runScenario } from '../src/lab/runner.ts';
import type { ContendedContext } from '../src/lab/types.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const driver = join(repo, 'test', 'lab-driver.ts');
const support = process.geteuid?.() === 0 ? cgroupSupport() : null;
const skip = support === null ? 'needs root' : support.ok ? '' : `needs cgroup v2: ${support.reason}`;
const cgroupRoot = support?.ok ? support.root : '';
const common = { waitSeconds: 300, onSignal: 'throw' as const };

/** Pids seen in lab containers during a test; all must be gone afterwards. */
const seenPids = new Set<number>();
/** Owners (this process, drivers) whose runs must be gone afterwards. */
const owners = new Set<number>([process.pid]);

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

function runsOf(pid: number): string[] {
  return childCgroups(cgroupRoot).filter((r) => ownerOfRun(r)?.pid === pid);
}

afterEach(() => {
  if (skip) return;
  for (const owner of owners) expect(runsOf(owner), `runs of pid ${owner} left behind`).toEqual([]);
  // Whatever else is there must belong to a live lab run (another suite's), never a dead one.
  for (const run of childCgroups(cgroupRoot)) expect(isOwnerAlive(ownerOfRun(run)!), run).toBe(true);
  expect([...seenPids].filter(alive), 'lab processes left behind').toEqual([]);
  const work = existsSync(defaultWorkRoot) ? readdirSync(defaultWorkRoot) : [];
  expect(work.filter((d) => d.startsWith(`run-${process.pid}-`))).toEqual([]);
});

afterAll(() => {
  // With no other lab run alive, not even the shared crosstalk-lab directories remain.
  if (skip || childCgroups(cgroupRoot).length > 0) return;
  expect(existsSync(cgroupRoot)).toBe(false);
  expect(existsSync(defaultWorkRoot)).toBe(false);
});

/** The container's init as seen from the host: pid 1 in its own pid namespace. */
function namespaceInit(pids: number[]): number | undefined {
  return pids.find((pid) => {
    const nspid = /^NSpid:\s+(.*)$/m
      .exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
      .trim()
      .split(/\s+/);
    return nspid !== undefined && nspid.length >= 2 && nspid[nspid.length - 1] === '1';
  });
}

interface Inspection {
  name: string;
  inNamespace: boolean;
  hostname: string;
  cgroupLine: string;
  cgroupPath: string;
}

function inspect(ctx: ContendedContext): Inspection[] {
  return ctx.containers.map((c) => {
    for (const pid of c.pids) seenPids.add(pid);
    const init = namespaceInit(c.pids);
    const pid = init ?? c.pids[0];
    const hostname = spawnSync('nsenter', ['--target', String(pid), '--uts', 'hostname'], {
      encoding: 'utf8',
    });
    const cgroupLine =
      readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::')) ?? '';
    return {
      name: c.name,
      inNamespace: init !== undefined,
      hostname: hostname.stdout.trim(),
      cgroupLine,
      cgroupPath: c.cgroupPath,
    };
  });
}

describe.skipIf(skip)(`lab scenarios on real cgroups${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('fadvise-logger: unfixed copies are slower than fixed ones; containers have namespaces', async () => {
    const result = await runScenario('fadvise-logger', {
      ...common,
      // Three interleaved runs per phase, compared by their medians: one noisy phase cannot flip them.
      durationSeconds: 2,
      runs: 3,
      onContended: async (ctx) => inspect(ctx),
    });
    const { fixed, unfixed } = result.phases;
    // Measured here (2 vCPU, host load ~5 from other suites), 8 runs of 3 s: p50 21.9-22.3 us with the
    // fix vs 24.1-24.9 without, p90 23.3-26.3 vs 29.4-48.6; p99 and mean overlap under load, so not asserted.
    expect(unfixed.victim.p50Us.median).toBeGreaterThan(fixed.victim.p50Us.median);
    expect(unfixed.victim.p90Us.median).toBeGreaterThan(fixed.victim.p90Us.median);
    expect(unfixed.runs[0].neighbours.every((n) => n.counters.fadvise_calls > 1000)).toBe(true);
    expect(fixed.runs[0].neighbours.every((n) => n.counters.fadvise_calls < 10)).toBe(true);
    expect(result.scaling?.map((r) => r.containers)).toEqual([1, 4]);
    expect(result.groundTruth).toMatchObject({ syscall: 'fadvise64', callSite: 'LogFileObject::Write' });
    expect(result.containers.map((c) => c.cgroupPath)).toEqual(
      ['query-1', 'query-2', 'query-3', 'query-4'].map((n) => `/crosstalk-lab/${result.runName}/${n}`),
    );
    const seen = result.contended!.value;
    expect(seen).toHaveLength(4);
    const hostHostname = spawnSync('hostname', { encoding: 'utf8' }).stdout.trim();
    for (const c of seen) {
      expect(c.inNamespace, `${c.name} is pid 1 of its own pid namespace`).toBe(result.namespaces);
      if (result.namespaces) expect(c.hostname).toBe(c.name);
      expect(c.hostname === hostHostname).toBe(!result.namespaces);
      expect(c.cgroupLine).toBe(`0::${c.cgroupPath}`);
    }
    expect(result.contended!.durationSeconds).toBeGreaterThanOrEqual(2);
  });

  it('negative-dentries: the unfixed neighbours leave millions of negative dentries', async () => {
    const result = await runScenario('negative-dentries', {
      ...common,
      durationSeconds: 2,
      warmupSeconds: 1,
    });
    const grown = (key: 'fixed' | 'unfixed') => {
      const e = result.phases[key].runs[0].evidence.find((x) => x.name.startsWith('negative'));
      return e ? e.after - e.before : Number.NaN;
    };
    expect(grown('unfixed')).toBeGreaterThan(200_000);
    expect(grown('fixed')).toBeLessThan(50_000);
    expect(result.phases.unfixed.runs[0].neighbours[0].counters.misses).toBeGreaterThan(200_000);
    expect(result.groundTruth).toMatchObject({
      syscall: 'newfstatat',
      callSite: 'probe_cache_entry',
      victim: 'web-1',
    });
  });

  it('fsync-storm: the unfixed neighbours fsync every message, the fixed ones per batch', async () => {
    const result = await runScenario('fsync-storm', { ...common, durationSeconds: 2 });
    const fsyncsPerMessage = (key: 'fixed' | 'unfixed') => {
      const n = result.phases[key].runs[0].neighbours[0].counters;
      return n.fsyncs / n.messages;
    };
    expect(fsyncsPerMessage('unfixed')).toBe(1);
    expect(fsyncsPerMessage('fixed')).toBeLessThan(0.05);
    expect(result.phases.alone.victim.throughputPerSec.median).toBeGreaterThan(150);
    expect(result.groundTruth).toMatchObject({
      syscall: 'fsync',
      callSite: 'spool_commit_message',
      victim: 'db-1',
    });
  });
});

interface DriverRun {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDriver(args: string[]): DriverRun {
  const child = spawn(process.execPath, ['--import', 'tsx', driver, ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  owners.add(child.pid!);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exit };
}

/** Waits until the driver's run has workloads running; returns its run dir and their pids. */
async function runningWorkloads(d: DriverRun): Promise<{ runDir: string; pids: number[] }> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [run] = runsOf(d.child.pid!);
    if (run) {
      const runDir = join(cgroupRoot, run);
      const pids = childCgroups(runDir).flatMap((c) => cgroupPids(join(runDir, c)));
      if (pids.length >= 2) {
        for (const p of pids) seenPids.add(p);
        return { runDir, pids };
      }
    }
    if (d.child.exitCode !== null) throw new Error(`driver exited early: ${d.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no lab workloads appeared: ${d.output()}`);
}

describe.skipIf(skip)(`lab cleanup${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('after SIGKILL of a lab run, the next run removes its cgroups and processes and says so', async () => {
    const killed = startDriver(['fsync-storm', '60']);
    const { runDir, pids } = await runningWorkloads(killed);
    killed.child.kill('SIGKILL');
    expect((await killed.exit).signal).toBe('SIGKILL');
    // SIGKILL leaves the containers behind, still running: that is what the sweep is for.
    expect(existsSync(runDir)).toBe(true);
    expect(pids.some(alive)).toBe(true);
    const next = await runScenario('fsync-storm', { ...common, durationSeconds: 0.5, containers: 2 });
    const sweep = next.notes.find((n) => n.includes(runDir.split('/').pop()!));
    expect(sweep).toMatch(
      new RegExp(
        `^removed \\d+ stale lab cgroups, \\d+ process(es)? killed from run-\\S+, a run that was killed \\(pid ${killed.child.pid} gone\\)$`,
      ),
    );
    expect(existsSync(runDir)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('SIGINT during a run stops and removes everything, exit status 130', async () => {
    const run = startDriver(['fadvise-logger', '60', '2']);
    const { runDir, pids } = await runningWorkloads(run);
    const runName = runDir.split('/').pop()!;
    run.child.kill('SIGINT');
    const exit = await run.exit;
    expect(exit.signal === 'SIGINT' || exit.code === 130, JSON.stringify(exit)).toBe(true);
    expect(existsSync(runDir)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
    const left = existsSync(defaultWorkRoot) ? readdirSync(defaultWorkRoot) : [];
    expect(left.filter((e) => e.startsWith(`${runName}.`))).toEqual([]);
    expect(existsSync(join('/run/crosstalk-lab', `${runName}.json`))).toBe(false);
    const lock = existsSync('/run/crosstalk-lab/lock')
      ? readFileSync('/run/crosstalk-lab/lock', 'utf8').trim()
      : '';
    expect(lock).not.toBe(runName);
  });
});
