/**
 * Small grammars for the importer fuzzing: perf script samples, folded lines and pprof profiles
 * built from pieces real tools print and pieces they never print, in the places they go. Each
 * generates a JSON-printable description; the functions below turn one into bytes.
 */
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

// ---- perf script grammar -----------------------------------------------------------------------

export interface SyntheticSample {
  comm: string;
  pid: string;
  cpu: string | null;
  time: string | null;
  period: string | null;
  event: string;
  frames: { addr: string; sym: string; module: string; indent: string }[];
  trailer: string;
}

/** Pieces that perf prints, and pieces it never prints, in the places they go. */
const commPiece = fc.constantFrom(
  'bash',
  'Web Content',
  'a',
  '123',
  'x:y',
  ':-1',
  'kworker/0:1',
  '\u00ff\u00fe',
  'café',
  '[ok]',
  '',
  '\u001b[2J',
  '<b>',
  '\u202e',
);
const symPiece = fc.constantFrom(
  '[unknown]',
  'main',
  'entry_SYSCALL_64_after_hwframe+0x63',
  'std::function<void ()>::operator()',
  'Interpreter',
  'LazyCompile:~a /x.js:1',
  'sym (with) parens',
  '',
  '0x1',
  '\u001b]0;t\u0007',
  '<img src=x onerror=alert(1)>',
);
const modulePiece = fc.constantFrom(
  '[kernel.kallsyms]',
  '/usr/lib/x86_64-linux-gnu/libc.so.6',
  '[unknown]',
  'inlined',
  '/tmp/perf-123.map',
  'vmlinux-6.1',
  'ext4.ko',
  '',
  '/a b/(c)',
);
const digits = fc.oneof(
  fc.nat({ max: 99999 }).map(String),
  fc.constantFrom('0', '-1', '4294967296', '18446744073709551615', '9'.repeat(30), '9'.repeat(320)),
);
const timeArb = fc.oneof(
  fc
    .tuple(fc.nat({ max: 999999 }), fc.nat({ max: 999999 }))
    .map(([s, u]) => `${s}.${String(u).padStart(6, '0')}`),
  fc.constantFrom('1.0', '0.000000001', `${'9'.repeat(330)}.5`, '1.0000000000000000000000005'),
);
const eventArb = fc.constantFrom(
  'cpu-clock:pppH',
  'cycles:u',
  'sched:sched_switch',
  'page-faults',
  'cpu-clock',
  'x',
);

export const sampleArb: fc.Arbitrary<SyntheticSample> = fc.record({
  comm: fc.array(commPiece, { minLength: 0, maxLength: 3 }).map((a) => a.join(' ')),
  pid: fc.oneof(
    digits,
    fc.tuple(digits, digits).map(([a, b]) => `${a}/${b}`),
  ),
  cpu: fc.option(fc.nat({ max: 512 }).map((c) => `[${String(c).padStart(3, '0')}]`)),
  time: fc.option(timeArb),
  period: fc.option(digits),
  event: eventArb,
  frames: fc.array(
    fc.record({
      addr: fc.oneof(
        fc.constantFrom('ffffffff81000000', '7f00deadbeef', '0', ''),
        fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 18 }),
      ),
      sym: fc.array(symPiece, { minLength: 1, maxLength: 2 }).map((a) => a.join('')),
      module: modulePiece,
      indent: fc.constantFrom('\t', '        ', '', '\t\t'),
    }),
    { maxLength: 12 },
  ),
  trailer: fc.constantFrom('\n', '', '\n\n', '\r\n', ' \n'),
});

export function perfScriptText(samples: SyntheticSample[]): Uint8Array {
  const out: string[] = [];
  for (const s of samples) {
    const fields = [s.comm, s.pid, s.cpu, s.time === null ? null : `${s.time}:`, s.period, `${s.event}:`];
    out.push(`${fields.filter((f) => f !== null).join(' ')}\n`);
    for (const f of s.frames) out.push(`${f.indent}${f.addr} ${f.sym} (${f.module})\n`);
    out.push(s.trailer);
  }
  return Buffer.from(out.join(''), 'latin1');
}

// ---- folded grammar ----------------------------------------------------------------------------

export interface SyntheticFoldedLine {
  frames: string[];
  count: string;
  sep: string;
}

const foldedFrame = fc.oneof(
  symPiece,
  fc.constantFrom('java-123/456', 'a-?', 'sh--1', 'f_[k]', 'g_[j]', 'h_[i]', '_[k]', ' ', 'x y', '\u00ff'),
);
export const foldedLineArb: fc.Arbitrary<SyntheticFoldedLine> = fc.record({
  frames: fc.array(foldedFrame, { minLength: 0, maxLength: 10 }),
  count: fc.oneof(digits, fc.constantFrom('', '1.5', '-3', '0x10', '1e9')),
  sep: fc.constantFrom(' ', '\t', '  ', ';'),
});

export function foldedText(lines: SyntheticFoldedLine[]): Uint8Array {
  return Buffer.from(lines.map((l) => `${l.frames.join(';')}${l.sep}${l.count}\n`).join(''), 'latin1');
}

// ---- pprof grammar -----------------------------------------------------------------------------

export interface SyntheticPprof {
  strings: string[];
  sampleTypes: [number, number][];
  samples: { locs: number[]; values: number[]; labels: [number, number, number][] }[];
  locations: { id: number; mapping: number; address: number; functions: number[] }[];
  functions: { id: number; name: number }[];
  mappings: { id: number; file: number }[];
  defaultSampleType: number;
  comments: number[];
  duration: number;
}

/** Indexes and ids stay small so they collide with real entries, with some out of range. */
const small = fc.integer({ min: 0, max: 12 });
/** pprof-format drops an all-zero submessage when measuring but still writes it: keep one field non-zero. */
const nonZero = fc.integer({ min: 1, max: 12 });
const value = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(2 ** 31, 2 ** 40, 5_000_001));

export const pprofArb: fc.Arbitrary<SyntheticPprof> = fc.record({
  strings: fc.array(
    fc.oneof(
      fc.constantFrom(
        'samples',
        'count',
        'cpu',
        'nanoseconds',
        'comm',
        'pid',
        'tid',
        'cgroup',
        'container',
        'pod',
      ),
      fc.constantFrom(
        'namespace',
        'host',
        '[kernel.kallsyms]',
        'f_[k]',
        'crosstalk: event=cpu-clock',
        'inlined',
      ),
      fc.string({ maxLength: 12 }),
    ),
    { maxLength: 14 },
  ),
  sampleTypes: fc.array(fc.tuple(nonZero, small), { maxLength: 3 }),
  samples: fc.array(
    fc.record({
      locs: fc.array(small, { maxLength: 6 }),
      values: fc.array(value, { minLength: 1, maxLength: 3 }),
      labels: fc.array(fc.tuple(nonZero, small, fc.integer({ min: 0, max: 99999 })), { maxLength: 3 }),
    }),
    { maxLength: 8 },
  ),
  locations: fc.array(
    fc.record({
      id: nonZero,
      mapping: small,
      address: fc.oneof(fc.nat(), fc.constant(2 ** 52)),
      functions: fc.array(nonZero, { maxLength: 3 }),
    }),
    { maxLength: 6 },
  ),
  functions: fc.array(fc.record({ id: nonZero, name: small }), { maxLength: 6 }),
  mappings: fc.array(fc.record({ id: nonZero, file: small }), { maxLength: 3 }),
  defaultSampleType: small,
  comments: fc.array(small, { maxLength: 2 }),
  duration: fc.oneof(fc.constant(0), fc.nat()),
});

/** Encodes a synthetic pprof. Negative indexes are encoded as the varints protobuf would write. */
export function pprofBytes(s: SyntheticPprof): Uint8Array {
  const strings = new StringTable();
  for (const x of s.strings) strings.dedup(x);
  return new PprofProfile({
    sampleType: s.sampleTypes.map(([type, unit]) => new ValueType({ type, unit })),
    sample: s.samples.map(
      (x) =>
        new Sample({
          locationId: x.locs,
          value: x.values,
          label: x.labels.map(([key, str, num]) =>
            str % 2 === 0 ? new Label({ key, str }) : new Label({ key, num }),
          ),
        }),
    ),
    location: s.locations.map(
      (l) =>
        new Location({
          id: l.id,
          mappingId: l.mapping,
          address: l.address,
          line: l.functions.map((functionId) => new Line({ functionId })),
        }),
    ),
    function: s.functions.map((f) => new PprofFunction({ id: f.id, name: f.name })),
    mapping: s.mappings.map((m) => new Mapping({ id: m.id, filename: m.file })),
    stringTable: strings,
    defaultSampleType: s.defaultSampleType,
    comment: s.comments,
    durationNanos: s.duration,
  }).encode();
}
