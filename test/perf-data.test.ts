/**
 * perf.data import against real recordings made here: processes in cgroup v2 children, recorded
 * system-wide with `perf record -a -g --all-cgroups`, then imported natively + via perf script.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, ToolError, UnreadableInputError } from '../src/formats/errors.ts';
import { importPerfData } from '../src/formats/perf-data/import.ts';
import { type PerfDataSummary, readPerfData, sniffPerfData } from '../src/formats/perf-data/reader.ts';
import type { Profile } from '../src/model/profile.ts';

/** Mount point of the cgroup v2 hierarchy, from /proc/self/mountinfo (fstype after " - "). */
function cgroup2Mount(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left.split(' ')[4].replace(/\\040/g, ' ');
  }
  return null;
}

function whyNotRecord(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for perf record -a and cgroup creation';
  if (cgroup2Mount() === null) return 'no cgroup2 mount in /proc/self/mountinfo';
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-perf-data-probe-'));
  const r = spawnSync('perf', ['record', '-a', '--all-cgroups', '-o', join(dir, 'probe.data'), '--', 'true'], {
    encoding: 'utf8',
  });
  rmSync(dir, { recursive: true, force: true });
  if (r.error) return `perf cannot run: ${r.error.message}`;
  if (r.status !== 0) return `perf record fails here: ${r.stderr.split('\n')[0]}`;
  return null;
}

const skip = whyNotRecord();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function record(out: string, callGraph: string[], seconds: string, during?: () => Promise<void>): Promise<void> {
  const args = ['record', '-a', ...callGraph, '--all-cgroups', '-F', '999', '-o', out, '--', 'sleep', seconds];
  const perf = spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  perf.stderr.on('data', (d) => {
    err += d;
  });
  const done = new Promise<number | null>((r) => perf.once('close', r));
  await during?.();
  const code = await done;
  if (code !== 0) throw new Error(`perf record exited ${code}: ${err}`);
}

/** Samples of one process as [cgroup path, time] in time order. */
function samplesOf(p: Profile, pid: number): { cgroup: string; time: number }[] {
  const out: { cgroup: string; time: number }[] = [];
  for (let i = 0; i < p.samples.length; i++) {
    if (p.samples.pid[i] === pid) out.push({ cgroup: p.strings[p.samples.cgroup[i]], time: p.samples.time[i] });
  }
  return out.sort((a, b) => a.time - b.time);
}

function cgroupCounts(p: Profile, pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samplesOf(p, pid)) out[s.cgroup] = (out[s.cgroup] ?? 0) + 1;
  return out;
}

describe.skipIf(skip !== null)(`real recordings${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const root = cgroup2Mount() ?? '';
  const tag = `crosstalk-pd-${process.pid}`;
  const cg = (name: string) => `/${tag}-${name}`;
  const made: string[] = [];
  const children: ChildProcess[] = [];
  const workers: number[] = [];
  const pids: Record<string, number> = {};
  let work = '';
  let fpData = '';
  let dwarfData = '';
  let fp: Profile;
  let fpSummary: PerfDataSummary;

  function makeCgroup(name: string): string {
    const path = join(root, cg(name));
    mkdirSync(path);
    made.push(path);
    return path;
  }

  /**
   * Starts `script` at nice 19 (so the imports below are not starved by it) in cgroup `name`:
   * a launcher moves itself there, then forks the worker, which is thus in the cgroup from its
   * first instruction. Resolves with the worker's pid.
   */
  async function startIn(name: string, script: string): Promise<number> {
    const procs = join(root, cg(name), 'cgroup.procs');
    const launcher = spawn('sh', ['-c', `echo $$ > ${procs} || exit 1; nice -n 19 sh -c '${script}' & echo $!; wait`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(launcher);
    const line = await new Promise<string>((resolve) => launcher.stdout.once('data', (d) => resolve(String(d))));
    const pid = Number(line.trim());
    workers.push(pid);
    return pid;
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'crosstalk-perf-data-test-'));
    fpData = join(work, 'fp.data');
    dwarfData = join(work, 'dwarf.data');
    for (const name of ['cpu', 'sys', 'm1', 'm2']) makeCgroup(name);
    pids.cpu = await startIn('cpu', 'while :; do :; done');
    pids.sys = await startIn('sys', 'exec dd if=/dev/zero of=/dev/null bs=1 count=1000000000');
    pids.mover = await startIn('m1', 'while :; do :; done');
    let shortExited = false;
    await record(fpData, ['-g'], '2', async () => {
      await sleep(700);
      // Created while perf records: its path arrives as a PERF_RECORD_CGROUP from the kernel.
      makeCgroup('short');
      pids.short = await startIn('short', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done');
      await sleep(500);
      writeFileSync(join(root, cg('m2'), 'cgroup.procs'), String(pids.mover));
      while (existsSync(`/proc/${pids.short}`)) await sleep(20);
      shortExited = true;
    });
    expect(shortExited).toBe(true);
    await record(dwarfData, ['--call-graph', 'dwarf,4096'], '1');
    stopAll();
    fpSummary = await readPerfData(fpData);
    fp = await importPerfData(fpData);
  });

  function stopAll(): void {
    for (const pid of workers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const c of children) c.kill('SIGKILL');
  }

  afterAll(async () => {
    stopAll();
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)));
    for (const path of made.reverse()) {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(path);
          break;
        } catch {
          await sleep(20);
        }
      }
    }
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('attributes each process to the cgroup it ran in', () => {
    expect(fp.meta.format).toBe('perf-data');
    expect(fp.meta.hasCgroups).toBe(true);
    expect(fp.meta.callGraph).toBe('fp');
    expect(fp.meta.truncated).toBe(false);
    const cpu = cgroupCounts(fp, pids.cpu);
    const sys = cgroupCounts(fp, pids.sys);
    expect(Object.keys(cpu)).toEqual([cg('cpu')]);
    expect(Object.keys(sys)).toEqual([cg('sys')]);
    expect(cpu[cg('cpu')]).toBeGreaterThan(200);
    expect(sys[cg('sys')]).toBeGreaterThan(200);
    expect(fp.meta.warnings.filter((w) => /no cgroup/.test(w)).join("\n")).toBe("");
    expect(fp.meta.recording.hostname).toBeTypeOf('string');
    expect(fp.meta.recording.frequencyHz).toBe(999);
  });

  it('attributes a process that started and exited during the recording, in a cgroup made then', () => {
    const short = cgroupCounts(fp, pids.short);
    expect(Object.keys(short)).toEqual([cg('short')]);
    expect(short[cg('short')]).toBeGreaterThan(20);
  });

  it('follows a thread moved to another cgroup mid-recording, by sample time', () => {
    const seq = samplesOf(fp, pids.mover).map((s) => s.cgroup);
    const firstM2 = seq.indexOf(cg('m2'));
    expect(firstM2).toBeGreaterThan(10);
    expect(seq.slice(0, firstM2).every((c) => c === cg('m1'))).toBe(true);
    expect(seq.slice(firstM2).every((c) => c === cg('m2'))).toBe(true);
    expect(seq.length - firstM2).toBeGreaterThan(10);
    expect(fpSummary.multiCgroupThreads).toBeGreaterThanOrEqual(1);
  });

  it('counts as many samples natively as perf script prints', () => {
    const cpuClock = fpSummary.attrs.find((a) => a.name.startsWith('cpu-clock'));
    expect(cpuClock?.samples).toBeGreaterThan(1000);
    expect(fp.meta.events).toEqual([{ name: cpuClock?.name, samples: cpuClock?.samples }]);
    expect(fp.samples.length).toBe(cpuClock?.samples);
    expect(fpSummary.truncated).toBe(false);
    expect(fpSummary.warnings).toEqual([]);
  });

  it('reports DWARF call graphs and still joins cgroups', async () => {
    const p = await importPerfData(dwarfData);
    expect(p.meta.callGraph).toBe('dwarf');
    expect(Object.keys(cgroupCounts(p, pids.cpu))).toEqual([cg('cpu')]);
    expect(Object.keys(cgroupCounts(p, pids.sys))).toEqual([cg('sys')]);
    expect(p.samples.length).toBe(Number(p.meta.recording.samplesInFile));
  });

  it('reads a truncated file to its last complete record, or refuses it with an InputError', async () => {
    const { dataOffset, validDataEnd } = fpSummary;
    const span = validDataEnd - dataOffset;
    const cuts = [1, 9, Math.floor(span / 3), Math.floor(span / 2) + 3, Math.floor((span * 3) / 4) + 5];
    const cases: { name: string; cut: number | null; zeroSize: boolean }[] = [
      ...cuts.map((c) => ({ name: `cut+${c}`, cut: dataOffset + c, zeroSize: false })),
      { name: 'data size 0', cut: null, zeroSize: true },
      { name: 'data size 0, cut', cut: dataOffset + Math.floor(span / 2) + 1, zeroSize: true },
    ];
    let partial = 0;
    for (const c of cases) {
      const file = join(work, `trunc-${c.name.replace(/\W+/g, '-')}.data`);
      await cutCopy(fpData, file, c.cut, c.zeroSize);
      try {
        const p = await importPerfData(file);
        expect(p.meta.truncated, c.name).toBe(true);
        expect(p.meta.warnings.some((w) => w.includes('perf.data')), c.name).toBe(true);
        expect(p.samples.length, c.name).toBeGreaterThan(0);
        expect(p.samples.length, c.name).toBe(Number(p.meta.recording.samplesInFile));
        expect(p.samples.length, c.name).toBeLessThanOrEqual(fp.samples.length);
        partial++;
      } catch (e) {
        expect(e, `${c.name}: ${e}`).toBeInstanceOf(InputError);
        expect((e as InputError).file).toBe(file);
      }
    }
    expect(partial).toBeGreaterThanOrEqual(4);
  });

  it('turns perf failures into ToolErrors', async () => {
    await expect(importPerfData(fpData, { perfPath: join(work, 'no-such-perf') })).rejects.toMatchObject({
      name: 'ToolError',
      tool: 'perf',
    });
    // A perf that prints nothing must not give an empty profile.
    await expect(importPerfData(fpData, { perfPath: '/bin/true' })).rejects.toThrow(/printed nothing/);
    const failing = importPerfData(fpData, { perfPath: '/bin/false' });
    await expect(failing).rejects.toBeInstanceOf(ToolError);
    await expect(failing).rejects.toThrow(/exit status 1/);
  });

  it('rejects an event the file has no samples of before running perf', async () => {
    await expect(importPerfData(fpData, { event: 'page-faults' })).rejects.toThrow(/samples of event "page-faults"/);
  });

  it('reports progress from 0 to 1', async () => {
    const seen: number[] = [];
    await importPerfData(fpData, { onProgress: (f) => seen.push(f) });
    expect(seen.at(-1)).toBe(1);
    expect(seen.every((f, i) => i === 0 || f >= seen[i - 1])).toBe(true);
    expect(seen.some((f) => f > 0.1 && f < 1)).toBe(true);
  });
});

/** Copies `from`, optionally cut at byte `cut`, optionally with the header's data size zeroed. */
async function cutCopy(from: string, to: string, cut: number | null, zeroSize: boolean): Promise<void> {
  copyFileSync(from, to);
  const fh = await open(to, 'r+');
  try {
    if (cut !== null) await fh.truncate(cut);
    if (zeroSize) await fh.write(new Uint8Array(8), 0, 8, 48);
  } finally {
    await fh.close();
  }
}

describe('not a perf.data file', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'crosstalk-perf-data-bad-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const header = (magic: string, size: number): Uint8Array => {
    const b = new Uint8Array(104);
    b.set(Buffer.from(magic, 'latin1'), 0);
    new DataView(b.buffer).setUint32(8, size, true);
    return b;
  };

  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /an empty file/],
    ['text', Buffer.from('sh 123 [000] 1.000: 1 cpu-clock:\n\tffff sym (mod)\n'), /magic PERFILE2.*text starting/],
    ['random', Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24), /magic PERFILE2/],
    ['short header', header('PERFILE2', 104).subarray(0, 40), /104-byte perf.data file header/],
    ['byte-swapped', header('2ELIFREP', 104), /not supported/],
    ['pipe mode', header('PERFILE2', 16), /pipe-mode.*not supported/],
    ['attrs outside the file', header('PERFILE2', 104), /attr section/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`${name}: InputError naming the file`, async () => {
      const file = join(dir, `${name.replace(/\W+/g, '-')}.data`);
      writeFileSync(file, bytes);
      const err = await importPerfData(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).file).toBe(file);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('a missing file is unreadable, not malformed', async () => {
    await expect(readPerfData(join(dir, 'absent.data'))).rejects.toBeInstanceOf(UnreadableInputError);
  });

  it('sniffs perf.data magic, including formats the reader then refuses', () => {
    const enc = (s: string) => Buffer.from(s, 'latin1');
    expect(sniffPerfData(enc('PERFILE2\x68\0\0\0'))).toBe('yes');
    expect(sniffPerfData(enc('2ELIFREP'))).toBe('yes');
    expect(sniffPerfData(enc('PERF'))).toBe('need-more');
    expect(sniffPerfData(enc(''))).toBe('need-more');
    expect(sniffPerfData(enc('perf 123 [000]'))).toBe('no');
    expect(sniffPerfData(enc('\x1f\x8b\x08\0'))).toBe('no');
  });
});
