/**
 * `crosstalk collapse` against the golden files inferno-collapse-perf 0.12.8 checks itself with
 * (jonhoo/inferno @929be68, tests/collapse-perf.rs): every input/option pair listed there, read
 * through the real importer. Where crosstalk differs on purpose, a test below pins the
 * difference and says why; any other mismatch fails.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createGunzip, gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { type CollapseOptions, collapseProfile, compareUtf8 } from '../src/formats/collapse.ts';
import { InputError } from '../src/formats/errors.ts';
import { parsePerfScript } from '../src/formats/perf-script/parser.ts';
import { frameKindNames, type Profile } from '../src/model/profile.ts';
import { corpusFile } from './support/corpus.mjs';

const corpus = corpusFile;
const inferno = (p: string) => corpus(`inferno-collapse-perf/${p}`);

type OptionSet = 'default' | 'pid' | 'tid' | 'kernel' | 'jit' | 'all' | 'addrs';

interface GoldenCase {
  input: string;
  expected: string;
  set: OptionSet;
  /** inferno strips `'` and `"` from its own output before comparing with FlameGraph's results. */
  stripQuotes: boolean;
}

const flamegraphInputs = [
  'perf-cycles-instructions-01',
  'perf-dd-stacks-01',
  'perf-funcab-cmd-01',
  'perf-funcab-pid-01',
  'perf-iperf-stacks-pidtid-01',
  'perf-java-faults-01',
  'perf-java-stacks-01',
  'perf-java-stacks-02',
  'perf-js-stacks-01',
  'perf-mirageos-stacks-01',
  'perf-numa-stacks-01',
  'perf-vertx-stacks-01',
];
const flagSets: OptionSet[] = ['pid', 'tid', 'kernel', 'jit', 'all', 'addrs'];

/** inferno's own inputs (tests/data/collapse-perf), with the options its test names carry. */
const infernoInputs: [string, OptionSet][] = [
  ['no-events', 'default'],
  ['single-line-stacks', 'default'],
  ['single-event', 'default'],
  ['go-stacks', 'default'],
  ['java-inline', 'default'],
  ['versioned-vmlinux', 'kernel'],
  ['sourcepawn-jitdump', 'jit'],
  // Not in the macro list but its result file ships with the same tests (used by perf.rs's unit tests).
  ['cpp-stacks-std-function', 'default'],
];

function goldenCases(): GoldenCase[] {
  const cases: GoldenCase[] = [];
  for (const name of flamegraphInputs) {
    for (const set of flagSets) {
      cases.push({
        input: `flamegraph/test/${name}.txt`,
        expected: `flamegraph/test/results/${name}-collapsed-${set}.txt`,
        set,
        stripQuotes: true,
      });
    }
  }
  // inferno fixes Rust symbols perf demangled halfway, so it keeps its own results for this one.
  for (const set of flagSets) {
    cases.push({
      input: 'flamegraph/test/perf-rust-Yamakaky-dcpu.txt',
      expected: `tests/data/collapse-perf/results/perf-rust-Yamakaky-dcpu-collapsed-${set}.txt`,
      set,
      stripQuotes: false,
    });
  }
  for (const [name, set] of infernoInputs) {
    cases.push({
      input: `tests/data/collapse-perf/${name}.txt`,
      expected: `tests/data/collapse-perf/results/${name}-collapsed${set === 'default' ? '' : `-${set}`}.txt`,
      set,
      stripQuotes: false,
    });
  }
  cases.push({
    input: 'flamegraph/example-perf-stacks.txt.gz',
    expected: 'tests/data/collapse-perf/results/example-perf-stacks-collapsed.txt',
    set: 'default',
    stripQuotes: false,
  });
  return cases;
}

/** Golden files where crosstalk differs on purpose; each has its own test below. */
const deliberate: Record<string, string> = {
  'tests/data/collapse-perf/no-events.txt default':
    'an empty input is an InputError in crosstalk (no silent empty answer); inferno prints nothing',
};

function optionsFor(set: OptionSet): CollapseOptions {
  return set === 'default' ? {} : { [set]: true };
}

async function importPerf(path: string, keepAddresses = false): Promise<Profile> {
  const stream = path.endsWith('.gz') ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  return parsePerfScript(stream, path, { keepAddresses });
}

async function collapseFile(c: GoldenCase): Promise<string[]> {
  const profile = await importPerf(inferno(c.input), c.set === 'addrs');
  const lines = collapseProfile(profile, optionsFor(c.set));
  return c.stripQuotes ? lines.map((l) => l.replace(/['"]/g, '')) : lines;
}

/** Lines of a result file; inferno compares each with its trailing whitespace trimmed. */
function expectedLines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  if (text === '') return [];
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => l.trimEnd());
}

const summary = new Map<OptionSet, { match: number; deliberate: number; total: number }>();
/** Counts a golden file as tried ('total') and then, if it passed, how ('match' | 'deliberate'). */
function tally(set: OptionSet, outcome: 'total' | 'match' | 'deliberate'): void {
  const s = summary.get(set) ?? { match: 0, deliberate: 0, total: 0 };
  s[outcome]++;
  summary.set(set, s);
}

describe('collapse matches inferno-collapse-perf 0.12.8 golden files', () => {
  const cases = goldenCases();

  it('covers every input/option pair of inferno tests/collapse-perf.rs', () => {
    expect(cases).toHaveLength(87);
  });

  for (const c of cases) {
    const id = `${c.input} ${c.set}`;
    if (deliberate[id] !== undefined) continue;
    it(id, async () => {
      tally(c.set, 'total');
      const got = await collapseFile(c);
      expect(lineDifferences(got, expectedLines(inferno(c.expected)))).toBe('');
      tally(c.set, 'match');
    });
  }

  it('tests/data/collapse-perf/no-events.txt default: empty input is an error, not an empty graph', async () => {
    tally('default', 'total');
    expect(expectedLines(inferno('tests/data/collapse-perf/results/no-events-collapsed.txt'))).toEqual([]);
    const err = await importPerf(inferno('tests/data/collapse-perf/no-events.txt')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toContain('an empty file');
    tally('default', 'deliberate');
  });

  afterAll(() => {
    for (const set of ['default', ...flagSets] as OptionSet[]) {
      const s = summary.get(set) ?? { match: 0, deliberate: 0, total: 0 };
      const failed = s.total - s.match - s.deliberate;
      console.log(
        `collapse conformance [${set}]: ${s.match}/${s.total} golden files match inferno, ` +
          `${s.deliberate} deliberate difference(s), ${failed} unexplained mismatch(es)`,
      );
    }
  });
});

describe('inferno warns once about odd lines; crosstalk counts them once', () => {
  it('empty-line.txt: a call chain line after a blank line is one unparsed header', async () => {
    const p = await importPerf(inferno('tests/data/collapse-perf/empty-line.txt'));
    expect(p.meta.oddities).toEqual({
      'unparsed sample header': expect.objectContaining({ count: 1, firstLine: 6 }),
    });
  });

  it('weird-stack-line.txt: one unparsed call chain line', async () => {
    const p = await importPerf(inferno('tests/data/collapse-perf/weird-stack-line.txt'));
    expect(p.meta.oddities).toEqual({
      'unparsed call chain line': expect.objectContaining({ count: 1, firstLine: 5 }),
    });
  });
});

describe('deliberate differences on recordings from this kind of machine', () => {
  it('edge-comms: awkward comm names are read whole', async () => {
    // inferno and stackcollapse-perf.pl take the first digits-only word as the PID: inferno reads
    // "Web Content 2 25295 ..." as comm "Web Content", TID 2; the perl script (host-samples
    // README) names "t" samples "t_25294___529.061581:-?/250000" and "Web Content 2" ones
    // "Web_Content-?/2". crosstalk's header grammar reads the PID next to the time.
    const lines = collapseProfile(await importPerf(corpus('host-samples/edge-comms.perf.txt.gz')), {
      tid: true,
    });
    const weightByName = new Map<string, number>();
    for (const l of lines) {
      const name = l.slice(0, l.indexOf(';'));
      weightByName.set(name, (weightByName.get(name) ?? 0) + Number(l.slice(l.lastIndexOf(' ') + 1)));
    }
    // 250000 ns per sample; counts from the recording.
    expect(weightByName.get('t-?/25294')).toBe(1022 * 250000);
    expect(weightByName.get('Web_Content_2-?/25295')).toBe(1022 * 250000);
    expect(weightByName.get('a:b_[x]_12.5:-?/25296')).toBe(1013 * 250000);
    // "été worker ☃" cut by the kernel inside the snowman: the dangling bytes become one U+FFFD,
    // as with Rust's from_utf8_lossy.
    expect(weightByName.get('été_worker_\uFFFD-?/25293')).toBe(1020 * 250000);
  });

  it('busy-host: equals stackcollapse-perf.pl output except for four explained differences', async () => {
    const profile = await importPerf(corpus('host-samples/busy-host.perf.txt.gz'));
    const ours = collapseProfile(profile).map((l) => l.replace(/['"]/g, ''));
    const perl = gunzipSync(readFileSync(corpus('host-samples/busy-host.folded-stackcollapse-perf.txt.gz')))
      .toString('utf8')
      .trimEnd()
      .split('\n');
    const period = 200040;
    expect(sumCounts(ours) + 442 * period).toBe(205106 * period);

    // 1. Samples without frames: the perl script prints the bare process name ("cc1 88417680");
    //    inferno and crosstalk leave them out.
    const frameless = perl.filter((l) => !l.slice(0, l.lastIndexOf(' ')).includes(';'));
    expect(sumCounts(frameless)).toBe(442 * period);
    let theirs = perl.filter((l) => !frameless.includes(l));
    // 2. comm ":-1" (exiting tasks) with PID -1: "-1" is no digits-only word to perl and inferno,
    //    so perl takes everything up to the period for the name (":-1____-1_[001]___245.102004:"),
    //    and inferno, reading the event as "pppH", drops the samples. crosstalk keeps ":-1".
    const exiting = /^:-1_+-1_\[\d+\]_+[\d.]+:;/;
    expect(theirs.filter((l) => exiting.test(l))).toHaveLength(10);
    theirs = theirs.map((l) => l.replace(exiting, ':-1;'));
    // 3. A module path with a space, "(/memfd:sealed-91173221a7ea (deleted))": perl and inferno
    //    split the line at its last space and print "[unknown] ", losing the module. crosstalk
    //    reads the balanced parentheses and names the frame after the module, as for any other.
    const memfd = '[memfd:sealed-91173221a7ea (deleted)]';
    expect(ours.some((l) => l.includes(memfd))).toBe(true);
    let mine = ours.map((l) => l.replaceAll(memfd, '[unknown] '));
    // 4. Parentheses inside template arguments: perl cuts every frame at its first "(", inferno
    //    (and crosstalk) only at one outside <>, {}, []. Compare with both cut at the first "(".
    const theirSet = new Set(theirs);
    const differing = mine.filter((l) => !theirSet.has(l)).length;
    expect(differing).toBeGreaterThan(0);
    mine = cutArguments(mine);
    theirs = cutArguments(theirs);
    expect(aggregate(mine)).toEqual(aggregate(theirs));
  });
});

/** '' when equal, else a short account (a failing toEqual on thousands of lines is slow to diff). */
function lineDifferences(got: readonly string[], expected: readonly string[]): string {
  if (got.length === expected.length && got.every((l, i) => l === expected[i])) return '';
  const want = new Set(expected);
  const have = new Set(got);
  const missing = expected.filter((l) => !have.has(l));
  const extra = got.filter((l) => !want.has(l));
  const order = missing.length === 0 && extra.length === 0 ? ' (same lines, different order)' : '';
  return [
    `${got.length} lines, expected ${expected.length}${order}`,
    ...missing.slice(0, 5).map((l) => `- ${l}`),
    ...extra.slice(0, 5).map((l) => `+ ${l}`),
  ].join('\n');
}

describe('collapse rules the golden files do not pin', () => {
  async function collapseText(text: string, opts: CollapseOptions, keepAddresses = false): Promise<string[]> {
    const profile = await parsePerfScript(
      (async function* () {
        yield Buffer.from(text);
      })(),
      'inline',
      { keepAddresses },
    );
    return collapseProfile(profile, opts);
  }

  const sample = [
    'x 7 [000] 1.000001: 3 cpu-clock:',
    '\tffffffff81000001 inner_helper (inlined)',
    '\tffffffff81000001 outer_fn+0x10 ([kernel.kallsyms])',
    '\t    7fff12345678 __vdso_clock_gettime+0x5 ([vdso])',
    '\t    7f0000000001 [unknown] ([unknown])',
    '',
    'x 7 [000] 1.000002: 4 cpu-clock:',
    '\t    7f0000000002 (anonymous namespace)::f ([unknown])',
    '',
    'x 7 [000] 1.000003: 5 cpu-clock:',
    '',
    '',
  ].join('\n');

  it('(inlined) frames are never _[k]: inferno sees their module as "inlined"', async () => {
    expect(await collapseText(sample, { kernel: true })).toEqual([
      'x;[unknown];__vdso_clock_gettime_[k];outer_fn_[k];inner_helper 3',
    ]);
  });

  it('[vdso] is kernel for the annotation although crosstalk counts it as user code', async () => {
    const profile = await parsePerfScript(
      (async function* () {
        yield Buffer.from(sample);
      })(),
      'inline',
    );
    const vdso = profile.frames.name.indexOf(profile.strings.indexOf('__vdso_clock_gettime'));
    expect(frameKindNames[profile.frames.kind[vdso]]).toBe('user');
    expect(collapseProfile(profile, { all: true })[0]).toContain('__vdso_clock_gettime_[k]');
  });

  it('samples without frames, or whose frames inferno drops, are left out', async () => {
    // Sample 2's only frame starts with "(" (stackcollapse-perf.pl took such names for process
    // names); sample 3 has no frames at all.
    expect(await collapseText(sample, {})).toEqual([
      'x;[unknown];__vdso_clock_gettime;outer_fn;inner_helper 3',
    ]);
  });

  it('addrs writes the address of frames without a symbol, and needs keepAddresses', async () => {
    expect(await collapseText(sample, { addrs: true, pid: true }, true)).toEqual([
      'x-?;[unknown <7f0000000001>];__vdso_clock_gettime;outer_fn;inner_helper 3',
    ]);
    await expect(collapseText(sample, { addrs: true })).rejects.toThrow(/keepAddresses/);
  });

  it('sorts by UTF-8 bytes, as inferno (Rust) does, not by UTF-16 code units', () => {
    const names = ['a\u{1F600}', 'a\uFFFD', 'a~', 'a\u00e9'];
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...names].sort(compareUtf8)).toEqual(byBytes);
    expect([...names].sort()).not.toEqual(byBytes);
  });

  it('tracepoint samples weigh 1 each', async () => {
    const profile = await importPerf(corpus('host-samples/mixed-events.perf.txt.gz'));
    expect(profile.meta.event).toBe('sched:sched_switch');
    expect(sumCounts(collapseProfile(profile))).toBe(174);
  });
});

function sumCounts(lines: readonly string[]): number {
  let n = 0;
  for (const l of lines) n += Number(l.slice(l.lastIndexOf(' ') + 1));
  return n;
}

function cutArguments(lines: readonly string[]): string[] {
  return lines.map((l) => {
    const at = l.lastIndexOf(' ');
    const frames = l
      .slice(0, at)
      .split(';')
      .map((f) => f.split('(')[0]);
    return `${frames.join(';')}${l.slice(at)}`;
  });
}

function aggregate(lines: readonly string[]): [string, number][] {
  const m = new Map<string, number>();
  for (const l of lines) {
    const at = l.lastIndexOf(' ');
    m.set(l.slice(0, at), (m.get(l.slice(0, at)) ?? 0) + Number(l.slice(at + 1)));
  }
  return [...m].sort((a, b) => compareUtf8(a[0], b[0]));
}
