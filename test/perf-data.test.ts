/**
 * perf.data import against real recordings made here: processes in cgroup v2 children, recorded
 * system-wide with `perf record -a -g --all-cgroups`, then imported natively + via perf script.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, ToolError, UnreadableInputError } from '../src/formats/errors.ts';
import { CgroupIndex } from '../src/formats/perf-data/cgroup-index.ts';
import { callGraphOf } from '../src/formats/perf-data/file-header.ts';
import { importPerfData } from '../src/formats/perf-data/import.ts';
import { type PerfDataSummary, readPerfData, sniffPerfData } from '../src/formats/perf-data/reader.ts';
import {
  BranchSampleType,
  cgroupOffset,
  ReadFormat,
  SampleType,
  sampleLayoutOf,
} from '../src/formats/perf-data/sample-layout.ts';
import type { Profile } from '../src/model/profile.ts';
import { firstSampleEndOf, recordStartsOf } from './support/perf-data-records.ts';

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
  const r = spawnSync(
    'perf',
    ['record', '-a', '--all-cgroups', '-o', join(dir, 'probe.data'), '--', 'true'],
    {
      encoding: 'utf8',
    },
  );
  rmSync(dir, { recursive: true, force: true });
  if (r.error) return `perf cannot run: ${r.error.message}`;
  if (r.status !== 0) return `perf record fails here: ${r.stderr.split('\n')[0]}`;
  return null;
}

const skip = whyNotRecord();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function record(
  out: string,
  callGraph: string[],
  seconds: string,
  during?: () => Promise<void>,
): Promise<void> {
  const args = [
    'record',
    '-a',
    ...callGraph,
    '--all-cgroups',
    '-F',
    '999',
    '-o',
    out,
    '--',
    'sleep',
    seconds,
  ];
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

/** A DWARF recording (its large samples reach the file quickly) stopped with SIGKILL after `ms`. */
async function recordKilled(out: string, ms: number): Promise<void> {
  const args = [
    'record',
    '-a',
    '--call-graph',
    'dwarf,4096',
    '--all-cgroups',
    '-F',
    '999',
    '-o',
    out,
    '--',
    'sleep',
    '10',
  ];
  const perf = spawn('perf', args, { stdio: 'ignore' });
  const done = new Promise((r) => perf.once('close', r));
  await sleep(ms);
  perf.kill('SIGKILL');
  await done;
}

/** Samples of one process as [cgroup path, time] in time order. */
function samplesOf(p: Profile, pid: number): { cgroup: string; time: number }[] {
  const out: { cgroup: string; time: number }[] = [];
  for (let i = 0; i < p.samples.length; i++) {
    if (p.samples.pid[i] === pid)
      out.push({ cgroup: p.strings[p.samples.cgroup[i]], time: p.samples.time[i] });
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
  let killedData = '';
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
    const launcher = spawn(
      'sh',
      ['-c', `echo $$ > ${procs} || exit 1; nice -n 19 sh -c '${script}' & echo $!; wait`],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    children.push(launcher);
    const line = await new Promise<string>((resolve) =>
      launcher.stdout.once('data', (d) => resolve(String(d))),
    );
    const pid = Number(line.trim());
    workers.push(pid);
    return pid;
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'crosstalk-perf-data-test-'));
    fpData = join(work, 'fp.data');
    dwarfData = join(work, 'dwarf.data');
    killedData = join(work, 'killed.data');
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
    await recordKilled(killedData, 1200);
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
    await Promise.all(
      children.map((c) =>
        c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null,
      ),
    );
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
    expect(fp.meta.warnings.filter((w) => /no cgroup/.test(w)).join('\n')).toBe('');
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
    // A cut before the first sample ends leaves nothing to show; one after it, a partial profile.
    const bytes = new Uint8Array(readFileSync(fpData));
    const firstSampleEnd = firstSampleEndOf(bytes, recordStartsOf(bytes, dataOffset, validDataEnd));
    let partial = 0;
    for (const c of cases) {
      const file = join(work, `trunc-${c.name.replace(/\W+/g, '-')}.data`);
      await cutCopy(fpData, file, c.cut, c.zeroSize);
      const samplesLeft = c.cut === null || c.cut >= firstSampleEnd;
      try {
        const p = await importPerfData(file);
        expect(samplesLeft, `${c.name}: a profile from a cut before the first sample`).toBe(true);
        expect(p.meta.truncated, c.name).toBe(true);
        expect(
          p.meta.warnings.some((w) => w.includes('perf.data')),
          c.name,
        ).toBe(true);
        expect(p.samples.length, c.name).toBeGreaterThan(0);
        expect(p.samples.length, c.name).toBe(Number(p.meta.recording.samplesInFile));
        expect(p.samples.length, c.name).toBeLessThanOrEqual(fp.samples.length);
        partial++;
      } catch (e) {
        expect(e, `${c.name}: ${e}`).toBeInstanceOf(InputError);
        expect((e as InputError).file).toBe(file);
        expect(samplesLeft, `${c.name}: refused though samples were left: ${e}`).toBe(false);
      }
    }
    // The cuts at 1 and 9 bytes into the data leave no sample; the "data size 0" copy is whole.
    expect(partial).toBeGreaterThanOrEqual(1);
    expect(partial).toBeLessThanOrEqual(cases.length - 2);
  });

  it('reads what a perf killed mid-run left behind (header never finalized)', async () => {
    const p = await importPerfData(killedData).catch((e: unknown) => e);
    if (p instanceof Error) {
      // Nothing had reached the file yet: a clear InputError is the other acceptable outcome.
      expect(p).toBeInstanceOf(InputError);
      expect(p.message).toMatch(/not finalized/);
      return;
    }
    const profile = p as Profile;
    expect(profile.meta.truncated).toBe(true);
    expect(profile.meta.warnings.join('\n')).toMatch(/not finalized/);
    expect(profile.meta.callGraph).toBe('dwarf');
    expect(profile.samples.length).toBe(Number(profile.meta.recording.samplesInFile));
    expect(Object.keys(cgroupCounts(profile, pids.cpu))).toEqual([cg('cpu')]);
  });

  it('refuses zstd-compressed and pipe-mode recordings with an InputError saying so', async () => {
    const z = join(work, 'z.data');
    expect(spawnSync('perf', ['record', '-z', '-o', z, '--', 'sleep', '0.05']).status).toBe(0);
    await expect(importPerfData(z)).rejects.toThrow(/record again without -z/);
    const pipe = join(work, 'pipe.data');
    const out = spawnSync('perf', ['record', '-o', '-', '--', 'sleep', '0.05'], { maxBuffer: 64 << 20 });
    writeFileSync(pipe, out.stdout);
    const err = await importPerfData(pipe).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/pipe-mode.*not supported/);
  });

  it('turns perf failures into ToolErrors', async () => {
    const viaPerf = { decoder: 'perf-script' as const };
    await expect(
      importPerfData(fpData, { ...viaPerf, perfPath: join(work, 'no-such-perf') }),
    ).rejects.toMatchObject({
      name: 'ToolError',
      tool: 'perf',
    });
    // A perf that prints nothing must not give an empty profile.
    await expect(importPerfData(fpData, { ...viaPerf, perfPath: '/bin/true' })).rejects.toThrow(
      /printed nothing/,
    );
    const failing = importPerfData(fpData, { ...viaPerf, perfPath: '/bin/false' });
    await expect(failing).rejects.toBeInstanceOf(ToolError);
    await expect(failing).rejects.toThrow(/exit status 1/);
  });

  it('a cut file perf script cannot decode is bad input that says it was cut, not a perf failure', async () => {
    const file = join(work, 'cut-unreadable.data');
    await cutCopy(fpData, file, null, true);
    // /bin/false stands for a perf that fails on what the killed recorder left.
    const err = await importPerfData(file, { decoder: 'perf-script', perfPath: '/bin/false' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/not finalized.*perf script could not decode what was written/);
    // An intact file that perf fails on stays perf's failure.
    await expect(
      importPerfData(fpData, { decoder: 'perf-script', perfPath: '/bin/false' }),
    ).rejects.toBeInstanceOf(ToolError);
  });

  it('rejects an event the file has no samples of before running perf', async () => {
    await expect(importPerfData(fpData, { event: 'page-faults' })).rejects.toThrow(
      /samples of event "page-faults"/,
    );
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
    [
      'text',
      Buffer.from('sh 123 [000] 1.000: 1 cpu-clock:\n\tffff sym (mod)\n'),
      /magic PERFILE2.*text starting/,
    ],
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

describe('sample layout (synthetic records for fields this machine cannot record)', () => {
  /** Little-endian record bytes from u64 words and raw byte runs. */
  function record(parts: (bigint | Uint8Array)[]): DataView {
    const bytes: number[] = [];
    for (const p of parts) {
      if (p instanceof Uint8Array) bytes.push(...p);
      else for (let i = 0n; i < 8n; i++) bytes.push(Number((p >> (8n * i)) & 0xffn));
    }
    const header = [9, 0, 0, 0, 0, 0, (bytes.length + 8) & 0xff, (bytes.length + 8) >> 8];
    return new DataView(Uint8Array.from([...header, ...bytes]).buffer);
  }
  const T = SampleType;

  it('finds the cgroup after READ(group), CALLCHAIN, RAW, BRANCH_STACK+hw_idx, REGS, STACK_USER and the rest', () => {
    const attr = {
      sampleType:
        T.IDENTIFIER |
        T.IP |
        T.TID |
        T.TIME |
        T.ADDR |
        T.ID |
        T.STREAM_ID |
        T.CPU |
        T.PERIOD |
        T.READ |
        T.CALLCHAIN |
        T.RAW |
        T.BRANCH_STACK |
        T.REGS_USER |
        T.STACK_USER |
        T.WEIGHT_STRUCT |
        T.DATA_SRC |
        T.TRANSACTION |
        T.REGS_INTR |
        T.PHYS_ADDR |
        T.CGROUP,
      readFormat: ReadFormat.GROUP | ReadFormat.ID | ReadFormat.LOST | ReadFormat.TOTAL_TIME_ENABLED,
      branchSampleType: BranchSampleType.HW_INDEX,
      regsUserCount: 3,
      regsIntrCount: 2,
    };
    const raw = new Uint8Array(16);
    new DataView(raw.buffer).setUint32(0, 12, true);
    const view = record([
      7n,
      0xffffffff81000000n,
      (42n << 32n) | 41n,
      123456789n,
      0n,
      7n,
      8n,
      1n,
      250000n, // fixed part
      2n,
      999n,
      1n,
      7n,
      0n,
      2n,
      8n,
      0n, // read: nr, time_enabled, {value, id, lost} x2
      3n,
      1n,
      2n,
      3n, // callchain
      raw, // u32 size 12 + 12 bytes
      2n,
      5n,
      1n,
      2n,
      3n,
      4n,
      5n,
      6n, // branch: nr, hw_idx, 2 x {from, to, flags}
      2n,
      1n,
      2n,
      3n, // regs_user: abi 2, 3 regs
      16n,
      0xaan,
      0xbbn,
      16n, // stack_user: size, data, dyn_size
      1n,
      2n,
      3n, // weight, data_src, transaction
      2n,
      1n,
      2n, // regs_intr: abi 2, 2 regs
      0x1000n, // phys_addr
      0x1234n, // cgroup
    ]);
    const l = sampleLayoutOf(attr);
    expect([l.id, l.tid, l.time, l.cpu, l.period]).toEqual([8, 24, 32, 64, 72]);
    const at = cgroupOffset(view, 0, view.byteLength, l);
    expect(at).toBe(view.byteLength - 8);
    expect(view.getUint32(at, true)).toBe(0x1234);
  });

  it('skips no registers for abi 0 and no dyn_size for an empty user stack', () => {
    const attr = {
      sampleType: T.TID | T.TIME | T.READ | T.REGS_USER | T.STACK_USER | T.CGROUP,
      readFormat: ReadFormat.TOTAL_TIME_ENABLED | ReadFormat.TOTAL_TIME_RUNNING,
      branchSampleType: 0,
      regsUserCount: 17,
      regsIntrCount: 0,
    };
    const view = record([(5n << 32n) | 5n, 1n, 10n, 20n, 30n, 0n, 0n, 77n]);
    const at = cgroupOffset(view, 0, view.byteLength, sampleLayoutOf(attr));
    expect(view.getUint32(at, true)).toBe(77);
  });

  it('refuses lengths that point outside the record instead of reading past it', () => {
    const attr = {
      sampleType: T.CALLCHAIN | T.CGROUP,
      readFormat: 0,
      branchSampleType: 0,
      regsUserCount: 0,
      regsIntrCount: 0,
    };
    expect(cgroupOffset(record([1000n, 1n, 2n]), 0, 32, sampleLayoutOf(attr))).toBe(-1);
  });

  it('tells call-graph modes apart from the attr', () => {
    const a = (sampleType: number, branchSampleType = 0) => ({
      sampleType,
      branchSampleType,
      readFormat: 0,
      regsUserCount: 0,
      regsIntrCount: 0,
    });
    expect(callGraphOf(a(T.CALLCHAIN | T.REGS_USER | T.STACK_USER))).toBe('dwarf');
    expect(callGraphOf(a(T.CALLCHAIN | T.BRANCH_STACK, BranchSampleType.CALL_STACK))).toBe('lbr');
    expect(callGraphOf(a(T.CALLCHAIN | T.BRANCH_STACK))).toBe('fp');
    expect(callGraphOf(a(T.IP | T.TID))).toBe('none');
  });
});

describe('cgroup index', () => {
  it('answers a moved thread by the nearest run, tolerating times that differ by an ulp', () => {
    const idx = new CgroupIndex();
    const t0 = 2 ** 53 + 4096; // beyond 2^53, where u64 -> double rounds
    for (const cg of [1, 2, 1]) idx.observe(7, cg);
    idx.observe(8, 3);
    expect(idx.multiCgroupThreads).toBe(1);
    for (const [t, cg] of [
      [t0 + 2e6, 1],
      [t0, 1],
      [t0 + 1e6, 2],
      [t0 + 1e6 + 1e5, 2],
    ] as const) {
      if (idx.isMulti(7)) idx.observePoint(7, t, cg);
    }
    idx.finishPoints();
    expect(idx.idOf(7, t0 - 2)).toBe(1);
    expect(idx.idOf(7, t0 + 1e6 + 2)).toBe(2);
    expect(idx.idOf(7, t0 + 1.05e6)).toBe(2);
    expect(idx.idOf(7, t0 + 1.9e6)).toBe(1);
    expect(idx.idOf(7, t0 + 3e6)).toBe(1);
    expect(idx.idOf(7, Number.NaN)).toBeUndefined();
    expect(idx.idOf(8, Number.NaN)).toBe(3);
    expect(idx.idOf(9, t0)).toBeUndefined();
  });
});
