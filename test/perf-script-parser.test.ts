/**
 * The perf script importer on real recordings: integrity (the profile validates, one sample per
 * header, weights add up, every frame line lands in the stack), a top-K summary per input kept
 * in test/golden/ (regenerate with UPDATE_GOLDEN=1), and each trap listed in the corpus README.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/formats/errors.ts';
import { eventBase, type PerfScriptOptions, parsePerfScript } from '../src/formats/perf-script/parser.ts';
import { FrameKind, frameKindNames, type Profile, UNKNOWN_PID } from '../src/model/profile.ts';
import { validateProfile } from '../src/model/validate.ts';
import { corpusFile } from './support/corpus.mjs';

const corpusPath = corpusFile;
const fixturePath = (p: string) => fileURLToPath(new URL(`fixtures/${p}`, import.meta.url));

interface Input {
  /** Short name, used for the golden file and as the profile's source. */
  name: string;
  path: string;
}

const inputs: Input[] = [
  { name: 'busy-host', path: corpusPath('host-samples/busy-host.perf.txt.gz') },
  { name: 'edge-comms', path: corpusPath('host-samples/edge-comms.perf.txt.gz') },
  { name: 'mixed-events', path: corpusPath('host-samples/mixed-events.perf.txt.gz') },
  { name: 'inlined', path: fixturePath('perf-script-inlined.txt') },
  {
    name: 'cpp-stacks-std-function',
    path: corpusPath('inferno-collapse-perf/tests/data/collapse-perf/cpp-stacks-std-function.txt'),
  },
  {
    name: 'versioned-vmlinux',
    path: corpusPath('inferno-collapse-perf/tests/data/collapse-perf/versioned-vmlinux.txt'),
  },
  {
    name: 'single-line-stacks',
    path: corpusPath('inferno-collapse-perf/tests/data/collapse-perf/single-line-stacks.txt'),
  },
  {
    name: 'java-stacks-02',
    path: corpusPath('inferno-collapse-perf/flamegraph/test/perf-java-stacks-02.txt'),
  },
  { name: 'dd-stacks-01', path: corpusPath('inferno-collapse-perf/flamegraph/test/perf-dd-stacks-01.txt') },
  {
    name: 'cycles-instructions-01',
    path: corpusPath('inferno-collapse-perf/flamegraph/test/perf-cycles-instructions-01.txt'),
  },
  {
    name: 'vertx-stacks-01',
    path: corpusPath('inferno-collapse-perf/flamegraph/test/perf-vertx-stacks-01.txt'),
  },
  {
    name: 'example-perf-stacks',
    path: corpusPath('inferno-collapse-perf/flamegraph/example-perf-stacks.txt.gz'),
  },
];

const bytesCache = new Map<string, Buffer>();
function bytesOf(path: string): Buffer {
  let b = bytesCache.get(path);
  if (b === undefined) {
    b = readFileSync(path);
    if (path.endsWith('.gz')) b = gunzipSync(b);
    bytesCache.set(path, b);
  }
  return b;
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

function parseBytes(bytes: Uint8Array, name: string, opts: PerfScriptOptions = {}, chunk = 1 << 20) {
  return parsePerfScript(chunked(bytes, chunk), name, opts);
}

const profileCache = new Map<string, Promise<Profile>>();
function parseInput(input: Input, opts: PerfScriptOptions = {}): Promise<Profile> {
  const key = `${input.name} ${JSON.stringify(opts)}`;
  let p = profileCache.get(key);
  if (p === undefined) {
    p = parseBytes(bytesOf(input.path), input.name, opts);
    profileCache.set(key, p);
  }
  return p;
}

function inputNamed(name: string): Input {
  const i = inputs.find((x) => x.name === name);
  if (i === undefined) throw new Error(`no input ${name}`);
  return i;
}

/**
 * What the importer should find, read independently with regular expressions (slow, but
 * simple): each header's event and period, and how many call chain lines follow it.
 */
interface HeaderFacts {
  event: string;
  period: number | null;
  frameLines: number;
}

const headerLine =
  /^[ \t]*\S.*?[ \t]-?\d+(?:\/-?\d+)?[ \t]+(?:\[\d+\][ \t]+)?(?:\d+\.\d+:[ \t]+)?(?:(\d+)[ \t]+)?([A-Za-z_][\w:.-]*?):(?:[ \t]+(.*))?$/;
const frameLine = /^[ \t]*[0-9a-fA-F]+[ \t]+.*\)$/;

function headersOf(bytes: Buffer): HeaderFacts[] {
  const out: HeaderFacts[] = [];
  let current: HeaderFacts | null = null;
  for (const raw of bytes.toString('latin1').split('\n')) {
    const line = raw.replace(/[ \t\r]+$/, '');
    if (line === '') {
      current = null;
      continue;
    }
    if (current !== null && frameLine.test(line)) {
      current.frameLines++;
      continue;
    }
    const m = headerLine.exec(line);
    if (m === null) continue;
    current = { event: m[2], period: m[1] === undefined ? null : Number(m[1]), frameLines: 0 };
    // `perf script` without call chains prints the only frame on the header line.
    if (m[3] !== undefined && frameLine.test(m[3])) current.frameLines = 1;
    out.push(current);
  }
  return out;
}

function depthOf(p: Profile, sample: number): number {
  const s = p.samples.stack[sample];
  return s === -1 ? 0 : p.stacks.depth[s] + 1;
}

describe('integrity on real recordings', () => {
  for (const input of inputs) {
    it(input.name, async () => {
      const p = await parseInput(input);
      validateProfile(p);
      const headers = headersOf(bytesOf(input.path));
      expect(p.meta.events.reduce((n, e) => n + e.samples, 0)).toBe(headers.length);
      const chosen = headers.filter((h) => eventBase(h.event) === eventBase(p.meta.event));
      expect(p.samples.length).toBe(chosen.length);
      let weight = 0;
      for (let i = 0; i < p.samples.length; i++) weight += p.samples.weight[i];
      expect(weight).toBe(chosen.reduce((n, h) => n + (h.period ?? 1), 0));
      // Compared one by one: a failing toEqual over 200k numbers takes vitest minutes to diff.
      const wrong = chosen.findIndex((h, i) => depthOf(p, i) !== h.frameLines);
      const found =
        wrong === -1 ? '' : `${depthOf(p, wrong)} frames, ${chosen[wrong].frameLines} frame lines`;
      expect(wrong, `first sample whose stack depth differs: ${found}`).toBe(-1);
      expect(p.meta.truncated).toBe(false);
    });
  }
});

describe('top-K summaries (golden files; UPDATE_GOLDEN=1 rewrites them)', () => {
  const cases: [Input, PerfScriptOptions][] = inputs.map((i) => [i, {}]);
  cases.push([inputNamed('mixed-events'), { event: 'page-faults' }]);
  cases.push([inputNamed('mixed-events'), { event: 'cpu-clock' }]);
  for (const [input, opts] of cases) {
    const label =
      opts.event === undefined ? input.name : `${input.name}.event=${opts.event.replace(':', '_')}`;
    it(label, async () => {
      checkGolden(`perf-script.${label}.txt`, summarize(await parseInput(input, opts), 8));
    });
  }
});

function checkGolden(name: string, text: string): void {
  const path = fileURLToPath(new URL(`golden/${name}`, import.meta.url));
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(path, text);
    return;
  }
  if (!existsSync(path)) throw new Error(`golden file ${name} is missing; create it with UPDATE_GOLDEN=1`);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

/** A short human-readable account of a profile: counts, then the heaviest names. */
function summarize(p: Profile, k: number): string {
  const { samples, frames, strings } = p;
  const m = p.meta;
  let total = 0;
  let frameless = 0;
  const byComm = new Map<string, number>();
  const byLeaf = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (let i = 0; i < samples.length; i++) {
    const w = samples.weight[i];
    total += w;
    add(byComm, strings[samples.comm[i]], w);
    const s = samples.stack[i];
    if (s === -1) {
      frameless++;
      continue;
    }
    const f = p.stacks.frame[s];
    const kind = frameKindNames[frames.kind[f]];
    const inl = frames.inlined[f] === 1 ? ' (inlined)' : '';
    add(byLeaf, `${kind.padEnd(7)} ${strings[frames.name[f]]}${inl}  [${strings[frames.module[f]]}]`, w);
    add(byModule, strings[frames.module[f]], w);
  }
  const kinds = [0, 0, 0, 0];
  let inlined = 0;
  for (let f = 0; f < frames.length; f++) {
    kinds[frames.kind[f]]++;
    inlined += frames.inlined[f];
  }
  const oddities = Object.entries(m.oddities).map(
    ([kind, o]) => `${kind} x${o.count} (first at line ${o.firstLine})`,
  );
  return [
    `input: ${m.source}`,
    `event: ${m.event} (chosen: ${m.eventChosenBy}); events: ${m.events.map((e) => `${e.name} ${e.samples}`).join(', ')}`,
    `call graph: ${m.callGraph}; truncated: ${m.truncated}`,
    `samples: ${samples.length} (${frameless} without frames); total weight: ${total}`,
    `frames: ${frames.length} (${frameKindNames.map((n, i) => `${n} ${kinds[i]}`).join(', ')}; inlined ${inlined}); stack nodes: ${p.stacks.length}`,
    `oddities: ${oddities.length === 0 ? 'none' : oddities.join('; ')}`,
    `warnings: ${m.warnings.length === 0 ? 'none' : m.warnings.join(' | ')}`,
    `top ${k} process names by weight:`,
    ...top(byComm, total, k),
    `top ${k} leaf frames by weight:`,
    ...top(byLeaf, total, k),
    `top ${k} leaf modules by weight:`,
    ...top(byModule, total, k),
    '',
  ].join('\n');
}

function add(m: Map<string, number>, key: string, w: number): void {
  m.set(key, (m.get(key) ?? 0) + w);
}

function top(m: Map<string, number>, total: number, k: number): string[] {
  return [...m]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, k)
    .map(([name, w]) => `  ${((100 * w) / total).toFixed(1).padStart(5)}%  ${name}`);
}

describe('known traps (corpus README)', () => {
  it('comm names: one letter, spaces, digits-only words, colons, invalid UTF-8', async () => {
    const p = await parseInput(inputNamed('edge-comms'));
    const count = new Map<string, number>();
    for (let i = 0; i < p.samples.length; i++) {
      const key = `${p.strings[p.samples.comm[i]]}|${p.samples.tid[i]}`;
      count.set(key, (count.get(key) ?? 0) + 1);
    }
    expect(count.get('t|25294')).toBe(1022);
    expect(count.get('Web Content 2|25295')).toBe(1022);
    expect(count.get('a:b [x] 12.5:|25296')).toBe(1013);
    // "été worker ☃x" cut by the kernel to 15 bytes inside the snowman (bytes e2 98).
    expect(count.get('été worker \uFFFD|25293')).toBe(1020);
    // perf's default fields print one number, the TID.
    expect(new Set(p.samples.pid)).toEqual(new Set([UNKNOWN_PID]));
    const busy = await parseInput(inputNamed('busy-host'));
    const npm = busy.strings.indexOf('npm install com');
    expect(busy.samples.comm.filter((c) => c === npm)).toHaveLength(14);
  });

  it('comm ":-1" with PID -1 (exiting tasks perf could not resolve)', async () => {
    const p = await parseInput(inputNamed('busy-host'));
    const comm = p.strings.indexOf(':-1');
    const rows = [...p.samples.comm.keys()].filter((i) => p.samples.comm[i] === comm);
    expect(rows).toHaveLength(10);
    for (const i of rows) {
      expect(p.samples.tid[i]).toBe(-1);
      expect(p.samples.pid[i]).toBe(UNKNOWN_PID);
      expect(p.samples.stack[i]).not.toBe(-1);
    }
  });

  it('unindented frames (old perf)', async () => {
    const p = await parseInput(inputNamed('java-stacks-02'));
    expect(p.samples.length).toBe(2);
    const leaf = p.stacks.frame[p.samples.stack[0]];
    expect(p.strings[p.frames.name[leaf]]).toBe('native_write_msr_safe');
    expect(p.frames.kind[leaf]).toBe(FrameKind.kernel);
    expect(depthOf(p, 0)).toBeGreaterThan(10);
  });

  it('samples with no frames', async () => {
    const p = await parseInput(inputNamed('busy-host'));
    const cc1 = p.strings.indexOf('cc1');
    const frameless = [...p.samples.stack.keys()].filter((i) => p.samples.stack[i] === -1);
    expect(frameless).toHaveLength(442);
    expect(frameless.every((i) => p.samples.comm[i] === cc1)).toBe(true);
    // Without call chains perf separates samples by nothing at all: headers follow each other.
    const bare = 'a 1 [000] 1.000001: 10 cpu-clock:\nb 2 [001] 1.000002: 20 cpu-clock:\n';
    const q = await parseBytes(Buffer.from(bare), 'bare');
    expect([...q.samples.stack]).toEqual([-1, -1]);
    expect([...q.samples.weight]).toEqual([10, 20]);
  });

  it('no blank line after the last sample', async () => {
    const input = inputNamed('dd-stacks-01');
    const bytes = bytesOf(input.path);
    expect(bytes.toString('latin1').endsWith(')\n')).toBe(true);
    const p = await parseInput(input);
    expect(depthOf(p, p.samples.length - 1)).toBe(headersOf(bytes).at(-1)?.frameLines);
  });

  it('JIT symbols with spaces', async () => {
    const p = await parseInput(inputNamed('busy-host'));
    const f = findFrame(p, 'JS:^fib /srv/demo/busy.js:2:13');
    expect(p.strings[p.frames.module[f]]).toBe('/tmp/perf-9244.map');
    expect(p.frames.kind[f]).toBe(FrameKind.jit);
  });

  it('(inlined) frames take the module of the real frame at the same address', async () => {
    const p = await parseInput(inputNamed('inlined'));
    const frameAt = (sample: number, depthFromLeaf: number) => {
      let s = p.samples.stack[sample];
      for (let i = 0; i < depthFromLeaf; i++) s = p.stacks.prefix[s];
      return p.stacks.frame[s];
    };
    const show = (f: number) =>
      `${p.strings[p.frames.name[f]]} ${p.strings[p.frames.module[f]]} ${p.frames.inlined[f]}`;
    const binary = '/tmp/inline-demo/inline-demo';
    expect([0, 1, 2, 3].map((d) => show(frameAt(0, d)))).toEqual([
      `mix ${binary} 1`,
      `churn ${binary} 1`,
      `work ${binary} 0`,
      `main ${binary} 0`,
    ]);
    // perf printed __libc_start_main_impl as inlined with no real frame at its address after it.
    expect(show(frameAt(0, 5))).toBe('__libc_start_main_impl inlined 1');
  });

  it('versioned vmlinux and .ko modules are kernel code', async () => {
    const p = await parseInput(inputNamed('versioned-vmlinux'));
    const kindOf = (name: string) => frameKindNames[p.frames.kind[findFrame(p, name)]];
    expect(kindOf('net_rx_action')).toBe('kernel'); // /usr/lib/debug/boot/vmlinux-5.4.14-cloudflare-2020.1.11
    expect(kindOf('mlx5e_napi_poll')).toBe('kernel'); // .../mlx5_core.ko
    expect(kindOf('bpf_prog_2b956549c660136a_uni_l4lb')).toBe('kernel');
  });

  it('several events: the first by default, with a warning naming them', async () => {
    const p = await parseInput(inputNamed('mixed-events'));
    expect(p.meta.events).toEqual([
      { name: 'sched:sched_switch', samples: 174 },
      { name: 'cpu-clock', samples: 3991 },
      { name: 'page-faults', samples: 655 },
    ]);
    expect(p.meta.event).toBe('sched:sched_switch');
    expect(p.meta.eventChosenBy).toBe('first');
    expect(p.meta.warnings).toHaveLength(1);
    expect(p.meta.warnings[0]).toMatch(/sched:sched_switch, cpu-clock, page-faults.*--event/);
    // Tracepoints print no period: each sample weighs 1.
    expect(new Set(p.samples.weight)).toEqual(new Set([1]));
  });

  it('several events: event option selects one, without a warning', async () => {
    const faults = await parseInput(inputNamed('mixed-events'), { event: 'page-faults' });
    expect(faults.samples.length).toBe(655);
    expect(faults.meta.eventChosenBy).toBe('option');
    expect(faults.meta.warnings).toEqual([]);
    const clock = await parseInput(inputNamed('mixed-events'), { event: 'cpu-clock' });
    expect(clock.samples.length).toBe(3991);
    expect(new Set(clock.samples.weight)).toEqual(new Set([1001001]));
    const err = await parseInput(inputNamed('mixed-events'), { event: 'cycles' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toContain('sched:sched_switch, cpu-clock, page-faults');
  });

  it('7-byte chunks give the same profile as one read', async () => {
    for (const name of ['edge-comms', 'mixed-events', 'inlined', 'java-stacks-02', 'single-line-stacks']) {
      const input = inputNamed(name);
      const whole = await parseInput(input);
      const tiny = await parseBytes(bytesOf(input.path), input.name, {}, 7);
      expect(isDeepStrictEqual(tiny, whole), name).toBe(true);
    }
  });

  it('CRLF line endings give the same profile', async () => {
    for (const name of ['edge-comms', 'inlined', 'java-stacks-02']) {
      const input = inputNamed(name);
      const crlf = Buffer.from(bytesOf(input.path).toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
      const p = await parseBytes(crlf, input.name);
      expect(isDeepStrictEqual(p, await parseInput(input)), name).toBe(true);
    }
  });

  it('a file cut in the middle of a sample keeps the samples before the cut', async () => {
    const bytes = bytesOf(inputNamed('dd-stacks-01').path);
    const text = bytes.toString('latin1');
    const starts = [...text.matchAll(/^dd /gm)].map((m) => m.index);
    const sixth = starts[5];
    const secondFrame = text.indexOf('\n', text.indexOf('\n', sixth) + 1) + 1;
    // Cut inside the header, inside a frame's indentation, inside a frame's symbol.
    for (const cut of [sixth + 10, secondFrame + 3, secondFrame + 25]) {
      const p = await parseBytes(bytes.subarray(0, cut), 'cut');
      expect(p.samples.length, `cut at ${cut}`).toBe(5);
      expect(p.meta.truncated).toBe(true);
      expect(p.meta.warnings.join('\n')).toMatch(/input ends in the middle of .*was the file cut\?/);
      expect(p.meta.oddities).toEqual({});
    }
    // Cut right after a newline: nothing shows the cut, the sample keeps the frames read.
    const p = await parseBytes(bytes.subarray(0, secondFrame), 'cut');
    expect(p.samples.length).toBe(6);
    expect(p.meta.truncated).toBe(false);
  });

  it('keepAddresses interns [unknown] frames per address', async () => {
    const input = inputNamed('edge-comms');
    const plain = await parseInput(input);
    const kept = await parseInput(input, { keepAddresses: true });
    expect(kept.samples.length).toBe(plain.samples.length);
    expect(kept.frames.length).toBeGreaterThan(plain.frames.length);
    for (let f = 0; f < kept.frames.length; f++) {
      const unknown = kept.strings[kept.frames.name[f]] === '[unknown]';
      expect(kept.frames.address[f] !== -1, `frame ${f}`).toBe(unknown);
    }
  });
});

/** A fresh DWARF recording on this machine, so the fixture's format is checked against today's perf. */
describe('live perf recording', () => {
  const tools = ['perf', 'gcc'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  it.skipIf(tools.length > 0)(
    `(inlined) frames from perf record --call-graph dwarf${tools.length > 0 ? ` (missing: ${tools.join(', ')})` : ''}`,
    async (ctx) => {
      const dir = mkdtempSync(join(tmpdir(), 'crosstalk-inline-'));
      try {
        const bin = join(dir, 'inline-demo');
        execFileSync('gcc', ['-O2', '-g', '-o', bin, fixturePath('inline-demo.c')]);
        const data = join(dir, 'inl.data');
        const rec = spawnSync('perf', [
          'record',
          '-q',
          '-F',
          '999',
          '--call-graph',
          'dwarf',
          '-o',
          data,
          '--',
          bin,
          '1500',
        ]);
        if (rec.status !== 0) {
          ctx.skip(`perf record failed here (${rec.stderr.toString().trim().split('\n').at(-1)})`);
          return;
        }
        const text = execFileSync('perf', ['script', '-i', data], { maxBuffer: 1 << 28 });
        const p = await parseBytes(text, 'live');
        validateProfile(p);
        expect(p.samples.length).toBeGreaterThan(20);
        const inlined = [...p.frames.inlined.keys()].filter((f) => p.frames.inlined[f] === 1);
        const names = new Set(inlined.map((f) => p.strings[p.frames.name[f]]));
        expect(names.has('mix') || names.has('churn')).toBe(true);
        const mix = findFrame(p, 'mix');
        expect(p.strings[p.frames.module[mix]]).toBe(bin);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

function findFrame(p: Profile, name: string): number {
  const s = p.strings.indexOf(name);
  const f = p.frames.name.indexOf(s);
  if (s === -1 || f === -1) throw new Error(`no frame named ${name}`);
  return f;
}
