// Recordings that do not end normally: Ctrl-C once (a whole, shortened run), twice (perf killed,
// run kept but incomplete), perf killed from outside, and the disk filling up mid-run. Also two
// recordings at once. Runs go to temporary stores; nothing here deletes a run.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../src/collect/perf-tool.ts';
import { recordRun } from '../src/collect/recorder.ts';
import { importPerfData } from '../src/formats/perf-data/import.ts';
import { readPerfData } from '../src/formats/perf-data/reader.ts';
import { METADATA_FILE, PERF_DATA_FILE, parseRunMetadata, type RunMetadata } from '../src/store/metadata.ts';
import { RunStore } from '../src/store/store.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const driver = join(repo, 'test', 'record-cli-driver.ts');
const perf = await findOnPath('perf');
const skip = !perf || process.geteuid?.() !== 0 ? 'needs root and perf' : '';
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'crosstalk-interrupt-'));
});
afterAll(async () => {
  spawnSync('umount', [join(work, 'small')]);
  await rm(work, { recursive: true, force: true });
});

interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function startCli(args: string[]): CliRun {
  const child = spawn(process.execPath, ['--import', 'tsx', driver, ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b;
  });
  child.stderr!.on('data', (b: Buffer) => {
    err += b;
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Waits until a run directory in `store` has a perf.data (perf started), then `extraMs` more. */
async function waitForRecording(store: string, extraMs: number): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const ids = await readdir(store).catch(() => [] as string[]);
    for (const id of ids.filter((n) => /^\d{8}-/.test(n))) {
      const files = await readdir(join(store, id));
      if (files.includes(PERF_DATA_FILE)) {
        await new Promise((r) => setTimeout(r, extraMs));
        return join(store, id);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no recording started in ${store}`);
}

async function metadataOf(dir: string): Promise<RunMetadata> {
  return parseRunMetadata(await readFile(join(dir, METADATA_FILE), 'utf8'), dir);
}

/** The perf process (a child of this process) writing `output`. */
async function perfWriting(output: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && cmdline.split('\0').includes(output)) return Number(pid);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no perf writing ${output}`);
}

describe.skipIf(skip)('interrupted recordings', () => {
  it('Ctrl-C once stops early and keeps a whole run marked interrupted', async () => {
    const store = join(work, 'once');
    const cli = startCli(['record', '--duration', '60', '--store', store, '--json']);
    const dir = await waitForRecording(store, 1500);
    cli.child.kill('SIGINT');
    expect(await cli.exit).toBe(0);
    expect(JSON.parse(cli.stdout())).toMatchObject({
      status: 'complete',
      interrupted: true,
      incompleteReason: null,
    });
    expect(cli.stderr()).toMatch(/stopping: perf is finishing the file/);
    const m = await metadataOf(dir);
    expect(m.status).toBe('complete');
    expect(m.recording?.interrupted).toBe(true);
    expect(m.recording?.window?.actualSeconds).toBeLessThan(10);
    const read = await readPerfData(join(dir, PERF_DATA_FILE));
    expect(read.truncated).toBe(false);
    expect(read.samples).toBeGreaterThan(0);
    const profile = await importPerfData(join(dir, PERF_DATA_FILE));
    // The recording holds the profile event and, with off-CPU on (the default), sched_switch:
    // every sample of both is read, none dropped.
    const profiled = read.attrs.find((a) => a.name.startsWith('cpu-clock'));
    const switched = read.attrs.find((a) => a.name.startsWith('sched:sched_switch'));
    expect(profile.samples.length).toBe(profiled?.samples);
    expect(profile.switches?.length ?? 0).toBe(switched?.samples ?? 0);
    expect(profile.samples.length + (profile.switches?.length ?? 0)).toBe(read.samples);
    expect(profile.meta.hasCgroups).toBe(true);
  });

  it('Ctrl-C twice kills perf and keeps the run, marked incomplete', async () => {
    const store = join(work, 'twice');
    const cli = startCli(['record', '--duration', '60', '--store', store]);
    const dir = await waitForRecording(store, 1000);
    cli.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 100));
    cli.child.kill('SIGINT');
    expect(await cli.exit).toBe(130);
    expect(cli.stdout()).toMatch(/is INCOMPLETE \(aborted by a second interrupt/);
    const m = await metadataOf(dir);
    expect(m.status).toBe('incomplete');
    expect(m.recording?.incompleteReason).toMatch(/^aborted by a second interrupt/);
    expect(await readdir(dir)).toContain(PERF_DATA_FILE);
    const list = startCli(['runs', '--store', store]);
    expect(await list.exit).toBe(0);
    expect(list.stdout()).toMatch(/incomplete/);
  });

  it('perf killed with SIGKILL mid-run leaves an incomplete run', async () => {
    const store = new RunStore(join(work, 'killed'));
    const recording = recordRun({ store, durationSeconds: 30, syscallRates: false });
    const dir = await waitForRecording(store.root, 1000);
    process.kill(await perfWriting(join(dir, PERF_DATA_FILE)), 'SIGKILL');
    const info = await recording;
    expect(info.status).toBe('incomplete');
    expect(info.incompleteReason).toBe('perf ended during the recording (killed by SIGKILL)');
    expect((await store.resolveRun(info.id)).state).toBe('incomplete');
    expect((await readPerfData(join(dir, PERF_DATA_FILE))).truncated).toBe(true);
  });

  it('a disk that fills up mid-run leaves an incomplete run that says so', async () => {
    const small = join(work, 'small');
    await mkdir(small);
    // Big enough for preflight's estimate (64 MiB margin), then filled while perf records.
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128m', 'tmpfs', small]).status).toBe(0);
    const store = new RunStore(join(small, 'runs'));
    const recording = recordRun({ store, durationSeconds: 20, frequency: 1999 });
    const dir = await waitForRecording(store.root, 500);
    const fs = await statfs(small);
    await writeFile(join(small, 'filler'), Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 64 * 1024))).catch(
      () => {},
    );
    const info = await recording;
    expect(info.status).toBe('incomplete');
    expect(info.incompleteReason).toMatch(/disk filled up/);
    expect((await metadataOf(dir)).status).toBe('incomplete');
  });

  it('two recordings at once both complete, with different ids', async () => {
    const store = new RunStore(join(work, 'concurrent'));
    const [a, b] = await Promise.all([
      recordRun({ store, durationSeconds: 1, syscallRates: false }),
      recordRun({ store, durationSeconds: 1, syscallRates: false }),
    ]);
    expect([a.status, b.status]).toEqual(['complete', 'complete']);
    expect(a.id).not.toBe(b.id);
    expect((await store.listRuns()).map((r) => r.state)).toEqual(['complete', 'complete']);
  });
});
