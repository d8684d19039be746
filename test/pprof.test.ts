/**
 * pprof export read by a real consumer (`go tool pprof`, Debian's golang-go), pprof import of
 * crosstalk's own export and of a Go program's CPU profile, and pprof sniffing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Command } from 'commander';
import {
  Label,
  Line,
  Location,
  Function as PprofFunction,
  Profile as PprofProfile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { SampleLabels } from '../src/analysis/sample-labels.ts';
import { registerExport } from '../src/cli/export.ts';
import { importProfile } from '../src/formats/input.ts';
import { pprofOf } from '../src/formats/pprof-export.ts';
import { parsePprof, sniffPprof } from '../src/formats/pprof-import.ts';
import { FrameKind, type Profile } from '../src/model/profile.ts';
import {
  analyze,
  BUSY_HOST,
  busyHostWithContainers,
  corpus,
  expectSameShares,
  goPprof,
  goSkipReason,
  sharesOf,
  totalWeight,
} from './pprof-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'crosstalk-pprof-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const noGo = goSkipReason();

function exportTo(p: Profile, name: string): string {
  const file = join(dir, name);
  writeFileSync(file, pprofOf(p, { labels: new SampleLabels(p) }));
  return file;
}

/** `go tool pprof -tags` output: key -> value -> the printed amount (as text). */
function parseTags(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of text.split('\n')) {
    const head = /^ (\S+): Total (.+)$/.exec(line);
    if (head) {
      current = new Map([['(total)', head[2]]]);
      out.set(head[1], current);
      continue;
    }
    const row = /^\s+(\S+) \(\s*[\d.]+%\): (.*)$/.exec(line);
    if (row && current) current.set(row[2], row[1]);
  }
  return out;
}

describe('pprof export, read by go tool pprof', () => {
  let busy: Profile;
  let file: string;
  beforeAll(async () => {
    busy = await busyHostWithContainers();
    file = exportTo(busy, 'busy.pb.gz');
  });

  it.skipIf(noGo)('-top totals equal crosstalk’s: samples and nanoseconds', () => {
    const samples = goPprof(['-top', '-nodecount=1', '-sample_index=samples', file]);
    expect(samples).toMatch(/Type: samples/);
    expect(samples).toContain(`of ${busy.samples.length} total`);
    expect(busy.samples.length).toBe(205106);
    const ns = goPprof(['-top', '-nodecount=1', '-unit=ns', file]);
    expect(ns).toMatch(/Type: cpu/);
    expect(ns).toContain(`Total samples = ${totalWeight(busy)}ns`);
    expect(totalWeight(busy)).toBe(205106 * 200040);
  });

  it.skipIf(noGo)('-tags lists container, container_name, pod, comm, syscall and category labels', () => {
    const tags = parseTags(goPprof(['-tags', '-sample_index=samples', file]));
    for (const key of ['container', 'container_name', 'pod', 'comm', 'syscall', 'category', 'cgroup'])
      expect(tags.has(key), key).toBe(true);
    const a = analyzeProfile(busy);
    const container = tags.get('container')!;
    expect(container.get('(total)')).toBe('205106.0');
    for (const c of a.containers) expect(container.get(c.identity.id), c.identity.id).toBe(`${c.samples}.0`);
    expect(tags.get('container_name')!.get('finder')).toBe(container.get('run-demo/finder'));
    expect([...tags.get('pod')!.keys()]).toContain('3f2a9c1e-8b7d-4c4e-9f10-2b6a7c9d0e11');
    expect(tags.get('comm')!.get('cc1')).toBe(container.get('a'.repeat(64)));
    // The syscall label is on syscall time only: its total is the syscall category's.
    expect(tags.get('syscall')!.get('(total)')).toBe(tags.get('category')!.get('syscall'));
    expect(tags.get('syscall')!.has('newfstatat')).toBe(true);
  });

  it.skipIf(noGo)('marks kernel frames by name suffix and by the [kernel.kallsyms] mapping', () => {
    const raw = goPprof(['-raw', file]);
    expect(raw).toMatch(/^\d+: 0x0\/0x0\/0x0 \[kernel\.kallsyms\] {2}\[FN\]$/m);
    expect(raw).toMatch(/ M=\d+ do_syscall_64_\[k\] :0 s=0\(do_syscall_64\)$/m);
    expect(raw).toMatch(/ JS:\*fib \/srv\/demo\/busy\.js:2:13_\[j\] /);
    const top = goPprof(['-top', '-nodecount=15', file]);
    expect(top).toMatch(/clear_page_erms_\[k\]$/m);
  });

  it.skipIf(noGo)('carries pid as one string label whose per-pid totals add up to the total', () => {
    const p = withPidLabels();
    const f = exportTo(p, 'iperf.pb.gz');
    const tags = parseTags(goPprof(['-tags', '-sample_index=samples', f]));
    const pid = tags.get('pid')!;
    expect(pid.get('27409')).toBeDefined();
    const sum = [...pid].filter(([k]) => k !== '(total)').reduce((acc, [, v]) => acc + Number(v), 0);
    // Before, pid was a string and a numeric label: go tool pprof counted each sample twice.
    expect(sum).toBe(p.samples.length);
    expect(Number(pid.get('(total)'))).toBe(p.samples.length);
    expect(goPprof(['-raw', f])).toMatch(/pid:\[27409\][^\n]*\n\s+tid:\[\d+\]/);
  });

  it.skipIf(noGo)('types cpu-clock weights as cpu nanoseconds in every spelling perf records', () => {
    for (const event of ['cpu-clock/freq=99/', 'cpu-clock:ppp', 'task-clock']) {
      const p = withPidLabels();
      const f = exportTo({ ...p, meta: { ...p.meta, event } }, `iperf-${event.replace(/\W/g, '_')}.pb.gz`);
      const top = goPprof(['-top', '-nodecount=1', f]);
      expect(top, event).toMatch(/Type: cpu/);
      expect(top, event).toMatch(/Total samples = [\d.]+(?:ns|us|ms|s)\b/);
    }
  });

  it('round-trips: pprof export then import gives the same per-container and per-syscall shares', async () => {
    const back = await importProfile(file);
    expect(back.meta.format).toBe('pprof');
    expect(back.meta.event).toBe(busy.meta.event);
    expect(back.samples.length).toBe(busy.samples.length);
    expect(totalWeight(back)).toBe(totalWeight(busy));
    const before = sharesOf(analyze(busy));
    const after = sharesOf(analyze(back));
    expectSameShares(before.containers, after.containers, 12, expect);
    expectSameShares(before.syscalls, after.syscalls, 12, expect);
    const a = analyze(busy);
    const b = analyze(back);
    expect(b.split).toEqual(a.split);
    expect(b.syscalls[0].callSites).toEqual(a.syscalls[0].callSites);
    expect(b.containers.map((c) => c.identity)).toEqual(a.containers.map((c) => c.identity));
  });

  it('keeps frame kinds, inlined frames and samples without frames through the round trip', async () => {
    const src = await importProfile(fileURLOf('test/fixtures/perf-script-inlined.txt'));
    const back = parsePprof(gunzipSync(pprofOf(src)), 'inlined.pb');
    const frames = (p: Profile) =>
      Array.from({ length: p.frames.length }, (_, f) =>
        [
          p.strings[p.frames.name[f]],
          p.strings[p.frames.module[f]],
          p.frames.kind[f],
          p.frames.inlined[f],
        ].join('|'),
      ).sort();
    expect(frames(back)).toEqual(frames(src));
    expect(back.frames.inlined.some((x) => x === 1)).toBe(true);
    const busyBack = await importProfile(file);
    const noStack = (p: Profile) => p.samples.stack.filter((s) => s === -1).length;
    expect(noStack(busyBack)).toBe(noStack(busy));
    expect(noStack(busy)).toBeGreaterThan(0);
    const kernel = (p: Profile) => p.frames.kind.filter((k) => k === FrameKind.kernel).length;
    expect(kernel(busyBack)).toBe(kernel(busy));
  });
});

describe('pprof import', () => {
  it.skipIf(noGo)(
    'reads a Go program’s CPU profile: container unknown, and analysis works',
    async () => {
      const goFile = join(dir, 'spin.go');
      writeFileSync(goFile, GO_PROGRAM);
      const out = join(dir, 'go-cpu.pprof');
      // CI may run without HOME; go needs a build cache somewhere.
      const env: NodeJS.ProcessEnv = { ...process.env, GO111MODULE: 'off' };
      if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = join(dir, 'go-cache');
      execFileSync('go', ['run', goFile, out], { cwd: dir, env });
      const p = await importProfile(out);
      expect(p.meta.format).toBe('pprof');
      expect(p.meta.event).toBe('cpu-clock');
      const reference = goPprof(['-top', '-nodecount=1', '-sample_index=samples', out]);
      const total = /of (\d+) total/.exec(reference)?.[1];
      expect(Number(total)).toBe(p.samples.length);
      expect(p.samples.length).toBeGreaterThan(5);
      const names = new Set(Array.from(p.frames.name, (n) => p.strings[n]));
      expect(names.has('main.spin')).toBe(true);
      const a = analyzeProfile(p);
      expect(a.containers.map((c) => c.identity.id)).toEqual(['unknown']);
      expect(a.input.weightUnit).toBe('ns');
      expect(a.split.user).toBeGreaterThan(0.9);
      expect(a.containers[0].processes[0].comm).toBe('spin');
    },
    120_000,
  );

  it('names containers from Pyroscope-style labels when there is no cgroup label', () => {
    const bytes = pprofWithLabels([
      { labels: { namespace: 'shop', pod: 'cart-1', container: 'redis' }, count: 3 },
      { labels: { namespace: 'shop', pod: 'cart-1', container: 'app' }, count: 1 },
      { labels: {}, count: 1 },
    ]);
    const p = parsePprof(bytes, 'pyroscope.pb');
    const a = analyzeProfile(p);
    const byName = Object.fromEntries(a.containers.map((c) => [c.identity.name, c.samples]));
    expect(byName).toEqual({ redis: 3, app: 1, 'unknown (no cgroup in input)': 1 });
    expect(p.meta.hasCgroups).toBe(true);
  });

  it('reads raw (not gzipped) protobuf, and sniffs text as not pprof', async () => {
    const raw = join(dir, 'raw.pb');
    writeFileSync(raw, pprofWithLabels([{ labels: { comm: 'x' }, count: 2 }]));
    const p = await importProfile(raw);
    expect(p.samples.length).toBe(2);
    expect(p.strings[p.samples.comm[0]]).toBe('x');
    const busyHead = gunzipSync(readFileSync(BUSY_HOST)).subarray(0, 65536);
    expect(sniffPprof(busyHead, false)).toBe('no');
    expect(sniffPprof(Buffer.from('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 12\n'), true)).toBe('no');
    expect(sniffPprof(Buffer.from('main;work 12\n'), true)).toBe('no');
    expect(sniffPprof(readFileSync(raw), true)).toBe('yes');
  });

  it('reports a gzip file holding a truncated pprof as broken input, naming the file', async () => {
    const whole = pprofWithLabels([{ labels: { comm: 'x' }, count: 2 }]);
    const cut = join(dir, 'cut.pb.gz');
    // Cut inside the last sample's field (a cut at a field boundary is a valid, smaller profile).
    const at = whole.length - 40;
    writeFileSync(cut, gzipSync(whole.subarray(0, at)));
    await expect(importProfile(cut)).rejects.toThrow(
      /cut\.pb\.gz: expected a complete pprof profile; found data that ends/,
    );
  });
});

describe('crosstalk export', () => {
  const iperf = corpus('flamegraph/test/perf-iperf-stacks-pidtid-01.txt');
  async function runExport(args: string[]): Promise<void> {
    const program = new Command().exitOverride();
    registerExport(program);
    await program.parseAsync(['node', 'crosstalk', 'export', ...args]);
  }

  it.skipIf(noGo)('writes pprof that go tool pprof reads, with crosstalk’s totals', async () => {
    const out = join(dir, 'cli.pb.gz');
    await runExport([iperf, '--format', 'pprof', '-o', out]);
    const p = await importProfile(iperf);
    expect(goPprof(['-top', '-nodecount=1', '-sample_index=samples', out])).toContain(
      `of ${p.samples.length} total`,
    );
  });

  it('writes speedscope JSON and folded stacks; several inputs are hosts', async () => {
    const json = join(dir, 'cli.speedscope.json');
    await runExport([iperf, '--format', 'speedscope', '--by', 'process', '-o', json]);
    const file = JSON.parse(readFileSync(json, 'utf8'));
    expect(file.$schema).toBe('https://www.speedscope.app/file-format-schema.json');
    expect(file.profiles.map((x: { name: string }) => x.name).slice(0, 2)).toEqual([
      'iperf (pid 28735)',
      'iperf (pid 27409)',
    ]);
    expect(file.profiles).toHaveLength(5);
    const folded = join(dir, 'cli.folded');
    await runExport(['--host', 'a=' + iperf, '--host', 'b=' + iperf, '--format', 'folded', '-o', folded]);
    const lines = readFileSync(folded, 'utf8').trimEnd().split('\n');
    const p = await importProfile(iperf);
    const withStack = p.samples.stack.filter((s) => s !== -1).length;
    const sum = (host: string) =>
      lines
        .filter((l) => l.startsWith(`${host};`))
        .reduce((x, l) => x + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(sum('a')).toBe(withStack);
    expect(sum('b')).toBe(withStack);
    expect(lines.some((l) => /_\[k\] \d+$/.test(l))).toBe(true);
    await expect(runExport([iperf, '--format', 'svg', '-o', folded])).rejects.toThrow(
      /--format: expected pprof/,
    );
  });
});

const GO_PROGRAM = `package main

import (
	"os"
	"runtime/pprof"
	"time"
)

//go:noinline
func spin(d time.Duration) int {
	end := time.Now().Add(d)
	x := 0
	for time.Now().Before(end) {
		for i := 0; i < 10000; i++ {
			x += i * i
		}
	}
	return x
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	n := spin(1500 * time.Millisecond)
	pprof.StopCPUProfile()
	f.Close()
	if n == 42 {
		println(n)
	}
}
`;

function fileURLOf(path: string): string {
  return new URL(`../${path}`, import.meta.url).pathname;
}

/** perf script text printed with pid/tid (FlameGraph's iperf test input). */
function withPidLabels(): Profile {
  return withPidProfile;
}
const withPidProfile = await importProfile(corpus('flamegraph/test/perf-iperf-stacks-pidtid-01.txt'));

/** A small pprof as a continuous profiler writes it: labels, no cgroup, one frame per sample. */
function pprofWithLabels(rows: { labels: Record<string, string>; count: number }[]): Uint8Array {
  const strings = new StringTable();
  const s = (x: string) => strings.dedup(x);
  const fn = new PprofFunction({ id: 1, name: s('work') });
  const loc = new Location({ id: 1, line: [new Line({ functionId: 1 })] });
  return new PprofProfile({
    sampleType: [
      new ValueType({ type: s('samples'), unit: s('count') }),
      new ValueType({ type: s('cpu'), unit: s('nanoseconds') }),
    ],
    sample: rows.map(
      (r) =>
        new Sample({
          locationId: [1],
          value: [r.count, r.count * 10_000_000],
          label: Object.entries(r.labels).map(([k, v]) => new Label({ key: s(k), str: s(v) })),
        }),
    ),
    location: [loc],
    function: [fn],
    stringTable: strings,
  }).encode();
}
