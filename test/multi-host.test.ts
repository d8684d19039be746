/**
 * Several hosts analysed together: the busy-host recording cut into 4 parts at sample boundaries,
 * loaded as 4 "hosts" in worker threads, gives the totals of the whole; containers of different
 * hosts stay apart; each host is diagnosed on its own.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { CliError } from '../src/cli/errors.ts';
import { hostRefsOf } from '../src/cli/flags.ts';
import { UnrecognizedFormatError } from '../src/formats/errors.ts';
import { importMany } from '../src/formats/import-many.ts';
import { importProfile } from '../src/formats/input.ts';
import { hostsOf, isMultiHost, mergeHosts, selectHost } from '../src/model/hosts.ts';
import type { Profile } from '../src/model/profile.ts';
import { analyzeLoaded } from '../src/pipeline/analyze.ts';
import { type LoadedInput, loadInputs } from '../src/pipeline/load.ts';
import { analyzeJson } from '../src/report/json.ts';
import { analyzeSchema } from '../src/report/schema.ts';
import { renderAnalysis } from '../src/report/terminal.ts';
import { analyze, BUSY_HOST, corpus, expectSameShares, sharesOf, totalWeight } from './pprof-support.ts';
import { profileFromText } from './support/profile-text.ts';

const dir = mkdtempSync(join(tmpdir(), 'crosstalk-hosts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** busy-host's text cut into `n` files at blank lines (sample boundaries). */
function splitAtSamples(n: number): string[] {
  const text = gunzipSync(readFileSync(BUSY_HOST));
  const cuts = [0];
  for (let k = 1; k < n; k++) cuts.push(text.indexOf('\n\n', Math.floor((text.length * k) / n)) + 2);
  cuts.push(text.length);
  return Array.from({ length: n }, (_, k) => {
    const file = join(dir, `part${k + 1}.txt`);
    writeFileSync(file, text.subarray(cuts[k], cuts[k + 1]));
    return file;
  });
}

describe('busy-host split into 4 hosts', () => {
  let whole: Profile;
  let parts: string[];
  let loaded: LoadedInput;
  beforeAll(async () => {
    whole = await importProfile(BUSY_HOST, { threads: 1 });
    parts = splitAtSamples(4);
    loaded = await loadInputs(
      parts.map((ref) => ({ host: null, ref })),
      { threads: 2 },
    );
  });

  it('has the whole recording’s samples and weight, one host label per part', () => {
    const p = loaded.profile;
    expect(p.samples.length).toBe(205106);
    expect(p.samples.length).toBe(whole.samples.length);
    expect(totalWeight(p)).toBe(totalWeight(whole));
    expect(hostsOf(p)).toEqual(['part1', 'part2', 'part3', 'part4']);
    expect(isMultiHost(p)).toBe(true);
    expect(loaded.hosts?.map((h) => h.name)).toEqual(['part1', 'part2', 'part3', 'part4']);
    expect(p.meta.hosts.map((h) => h.source)).toEqual(parts);
  });

  it('gives the whole’s user/kernel split, categories and per-syscall shares', () => {
    const a = analyze(whole);
    const b = analyze(loaded.profile);
    for (const k of ['user', 'kernel', 'idle', 'unknown'] as const)
      expect(b.split[k]).toBeCloseTo(a.split[k], 12);
    expectSameShares(
      Object.fromEntries(a.categories.map((c) => [c.category, c.share])),
      Object.fromEntries(b.categories.map((c) => [c.category, c.share])),
      12,
      expect,
    );
    expectSameShares(sharesOf(a).syscalls, sharesOf(b).syscalls, 12, expect);
    expect(b.input.totalWeight).toBe(a.input.totalWeight);
  });

  it('keeps each host’s containers apart and sums hosts to the whole', async () => {
    const b = analyzeProfile(loaded.profile);
    expect(b.containers.map((c) => `${c.host}/${c.identity.id}`).sort()).toEqual([
      'part1/unknown',
      'part2/unknown',
      'part3/unknown',
      'part4/unknown',
    ]);
    expect(b.hosts.map((h) => h.samples).reduce((x, y) => x + y, 0)).toBe(205106);
    expect(b.hosts.reduce((x, h) => x + h.share, 0)).toBeCloseTo(1, 12);
    const alone = await importProfile(parts[2], { threads: 1 });
    const host3 = b.hosts.find((h) => h.name === 'part3')!;
    expect(host3.samples).toBe(alone.samples.length);
    expect(host3.share).toBeCloseTo(totalWeight(alone) / totalWeight(whole), 12);
    const one = selectHost(loaded.profile, 'part3');
    expect(one.samples.length).toBe(alone.samples.length);
    expectSameShares(sharesOf(analyze(alone)).syscalls, sharesOf(analyze(one)).syscalls, 12, expect);
  });

  it('imports the same profiles on 1 and on 2 worker threads', async () => {
    const one = await importMany(parts, { threads: 1 });
    const two = await importMany(parts, { threads: 2 });
    expect(two.map((p) => p.samples.length)).toEqual(one.map((p) => p.samples.length));
    expect(two.map(totalWeight)).toEqual(one.map(totalWeight));
    expect(two.map((p) => p.stacks.length)).toEqual(one.map((p) => p.stacks.length));
  });

  it('reports a broken input read in a worker thread as the same InputError, naming the file', async () => {
    const bad = join(dir, 'not-a-profile.txt');
    writeFileSync(bad, 'this is not a profile\n');
    // 64 MB in all: two lanes; this thread takes part1, the worker takes the broken file.
    const failure = importMany([parts[0], bad, parts[1]], { threads: 2 });
    await expect(failure).rejects.toBeInstanceOf(UnrecognizedFormatError);
    await expect(failure).rejects.toThrow(/not-a-profile\.txt:1: expected perf\.data, perf script text/);
  });

  it('diagnoses each host on its own, and the JSON names hosts and follows the schema', () => {
    const { result, findings } = analyzeLoaded(loaded);
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) {
      expect(['part1', 'part2', 'part3', 'part4']).toContain(f.host);
      expect(f.title.startsWith(`${f.host}: `)).toBe(true);
    }
    const doc = analyzeSchema.parse(analyzeJson(result, findings));
    expect(doc.hosts.map((h) => h.name)).toEqual(['part1', 'part2', 'part3', 'part4']);
    expect(doc.containers.every((c) => c.host !== null)).toBe(true);
    expect(doc.syscalls[0].containers.every((c) => c.host !== null)).toBe(true);
    expect(doc.findings.every((f) => f.host !== null)).toBe(true);
    const text = renderAnalysis(result, {}, findings);
    expect(text).toMatch(/^ {2}part1 +\d+\.\d%/m);
    expect(text).toContain('part2: unknown (no cgroup in input)');
  });
});

describe('hosts and containers', () => {
  const A = `/system.slice/docker-${'a'.repeat(64)}.scope`;
  const lstat =
    'main@/srv/v;__lstat64@/usr/lib/x86_64-linux-gnu/libc.so.6;entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_newlstat_[k];__d_lookup_[k]';

  it('counts the same cgroup on two hosts as two containers', () => {
    const web1 = profileFromText(`${A} app:10 ${lstat} 30\n/ swapper:0 do_idle_[k] 10`);
    const web2 = profileFromText(`${A} app:10 ${lstat} 10\n${A} app:10 main@/srv/v 50`);
    const p = mergeHosts(
      [
        { host: 'web1', profile: web1 },
        { host: 'web2', profile: web2 },
      ],
      'two hosts',
    );
    const a = analyzeProfile(p);
    const docker = a.containers.filter((c) => c.identity.runtime === 'docker');
    expect(docker.map((c) => [c.host, c.samples, c.share])).toEqual([
      ['web2', 2, 0.6],
      ['web1', 1, 0.3],
    ]);
    expect(a.syscalls[0].containers.map((c) => [c.host, c.id, c.share])).toEqual([
      ['web1', 'a'.repeat(64), 0.3],
      ['web2', 'a'.repeat(64), 0.1],
    ]);
    expect(a.hosts.map((h) => [h.name, h.share])).toEqual([
      ['web1', 0.4],
      ['web2', 0.6],
    ]);
    const single = analyzeProfile(web1);
    expect(single.hosts).toEqual([]);
    expect(single.containers.every((c) => c.host === '')).toBe(true);
  });

  it('rejects empty or repeated host names', () => {
    const p = profileFromText('app main 1');
    expect(() => mergeHosts([{ host: '', profile: p }], 'x')).toThrow(/empty or repeated/);
    expect(() =>
      mergeHosts(
        [
          { host: 'a', profile: p },
          { host: 'a', profile: p },
        ],
        'x',
      ),
    ).toThrow(/empty or repeated/);
  });

  it('reads --host NAME=INPUT before plain inputs, and refuses a malformed one', () => {
    expect(hostRefsOf(['x.data'], ['web=/tmp/a.data'])).toEqual([
      { host: 'web', ref: '/tmp/a.data' },
      { host: null, ref: 'x.data' },
    ]);
    expect(() => hostRefsOf([], ['=a'])).toThrow(CliError);
    expect(() => hostRefsOf([], ['web='])).toThrow(/NAME=INPUT/);
    expect(() => hostRefsOf([], ['web=a', 'web=b'])).toThrow(/"web" is given twice/);
  });

  it('names hosts after their files, numbering repeats; a named single input is a host too', async () => {
    const file = join(dir, 'edge.perf.txt.gz');
    writeFileSync(file, readFileSync(corpus('host-samples/edge-comms.perf.txt.gz')));
    const twice = await loadInputs(
      [
        { host: null, ref: file },
        { host: null, ref: file },
      ],
      { threads: 2 },
    );
    expect(hostsOf(twice.profile)).toEqual(['edge', 'edge#2']);
    const named = await loadInputs([{ host: 'db-7', ref: file }], { threads: 1 });
    expect(hostsOf(named.profile)).toEqual(['db-7']);
    const plain = await loadInputs([{ host: null, ref: file }], { threads: 1 });
    expect(plain.hosts).toBeUndefined();
    expect(hostsOf(plain.profile)).toEqual(['']);
  });
});
