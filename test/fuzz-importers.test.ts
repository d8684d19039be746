/**
 * Fuzzing of the importers (perf script text, folded stacks, pprof, and the format sniffing in
 * front of them): mutated corpus files (byte flips, cuts at every kind of boundary, duplicated
 * and dropped lines, huge lines, NUL bytes, CRLF, invalid UTF-8, gzip whole or cut) and inputs
 * from small grammars, through importProfile as `crosstalk analyze` calls it. The invariant
 * (test/support/fuzz-check.ts): a profile that validates and that analysis and the reports
 * handle, or an InputError naming the file and line; never another exception, never past the
 * time bound. scripts/soak.ts runs the same cases a million times.
 *
 * Each run picks a seed and prints it; FUZZ_SEED=<seed> reproduces a run, FUZZ_CASES=<n> sets
 * how many import cases it makes (default 10,000).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  Line,
  Location,
  Function as PprofFunction,
  Profile as PprofProfile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sniffFolded } from '../src/formats/folded.ts';
import { importProfile } from '../src/formats/input.ts';
import { MAX_LINE_BYTES } from '../src/formats/lines.ts';
import { sniffPerfData } from '../src/formats/perf-data/reader.ts';
import { sniffPerfScript } from '../src/formats/perf-script/parser.ts';
import { parsePprof, sniffPprof } from '../src/formats/pprof-import.ts';
import { buildCase, type Corpus, caseGroups, loadCorpus } from './support/fuzz-cases.ts';
import { checkCase, FUZZ_TIME_BOUND } from './support/fuzz-check.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const IMPORT_CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const SNIFF_CASES = 4000;
/** Seeds are cut to this size so a case takes ~3 ms; the soak uses whole files. */
const SEED_BYTES = 48 * 1024;

console.log(`fuzz-importers: seed ${SEED} (FUZZ_SEED=${SEED} reproduces this run)`);

let corpus: Corpus;
let dir: string;
beforeAll(async () => {
  corpus = await loadCorpus(SEED_BYTES);
  dir = mkdtempSync(join(tmpdir(), 'crosstalk-fuzz-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let importCasesRun = 0;

describe(`importers on fuzzed input (seed ${SEED})`, () => {
  caseGroups({ hugeMax: 200_000 }).forEach(({ name, share, arb }, i) => {
    const runs = Math.ceil(IMPORT_CASES * share);
    it(`${name}: ${runs} cases`, async () => {
      const path = join(dir, `${i} input with spaces, 'quotes' and $(x)`);
      await fc.assert(
        fc.asyncProperty(arb, async (spec) => {
          importCasesRun++;
          const c = buildCase(corpus, spec);
          const v = await checkCase(path, c, FUZZ_TIME_BOUND, true);
          if (v.length > 0) throw new Error(v.join('\n'));
        }),
        { seed: SEED + i, numRuns: runs },
      );
    });
  });

  it(`ran at least ${IMPORT_CASES} import cases`, () => {
    console.log(
      `fuzz-importers: ${importCasesRun} import cases, ${SNIFF_CASES * 2} sniffing cases (seed ${SEED})`,
    );
    expect(importCasesRun).toBeGreaterThanOrEqual(IMPORT_CASES);
  });
});

const sniffers = {
  perfScript: sniffPerfScript,
  folded: sniffFolded,
  pprof: sniffPprof,
  perfData: (h: Uint8Array, _complete: boolean) => sniffPerfData(h),
};

describe(`format sniffing (seed ${SEED})`, () => {
  it(`answers yes, no or need-more for any head, and decides a complete one: ${SNIFF_CASES} cases`, () => {
    const head = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      fc.tuple(fc.nat(), fc.nat({ max: 4096 }), fc.nat()).map(([k, len, flip]) => {
        const seeds = [...corpus.perfScript, ...corpus.folded, ...corpus.pprof];
        const b = seeds[k % seeds.length].bytes.slice(0, len);
        if (b.length > 0) b[flip % b.length] ^= 1 << (flip & 7);
        return b;
      }),
    );
    fc.assert(
      fc.property(head, fc.boolean(), (h, complete) => {
        for (const [name, sniff] of Object.entries(sniffers)) {
          const answer = sniff(h, complete);
          expect(['yes', 'no', 'need-more'], name).toContain(answer);
          if (complete && name !== 'perfData') expect(answer, name).not.toBe('need-more');
        }
      }),
      { seed: SEED, numRuns: SNIFF_CASES },
    );
  });

  it(`never says no to a prefix of a file it recognises whole: ${SNIFF_CASES} cases`, () => {
    const kinds = [
      ['perfScript', sniffPerfScript],
      ['folded', sniffFolded],
      ['pprof', sniffPprof],
    ] as const;
    fc.assert(
      fc.property(fc.nat({ max: 2 }), fc.nat(), fc.nat({ max: 65536 }), (k, s, len) => {
        const [kind, sniff] = kinds[k];
        const seeds = corpus[kind].filter((x) => x.bytes.length > 0);
        const whole = seeds[s % seeds.length].bytes;
        const head = whole.subarray(0, 65536);
        if (sniff(head, head.length === whole.length) !== 'yes') return;
        const prefix = head.subarray(0, Math.min(len, head.length));
        expect(sniff(prefix, false), `${kind} ${seeds[s % seeds.length].name} cut at ${len}`).not.toBe('no');
      }),
      { seed: SEED + 100, numRuns: SNIFF_CASES },
    );
  });

  it('recognises every corpus seed as its own format and no other', () => {
    for (const [kind, seeds] of Object.entries(corpus)) {
      for (const s of seeds.filter((x) => x.bytes.length > 0)) {
        const head = s.bytes.subarray(0, 65536);
        const complete = head.length === s.bytes.length;
        const yes = Object.entries(sniffers)
          .filter(([, sniff]) => sniff(head, complete) === 'yes')
          .map(([name]) => name);
        expect(yes, `${kind} ${s.name}`).toEqual([kind]);
      }
    }
  });
});

describe('one huge line', () => {
  const script = fileURLToPath(new URL('support/fuzz-big-line.ts', import.meta.url));
  const measure = (kind: string, bytes: number) => {
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', script, kind, String(bytes), dir],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as {
      result: string;
      file: string;
      line: number | null;
      message?: string;
      ms: number;
      peakGrowthBytes: number;
    };
  };

  for (const kind of [
    'perf-script-frame',
    'perf-script-payload',
    'folded-stack',
    'no-newline',
    'gzip-frame',
  ]) {
    it(`${kind}, 10 MB: refused with the line and the limit, in bounded time and memory`, () => {
      const m = measure(kind, 10_000_000);
      expect(m.result, m.message).toBe('input-error');
      expect(m.message).toMatch(new RegExp(`:${m.line}: expected lines of at most 8 MiB`));
      expect(m.message?.startsWith(m.file)).toBe(true);
      // Measured: ~12 ms and ~11 MB of RSS (the line up to the limit, then the stream stops).
      expect(m.peakGrowthBytes).toBeLessThan(64 * 1024 * 1024);
      expect(m.ms).toBeLessThan(3000);
    });
  }

  it('a line just under the limit is read, within a few times its size of memory', () => {
    const m = measure('perf-script-frame', MAX_LINE_BYTES - 64);
    expect(m.result, m.message).toBe('profile');
    // Measured: ~35 MB for an 8 MB line (the line, its decoded symbol and the builder's copy).
    expect(m.peakGrowthBytes).toBeLessThan(8 * MAX_LINE_BYTES);
    expect(m.ms).toBeLessThan(5000);
  });

  it('a folded file whose first line is longer than the sniffing head is still recognised', async () => {
    const deep = `app;${'recurse;'.repeat(20_000)}leaf 3\nother;x 1\n`;
    const file = join(dir, 'deep.folded');
    writeFileSync(file, deep);
    const p = await importProfile(file);
    expect(p.meta.format).toBe('folded');
    expect(p.samples.length).toBe(2);
    expect(Math.max(...p.stacks.depth)).toBe(20_000);
  });
});

describe('cases the soak found', () => {
  it('a small pprof whose counts claim millions of samples is kept one row per sample, quickly', () => {
    const strings = new StringTable();
    const s = (x: string) => strings.dedup(x);
    const bytes = new PprofProfile({
      sampleType: [new ValueType({ type: s('samples'), unit: s('count') })],
      sample: [new Sample({ locationId: [1], value: [4_999_999] })],
      location: [new Location({ id: 1, line: [new Line({ functionId: 1 })] })],
      function: [new PprofFunction({ id: 1, name: s('main') })],
      stringTable: strings,
    }).encode();
    expect(bytes.length).toBeLessThan(200);
    const t0 = performance.now();
    const p = parsePprof(bytes, 'tiny.pb');
    expect(performance.now() - t0).toBeLessThan(500);
    expect(p.samples.length).toBe(1);
    expect(p.meta.warnings.join('\n')).toMatch(
      /more than 100000 samples; each pprof sample is kept as one row/,
    );
  });
});
