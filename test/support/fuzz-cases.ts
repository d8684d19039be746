/**
 * Fuzz cases for the importers, shared by test/fuzz-importers.test.ts and scripts/soak.ts: the
 * seed corpus (real perf script text, folded stacks, pprof made from them) and fast-check
 * arbitraries that yield small JSON-printable case specs; `buildCase` turns a spec into bytes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  Label,
  Line,
  Location,
  Mapping,
  Function as PprofFunction,
  Profile as PprofProfile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format';
import { SampleLabels } from '../../src/analysis/sample-labels.ts';
import { parsePerfScript } from '../../src/formats/perf-script/parser.ts';
import { pprofOf } from '../../src/formats/pprof-export.ts';
import { corpusFile } from './corpus.mjs';
import {
  foldedLineArb,
  foldedText,
  perfScriptText,
  pprofArb,
  pprofBytes,
  type SyntheticFoldedLine,
  type SyntheticPprof,
  type SyntheticSample,
  sampleArb,
} from './fuzz-grammars.ts';
import {
  BINARY_BOUNDARIES,
  type Boundary,
  type MutatedInput,
  type Mutation,
  mutate,
  TEXT_BOUNDARIES,
  type Wrapping,
} from './fuzz-mutations.ts';

export type SeedKind = 'perfScript' | 'folded' | 'pprof';

export interface Seed {
  name: string;
  bytes: Uint8Array;
}

export type Corpus = Record<SeedKind, Seed[]>;

const fixtureFile = (p: string) => fileURLToPath(new URL(`../fixtures/${p}`, import.meta.url));

const PERF_SCRIPT_SEEDS = [
  'inferno-collapse-perf/tests/data/collapse-perf/cpp-stacks-std-function.txt',
  'inferno-collapse-perf/tests/data/collapse-perf/java-inline.txt',
  'inferno-collapse-perf/tests/data/collapse-perf/single-event.txt',
  'inferno-collapse-perf/tests/data/collapse-perf/go-stacks.txt',
  'inferno-collapse-perf/tests/data/collapse-perf/sourcepawn-jitdump.txt',
  'inferno-collapse-perf/tests/data/collapse-perf/versioned-vmlinux.txt',
  'inferno-collapse-perf/tests/data/collapse-perf/empty-line.txt',
  'inferno-collapse-perf/tests/data/collapse-perf/weird-stack-line.txt',
  'inferno-collapse-perf/tests/data/collapse-perf/single-line-stacks.txt',
  'inferno-collapse-perf/flamegraph/test/perf-java-faults-01.txt',
  'inferno-collapse-perf/flamegraph/test/perf-java-stacks-02.txt',
  'inferno-collapse-perf/flamegraph/test/perf-js-stacks-01.txt',
  'inferno-collapse-perf/flamegraph/test/perf-dd-stacks-01.txt',
  'inferno-collapse-perf/flamegraph/test/perf-mirageos-stacks-01.txt',
  'inferno-collapse-perf/flamegraph/test/perf-funcab-pid-01.txt',
  'inferno-collapse-perf/flamegraph/test/perf-cycles-instructions-01.txt',
  'inferno-collapse-perf/flamegraph/test/perf-iperf-stacks-pidtid-01.txt',
  'inferno-collapse-perf/flamegraph/test/perf-numa-stacks-01.txt',
  'inferno-collapse-perf/flamegraph/test/perf-vertx-stacks-01.txt',
  'host-samples/edge-comms.perf.txt.gz',
  'host-samples/mixed-events.perf.txt.gz',
  'host-samples/busy-host.perf.txt.gz',
];

const FOLDED_SEEDS = [
  'inferno-collapse-perf/flamegraph/test/results/perf-java-stacks-02-collapsed-all.txt',
  'inferno-collapse-perf/flamegraph/test/results/perf-funcab-pid-01-collapsed-tid.txt',
  'inferno-collapse-perf/flamegraph/test/results/perf-js-stacks-01-collapsed-jit.txt',
  'inferno-collapse-perf/flamegraph/test/results/perf-mirageos-stacks-01-collapsed-kernel.txt',
  'inferno-collapse-perf/flamegraph/test/results/perf-java-faults-01-collapsed-addrs.txt',
  'inferno-collapse-perf/flamegraph/test/results/perf-rust-Yamakaky-dcpu-collapsed-tid.txt',
  'host-samples/busy-host.folded-stackcollapse-perf.txt.gz',
];

/** The bytes of a corpus file (gunzipped), cut at a line or sample boundary below `maxBytes`. */
function seedBytes(path: string, maxBytes: number, sampleBoundary: boolean): Uint8Array {
  let b: Uint8Array = readFileSync(path);
  if (path.endsWith('.gz')) b = gunzipSync(b);
  // Plain Uint8Array copies: Buffer's slice() is a view, and a mutation must never reach a seed.
  if (b.length <= maxBytes) return new Uint8Array(b);
  const sep = sampleBoundary ? '\n\n' : '\n';
  const at = Buffer.from(b.buffer, b.byteOffset, maxBytes).lastIndexOf(sep);
  return new Uint8Array(b.subarray(0, at === -1 ? maxBytes : at + sep.length));
}

/**
 * Seeds up to `maxBytes` each (larger files keep their first samples): per-case time grows with
 * the seed, so the CI run keeps them small and the soak may take whole files.
 */
export async function loadCorpus(maxBytes: number): Promise<Corpus> {
  const perfScript = PERF_SCRIPT_SEEDS.map((p) => ({
    name: p.slice(p.lastIndexOf('/') + 1),
    bytes: seedBytes(corpusFile(p), maxBytes, true),
  }));
  perfScript.push({
    name: 'perf-script-inlined.txt',
    bytes: new Uint8Array(readFileSync(fixtureFile('perf-script-inlined.txt'))),
  });
  const folded = FOLDED_SEEDS.map((p) => ({
    name: p.slice(p.lastIndexOf('/') + 1),
    bytes: seedBytes(corpusFile(p), maxBytes, false),
  }));
  const pprof: Seed[] = [];
  for (const s of perfScript.filter((x) => /iperf|java-stacks-02|edge-comms|mixed|inlined/.test(x.name))) {
    const p = await parsePerfScript(once(s.bytes), s.name);
    const bytes = new Uint8Array(gunzipSync(pprofOf(p, { labels: new SampleLabels(p) })));
    pprof.push({ name: `${s.name}.pb`, bytes });
  }
  pprof.push({ name: 'pyroscope-labels.pb', bytes: pyroscopeLike() });
  return { perfScript, folded, pprof };
}

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

/** A pprof as continuous profilers write it: two sample types, labels, mappings, inlined lines. */
function pyroscopeLike(): Uint8Array {
  const strings = new StringTable();
  const s = (x: string) => strings.dedup(x);
  const labels = (pod: string, container: string) => [
    new Label({ key: s('namespace'), str: s('shop') }),
    new Label({ key: s('pod'), str: s(pod) }),
    new Label({ key: s('container'), str: s(container) }),
    new Label({ key: s('pid'), num: 42 }),
  ];
  return new PprofProfile({
    sampleType: [
      new ValueType({ type: s('samples'), unit: s('count') }),
      new ValueType({ type: s('cpu'), unit: s('nanoseconds') }),
    ],
    sample: [
      new Sample({ locationId: [2, 1], value: [3, 30_000_000], label: labels('cart-1', 'redis') }),
      new Sample({ locationId: [1], value: [1, 10_000_000], label: labels('cart-2', 'app') }),
    ],
    mapping: [new Mapping({ id: 1, filename: s('/usr/bin/redis-server') })],
    location: [
      new Location({ id: 1, mappingId: 1, address: 0x401000, line: [new Line({ functionId: 1 })] }),
      new Location({
        id: 2,
        mappingId: 1,
        address: 0x402000,
        line: [new Line({ functionId: 2 }), new Line({ functionId: 1 })],
      }),
    ],
    function: [new PprofFunction({ id: 1, name: s('main') }), new PprofFunction({ id: 2, name: s('work') })],
    stringTable: strings,
    durationNanos: 1_000_000_000,
  }).encode();
}

/** A case: a seed with mutations, a synthetic input from a grammar, or random bytes. */
export type CaseSpec =
  | { from: 'seed'; kind: SeedKind; seed: number; muts: Mutation[]; wrap: Wrapping }
  | { from: 'perf-script-grammar'; samples: SyntheticSample[]; muts: Mutation[]; wrap: Wrapping }
  | { from: 'folded-grammar'; lines: SyntheticFoldedLine[]; muts: Mutation[]; wrap: Wrapping }
  | { from: 'pprof-grammar'; pprof: SyntheticPprof; muts: Mutation[]; wrap: Wrapping }
  | { from: 'random'; prefix: number; bytes: number[]; wrap: Wrapping };

export interface FuzzCase extends MutatedInput {
  spec: CaseSpec;
  /** The input before mutations. */
  base: Uint8Array;
  /** The input is binary (pprof): text rules (line numbers, mid-line cuts) do not apply. */
  binary: boolean;
}

export function buildCase(corpus: Corpus, spec: CaseSpec): FuzzCase {
  switch (spec.from) {
    case 'seed': {
      const seeds = corpus[spec.kind];
      const base = seeds[spec.seed % seeds.length].bytes;
      return { spec, base, binary: spec.kind === 'pprof', ...mutate(base, spec.muts, spec.wrap) };
    }
    case 'perf-script-grammar': {
      const base = perfScriptText(spec.samples);
      return { spec, base, binary: false, ...mutate(base, spec.muts, spec.wrap) };
    }
    case 'folded-grammar': {
      const base = foldedText(spec.lines);
      return { spec, base, binary: false, ...mutate(base, spec.muts, spec.wrap) };
    }
    case 'pprof-grammar': {
      const base = pprofBytes(spec.pprof);
      return { spec, base, binary: true, ...mutate(base, spec.muts, spec.wrap) };
    }
    case 'random': {
      const prefix = Buffer.from(RANDOM_PREFIXES[spec.prefix % RANDOM_PREFIXES.length], 'latin1');
      const base = new Uint8Array([...prefix, ...spec.bytes]);
      return { spec, base, binary: true, ...mutate(base, [], spec.wrap) };
    }
  }
}

/** Heads that send random bytes down each sniffing branch. */
const RANDOM_PREFIXES = [
  '',
  'PERFILE2',
  '\u001f\u008b',
  '\n',
  '# ',
  'a;b 1\n',
  'x 1 [000] 1.0: 1 c:\n',
  '\u000a\u0004',
];

// ---- arbitraries ------------------------------------------------------------------------------

const pos = fc.nat({ max: 1 << 24 });

function mutationArb(boundaries: readonly Boundary[], hugeMax: number): fc.Arbitrary<Mutation> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ op: fc.constant('flip' as const), at: pos, bit: fc.nat({ max: 7 }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('set' as const), at: pos, value: fc.nat({ max: 255 }) }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('insert' as const), at: pos, token: fc.nat() }) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('cut' as const),
        boundary: fc.constantFrom(...boundaries),
        pick: pos,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('dupLine' as const),
        line: pos,
        times: fc.integer({ min: 1, max: 7 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('dropLine' as const), line: pos }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('swapLines' as const), a: pos, b: pos }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('hugeLine' as const),
        line: pos,
        size: fc.integer({ min: 1024, max: hugeMax }),
        fill: fc.nat(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('nul' as const), at: pos, count: fc.nat({ max: 63 }) }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('crlf' as const), all: fc.boolean(), line: pos }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('invalidUtf8' as const), at: pos, seq: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('dupRange' as const), at: pos, len: fc.nat({ max: 4095 }) }),
    },
  );
}

const wrapArb: fc.Arbitrary<Wrapping> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ gz: 'none' as const }) },
  { weight: 1, arbitrary: fc.constant({ gz: 'whole' as const }) },
  { weight: 1, arbitrary: fc.record({ gz: fc.constant('cut' as const), keep: pos }) },
);

export interface ArbitraryOptions {
  /** Largest inserted huge line, bytes. */
  hugeMax: number;
}

/** Mutated seeds of one kind. */
export function seedCaseArb(kind: SeedKind, o: ArbitraryOptions): fc.Arbitrary<CaseSpec> {
  const boundaries = kind === 'pprof' ? BINARY_BOUNDARIES : TEXT_BOUNDARIES;
  return fc.record({
    from: fc.constant('seed' as const),
    kind: fc.constant(kind),
    seed: fc.nat({ max: 1000 }),
    muts: fc.array(mutationArb(boundaries, o.hugeMax), { minLength: 1, maxLength: 4 }),
    wrap: wrapArb,
  });
}

// ---- all cases -------------------------------------------------------------------------------

const fewMutations = (boundaries: readonly Boundary[], o: ArbitraryOptions) =>
  fc.array(mutationArb(boundaries, o.hugeMax), { maxLength: 2 });

export function perfScriptGrammarArb(o: ArbitraryOptions): fc.Arbitrary<CaseSpec> {
  return fc.record({
    from: fc.constant('perf-script-grammar' as const),
    samples: fc.array(sampleArb, { minLength: 1, maxLength: 8 }),
    muts: fewMutations(TEXT_BOUNDARIES, o),
    wrap: wrapArb,
  });
}

export function foldedGrammarArb(o: ArbitraryOptions): fc.Arbitrary<CaseSpec> {
  return fc.record({
    from: fc.constant('folded-grammar' as const),
    lines: fc.array(foldedLineArb, { minLength: 1, maxLength: 10 }),
    muts: fewMutations(TEXT_BOUNDARIES, o),
    wrap: wrapArb,
  });
}

export function pprofGrammarArb(o: ArbitraryOptions): fc.Arbitrary<CaseSpec> {
  return fc.record({
    from: fc.constant('pprof-grammar' as const),
    pprof: pprofArb,
    muts: fewMutations(BINARY_BOUNDARIES, o),
    wrap: wrapArb,
  });
}

export const randomArb: fc.Arbitrary<CaseSpec> = fc.record({
  from: fc.constant('random' as const),
  prefix: fc.nat(),
  bytes: fc.array(fc.nat({ max: 255 }), { maxLength: 2048 }),
  wrap: wrapArb,
});

/** Named groups of cases, with the share of a run each gets. */
export function caseGroups(
  o: ArbitraryOptions,
): { name: string; share: number; arb: fc.Arbitrary<CaseSpec> }[] {
  return [
    { name: 'perf script corpus mutations', share: 0.3, arb: seedCaseArb('perfScript', o) },
    { name: 'perf script from the grammar', share: 0.15, arb: perfScriptGrammarArb(o) },
    { name: 'folded corpus mutations', share: 0.15, arb: seedCaseArb('folded', o) },
    { name: 'folded from the grammar', share: 0.1, arb: foldedGrammarArb(o) },
    { name: 'pprof corpus mutations', share: 0.13, arb: seedCaseArb('pprof', o) },
    { name: 'pprof from the grammar', share: 0.1, arb: pprofGrammarArb(o) },
    { name: 'random bytes', share: 0.07, arb: randomArb },
  ];
}
