/**
 * SIGINT and SIGTERM at random moments of `record`, `doctor` and `lab run` (the built CLI, started
 * as its own process group like a shell job), sent to the process alone (`kill PID`) or to its
 * group (Ctrl-C in a terminal), once or twice. After each: the exit status is one of the
 * documented ones, the run store is consistent (every run complete, interrupted or incomplete with
 * its reason; no lock or temporary file left), and nothing the command started still runs: no
 * perf, no lab container, cgroup, state file or work directory. Then two `lab run`s and two
 * `record`s at once. INTERRUPT_SEED=<n> replays a schedule.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../src/collect/perf-tool.ts';
import { cgroupSupport, childCgroups } from '../src/lab/cgroupfs.ts';
import { defaultWorkRoot } from '../src/lab/lab-run.ts';
import { ownerOfRun } from '../src/lab/run-owner.ts';
import { METADATA_FILE, PERF_DATA_FILE, parseRunMetadata } from '../src/store/metadata.ts';
import { RUN_ID, RunStore } from '../src/store/store.ts';
import { type CliProcess, type Proc, seededRandom, startCli, survivors } from './support/process-watch.ts';

const SEED = Number(process.env.INTERRUPT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const random = seededRandom(SEED);
const perf = await findOnPath('perf');
const support = process.geteuid?.() === 0 ? cgroupSupport() : null;
const skip =
  process.geteuid?.() !== 0
    ? 'needs root'
    : !perf
      ? 'needs perf'
      : support?.ok
        ? ''
        : `needs cgroup v2: ${support?.reason ?? 'none'}`;
const cgroupRoot = support?.ok ? support.root : '';
const work = mkdtempSync(join(tmpdir(), 'crosstalk-interrupt-loop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
console.log(`interrupt-loop: seed ${SEED} (INTERRUPT_SEED=${SEED} replays the schedule)`);

/** Exit codes a command may end with when interrupted: done, doctor's severities, 130/143. */
const FINE_EXITS = new Set([0, 10, 11, 12, 130, 143]);

/**
 * When the delay starts: at the command's start, once perf writes a new run's perf.data
 * (mid-recording), or once a new run is saved (doctor then runs perf script and the analysis).
 */
type Anchor = 'start' | 'recording' | 'saved';

interface Schedule {
  anchor: Anchor;
  delayMs: number;
  signal: NodeJS.Signals;
  group: boolean;
  secondAfterMs: number | null;
}

function schedule(maxDelayMs: number, anchor: Anchor = 'start'): Schedule {
  return {
    anchor,
    delayMs: Math.round(random() * (anchor === 'start' ? maxDelayMs : 1500)),
    signal: random() < 0.5 ? 'SIGINT' : 'SIGTERM',
    group: random() < 0.5,
    secondAfterMs: random() < 0.3 ? Math.round(random() * 800) : null,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when a run not in `before` reaches the anchor (or after 60 s). */
async function anchorReached(store: string, before: Set<string>, anchor: Anchor): Promise<void> {
  for (let i = 0; i < 1200 && anchor !== 'start'; i++) {
    const fresh = existsSync(store) ? readdirSync(store).filter((n) => RUN_ID.test(n) && !before.has(n)) : [];
    for (const id of fresh) {
      const files = readdirSync(join(store, id));
      if (anchor === 'recording' && files.includes(PERF_DATA_FILE)) return;
      const meta = files.includes(METADATA_FILE) ? readFileSync(join(store, id, METADATA_FILE), 'utf8') : '';
      if (anchor === 'saved' && /"status": "(complete|incomplete)"/.test(meta)) return;
    }
    await sleep(50);
  }
}

/** Runs the CLI, interrupts it as scheduled, and returns what is needed to check the aftermath. */
async function interrupted(args: string[], s: Schedule): Promise<{ cli: CliProcess; exit: string }> {
  const store = args[args.indexOf('--store') + 1];
  const before = new Set(existsSync(store) ? readdirSync(store) : []);
  const cli = startCli(args);
  const timeout = setTimeout(() => cli.signal('SIGKILL', true), 120_000);
  await Promise.race([anchorReached(store, before, s.anchor), cli.exit]);
  await Promise.race([sleep(s.delayMs), cli.exit]);
  cli.signal(s.signal, s.group);
  if (s.secondAfterMs !== null) {
    await Promise.race([sleep(s.secondAfterMs), cli.exit]);
    cli.signal(s.signal, s.group);
  }
  const { code, signal } = await cli.exit;
  clearTimeout(timeout);
  return { cli, exit: signal ?? String(code) };
}

function describeRun(s: Schedule, cli: CliProcess, exit: string): string {
  return `${JSON.stringify(s)} (seed ${SEED}) exit ${exit}\nstdout: ${cli.stdout().slice(-800)}\nstderr: ${cli.stderr().slice(-800)}`;
}

function expectFineExit(exit: string, why: string): void {
  const ok = exit === 'SIGINT' || exit === 'SIGTERM' || FINE_EXITS.has(Number(exit));
  expect(ok, why).toBe(true);
}

/** Every run directory has valid metadata in a final state; no lock or temporary file remains. */
async function expectConsistentStore(root: string, why: string): Promise<void> {
  if (!existsSync(root)) return;
  const names = readdirSync(root);
  expect(
    names.filter((n) => n.startsWith('.')),
    `store leftovers: ${why}`,
  ).toEqual([]);
  for (const id of names.filter((n) => RUN_ID.test(n))) {
    const dir = join(root, id);
    const files = readdirSync(dir);
    expect(files, `${id} has no metadata: ${why}`).toContain(METADATA_FILE);
    expect(
      files.filter((f) => f.startsWith('.')),
      `${id} leftovers: ${why}`,
    ).toEqual([]);
    parseRunMetadata(readFileSync(join(dir, METADATA_FILE), 'utf8'), dir);
  }
  for (const run of await new RunStore(root).listRuns()) {
    expect(['complete', 'interrupted', 'incomplete'], `${run.id} is ${run.state}: ${why}`).toContain(
      run.state,
    );
    if (run.state === 'incomplete')
      expect(run.metadata?.recording?.incompleteReason ?? run.metadata?.failure, why).toBeTruthy();
  }
}

/** Nothing the CLI started still runs; no perf writes into this store. */
async function expectNothingLeft(cli: CliProcess, why: string): Promise<Proc[]> {
  const seen = cli.seen();
  const left = await survivors(seen, 10_000);
  expect(
    left.map((p) => `${p.pid} ${p.comm}`),
    `still running: ${why}`,
  ).toEqual([]);
  return seen;
}

/** No lab cgroup, state file, work directory or lock of a run owned by `pid`. */
function expectNoLabRunOf(pid: number, why: string): void {
  const mine = (name: string) => ownerOfRun(name.replace(/\.json$/, ''))?.pid === pid;
  expect(childCgroups(cgroupRoot).filter(mine), `cgroups: ${why}`).toEqual([]);
  const state = existsSync('/run/crosstalk-lab') ? readdirSync('/run/crosstalk-lab') : [];
  expect(state.filter(mine), `state files: ${why}`).toEqual([]);
  const lock = state.includes('lock') ? readFileSync('/run/crosstalk-lab/lock', 'utf8').trim() : '';
  expect(mine(lock), `lock: ${why}`).toBe(false);
  const workDirs = existsSync(defaultWorkRoot) ? readdirSync(defaultWorkRoot) : [];
  expect(workDirs.map((d) => d.replace(/\.[A-Za-z0-9]{6}$/, '')).filter(mine), `work dirs: ${why}`).toEqual(
    [],
  );
}

/** perf.data copies that perf.data import makes for cut files, left in the temporary directory. */
function repairCopies(): Set<string> {
  return new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('crosstalk-perf-data-')));
}

describe.skipIf(skip)(`interrupted at random moments (seed ${SEED})`, () => {
  const store = join(work, 'store');

  it('record: 5 interruptions', async () => {
    for (let i = 0; i < 5; i++) {
      const s = schedule(7000, i === 0 ? 'recording' : 'start');
      const { cli, exit } = await interrupted(['record', '--duration', '2', '--store', store], s);
      const why = `record #${i} ${describeRun(s, cli, exit)}`;
      expectFineExit(exit, why);
      expect(cli.stderr(), why).not.toMatch(/internal error/);
      await expectNothingLeft(cli, why);
      await expectConsistentStore(store, why);
    }
  });

  it('doctor: 4 interruptions', async () => {
    for (let i = 0; i < 4; i++) {
      const s = schedule(9000, i === 0 ? 'recording' : i === 1 ? 'saved' : 'start');
      const before = repairCopies();
      const { cli, exit } = await interrupted(['doctor', '--duration', '2', '--store', store], s);
      const why = `doctor #${i} ${describeRun(s, cli, exit)}`;
      expectFineExit(exit, why);
      expect(cli.stderr(), why).not.toMatch(/internal error/);
      await expectNothingLeft(cli, why);
      await expectConsistentStore(store, why);
      expect(
        [...repairCopies()].filter((n) => !before.has(n)),
        why,
      ).toEqual([]);
    }
  });

  it('lab run fadvise-logger --duration 1: 4 interruptions', async () => {
    for (let i = 0; i < 4; i++) {
      const s = schedule(16_000, i < 2 ? 'recording' : 'start');
      const args = ['lab', 'run', 'fadvise-logger', '--duration', '1', '--store', store, '--wait', '300'];
      const { cli, exit } = await interrupted(args, s);
      const why = `lab #${i} ${describeRun(s, cli, exit)}`;
      expectFineExit(exit, why);
      expect(cli.stderr(), why).not.toMatch(/internal error/);
      await expectNothingLeft(cli, why);
      expectNoLabRunOf(cli.pid, why);
      await expectConsistentStore(store, why);
    }
  });
});

describe.skipIf(skip)('two at once', () => {
  it('lab run: the second refuses at once with a clear message, or waits with --wait', async () => {
    const store = join(work, 'lab-twice');
    const args = ['lab', 'run', 'fadvise-logger', '--duration', '1', '--store', store];
    const first = startCli([...args, '--wait', '300']);
    // The first holds the lab lock once its run exists.
    for (let i = 0; i < 600 && !childCgroups(cgroupRoot).some((r) => ownerOfRun(r)?.pid === first.pid); i++)
      await sleep(50);
    const refused = startCli(args);
    const refusedExit = await refused.exit;
    expect(refusedExit.code, refused.stderr()).not.toBe(0);
    expect(refused.stderr()).toMatch(/another lab run is in progress \(run-\d+-\S+, pid \d+\)/);
    expect(refused.stderr()).not.toMatch(/internal error/);
    const waiting = startCli([...args, '--wait', '300']);
    const [a, b] = await Promise.all([first.exit, waiting.exit]);
    expect([a.code, b.code], `${first.stderr()}\n${waiting.stderr()}`).toEqual([0, 0]);
    for (const cli of [first, refused, waiting]) {
      await expectNothingLeft(cli, cli.stderr());
      expectNoLabRunOf(cli.pid, cli.stderr());
    }
    await expectConsistentStore(store, 'two lab runs');
    const runs = await new RunStore(store).listRuns();
    expect(runs.map((r) => r.state)).toEqual(['complete', 'complete']);
  });

  it('record: both complete into one store, with different ids', async () => {
    const store = join(work, 'record-twice');
    const args = ['record', '--duration', '1', '--no-syscall-rates', '--store', store, '--json'];
    const [a, b] = [startCli(args), startCli(args)];
    const exits = await Promise.all([a.exit, b.exit]);
    expect(
      exits.map((e) => e.code),
      `${a.stderr()}\n${b.stderr()}`,
    ).toEqual([0, 0]);
    const ids = [a, b].map((c) => JSON.parse(c.stdout()).id as string);
    expect(ids[0]).not.toBe(ids[1]);
    await expectConsistentStore(store, 'two records');
    expect((await new RunStore(store).listRuns()).map((r) => r.state)).toEqual(['complete', 'complete']);
  });
});
