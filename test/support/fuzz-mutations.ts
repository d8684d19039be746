/**
 * Byte-level mutations of importer inputs, for the fuzz tests and the soak script. Each mutation
 * is a small JSON-printable object (fast-check generates and shrinks them), applied to a copy of
 * the input, so a failing case is reproduced from its seed or from the printed counterexample.
 */
import { gzipSync } from 'node:zlib';

/** Where a cut falls: anywhere, or at a kind of boundary the importers treat differently. */
export type Boundary =
  | 'anywhere'
  | 'line-start'
  | 'before-newline'
  | 'mid-line'
  | 'after-blank-line'
  | 'in-header'
  | 'in-frame'
  | 'in-indent'
  | 'field-boundary'
  | 'inside-field';

export const TEXT_BOUNDARIES: readonly Boundary[] = [
  'anywhere',
  'line-start',
  'before-newline',
  'mid-line',
  'after-blank-line',
  'in-header',
  'in-frame',
  'in-indent',
];
export const BINARY_BOUNDARIES: readonly Boundary[] = ['anywhere', 'field-boundary', 'inside-field'];

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; token: number }
  | { op: 'cut'; boundary: Boundary; pick: number }
  | { op: 'dupLine'; line: number; times: number }
  | { op: 'dropLine'; line: number }
  | { op: 'swapLines'; a: number; b: number }
  | { op: 'hugeLine'; line: number; size: number; fill: number }
  | { op: 'nul'; at: number; count: number }
  | { op: 'crlf'; all: boolean; line: number }
  | { op: 'invalidUtf8'; at: number; seq: number }
  | { op: 'dupRange'; at: number; len: number };

/** How the mutated bytes are stored: as they are, gzipped, or gzipped and then cut. */
export type Wrapping = { gz: 'none' } | { gz: 'whole' } | { gz: 'cut'; keep: number };

const enc = (s: string) => Array.from(Buffer.from(s, 'latin1'));

/** Tokens that sit on the importers' decision points (numbers, separators, escapes). */
export const TOKENS: readonly number[][] = [
  enc(' '),
  enc('\t'),
  enc(':'),
  enc(';'),
  enc('/'),
  enc('['),
  enc(']'),
  enc('('),
  enc(')'),
  enc('#'),
  enc('-'),
  enc('\n'),
  enc('\n\n'),
  enc('\r'),
  enc(' 123 '),
  enc(' -1 '),
  enc('9'.repeat(25)),
  enc('9'.repeat(400)),
  enc(' 1.000000: '),
  enc(' [000] '),
  enc(' 250000 cpu-clock:pppH: '),
  enc(' sched:sched_switch: '),
  enc('\tffffffff81000000 sym+0x10 ([kernel.kallsyms])\n'),
  enc(' (inlined)'),
  enc('[unknown]'),
  enc('_[k]'),
  enc(' 18446744073709551615 '),
  enc('\u001b[2J'),
  enc('\u001b]0;title\u0007'),
  Array.from(Buffer.from('\u202e<script>alert(1)</script>', 'utf8')),
  enc('# cmdline : /usr/bin/perf record -g --call-graph dwarf\n'),
  enc('PERFILE2'),
  [0x1f, 0x8b],
  [0x08, 0x96, 0x01],
  [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
];

/** Invalid UTF-8: stray continuation, overlong, surrogate, beyond U+10FFFF, cut sequences. */
export const INVALID_UTF8: readonly number[][] = [
  [0x80],
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xfe, 0xfe, 0xff, 0xff],
];

export interface MutatedInput {
  /** What the importer reads (gzipped when wrapped). */
  file: Uint8Array;
  /** The content before gzip: what the importer sees after decompression. */
  content: Uint8Array;
  /** A gzip wrapping lost bytes at its end. */
  gzipCut: boolean;
  /** Every mutation was a cut (the rest of the content is original). */
  onlyCuts: boolean;
}

export function mutate(base: Uint8Array, muts: readonly Mutation[], wrap: Wrapping): MutatedInput {
  let b = base;
  for (const m of muts) b = applyMutation(b, m);
  const onlyCuts = muts.length > 0 && muts.every((m) => m.op === 'cut');
  if (wrap.gz === 'none') return { file: b, content: b, gzipCut: false, onlyCuts };
  const gz = new Uint8Array(gzipSync(b));
  if (wrap.gz === 'whole') return { file: gz, content: b, gzipCut: false, onlyCuts };
  const keep = wrap.keep % gz.length;
  return { file: gz.subarray(0, keep), content: b, gzipCut: true, onlyCuts };
}

export function applyMutation(b: Uint8Array, m: Mutation): Uint8Array {
  switch (m.op) {
    case 'flip': {
      if (b.length === 0) return b;
      const out = new Uint8Array(b);
      out[m.at % b.length] ^= 1 << (m.bit & 7);
      return out;
    }
    case 'set': {
      if (b.length === 0) return b;
      const out = new Uint8Array(b);
      out[m.at % b.length] = m.value & 0xff;
      return out;
    }
    case 'insert':
      return insertAt(b, m.at % (b.length + 1), TOKENS[m.token % TOKENS.length]);
    case 'invalidUtf8':
      return insertAt(b, m.at % (b.length + 1), INVALID_UTF8[m.seq % INVALID_UTF8.length]);
    case 'nul':
      return insertAt(b, m.at % (b.length + 1), new Array(1 + (m.count % 64)).fill(0));
    case 'cut':
      return b.subarray(0, cutPoint(b, m.boundary, m.pick));
    case 'dupRange': {
      if (b.length === 0) return b;
      const at = m.at % b.length;
      const piece = b.subarray(at, Math.min(b.length, at + 1 + (m.len % 4096)));
      return insertAt(b, at, Array.from(piece));
    }
    default:
      return applyLineMutation(b, m);
  }
}

function applyLineMutation(b: Uint8Array, m: Mutation): Uint8Array {
  const lines = splitLines(b);
  if (lines.length === 0) return b;
  switch (m.op) {
    case 'dupLine': {
      const i = m.line % lines.length;
      lines.splice(i, 0, ...new Array(m.times % 8).fill(lines[i]));
      break;
    }
    case 'dropLine':
      lines.splice(m.line % lines.length, 1);
      break;
    case 'swapLines': {
      const i = m.a % lines.length;
      const j = m.b % lines.length;
      [lines[i], lines[j]] = [lines[j], lines[i]];
      break;
    }
    case 'hugeLine': {
      const fill = HUGE_FILLS[m.fill % HUGE_FILLS.length];
      const line = Buffer.alloc(m.size, fill);
      lines.splice(m.line % (lines.length + 1), 0, new Uint8Array(line));
      break;
    }
    case 'crlf':
      for (let i = 0; i < lines.length; i++) {
        if (m.all || i === m.line % lines.length) lines[i] = withCr(lines[i]);
      }
      break;
    default:
      return b;
  }
  return joinLines(lines, b.length > 0 && b[b.length - 1] === 0x0a);
}

/** Fill patterns for huge lines: a word, a frame-like line, digits, separators, tabs. */
const HUGE_FILLS: readonly string[] = ['a', '\tffff a', '9', 'a;', ' ', '\t', 'x 1 ', '\u00e9'];

function withCr(line: Uint8Array): Uint8Array {
  const out = new Uint8Array(line.length + 1);
  out.set(line);
  out[line.length] = 0x0d;
  return out;
}

/** Lines without their `\n`; a last line without one is kept as it is. */
export function splitLines(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < b.length) {
    const nl = b.indexOf(0x0a, pos);
    if (nl === -1) {
      out.push(b.subarray(pos));
      break;
    }
    out.push(b.subarray(pos, nl));
    pos = nl + 1;
  }
  return out;
}

function joinLines(lines: Uint8Array[], finalNewline: boolean): Uint8Array {
  let n = 0;
  for (const l of lines) n += l.length + 1;
  const out = new Uint8Array(n);
  let p = 0;
  for (const l of lines) {
    out.set(l, p);
    p += l.length;
    out[p++] = 0x0a;
  }
  return finalNewline ? out : out.subarray(0, Math.max(0, n - 1));
}

function insertAt(b: Uint8Array, at: number, bytes: readonly number[] | Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length + bytes.length);
  out.set(b.subarray(0, at), 0);
  out.set(bytes, at);
  out.set(b.subarray(at), at + bytes.length);
  return out;
}

/** A cut offset of the requested kind; `anywhere` when the input has no such place. */
export function cutPoint(b: Uint8Array, boundary: Boundary, pick: number): number {
  const candidates = cutCandidates(b, boundary);
  if (candidates.length === 0) return pick % (b.length + 1);
  return candidates[pick % candidates.length];
}

function cutCandidates(b: Uint8Array, boundary: Boundary): number[] {
  if (boundary === 'anywhere') return [];
  if (boundary === 'field-boundary' || boundary === 'inside-field') {
    const { boundaries, insides } = protobufFieldOffsets(b);
    return boundary === 'field-boundary' ? boundaries : insides;
  }
  const out: number[] = [];
  let start = 0;
  let prevBlank = false;
  while (start < b.length) {
    let nl = b.indexOf(0x0a, start);
    if (nl === -1) nl = b.length;
    const blank = nl === start;
    const indented = b[start] === 0x09 || b[start] === 0x20;
    if (boundary === 'line-start') out.push(start);
    else if (boundary === 'before-newline' && nl > start) out.push(nl);
    else if (boundary === 'mid-line' && nl - start > 1) out.push(start + 1 + ((nl - start) >> 1));
    else if (boundary === 'after-blank-line' && prevBlank && !blank) out.push(start);
    else if (boundary === 'in-header' && !blank && !indented && nl - start > 2) out.push(start + 2);
    else if (boundary === 'in-frame' && indented && nl - start > 8) out.push(nl - 3);
    else if (boundary === 'in-indent' && indented) out.push(start + 1);
    prevBlank = blank;
    start = nl + 1;
  }
  return out;
}

/**
 * Offsets between top-level protobuf fields (a cut there is a smaller, valid message) and offsets
 * strictly inside one (a cut there must be refused). The walk stops at the first field that does
 * not parse, so mutated inputs give what they can.
 */
export function protobufFieldOffsets(b: Uint8Array): { boundaries: number[]; insides: number[] } {
  const boundaries: number[] = [];
  const insides: number[] = [];
  let pos = 0;
  while (pos < b.length) {
    const tag = varint(b, pos);
    if (tag === null) break;
    const wire = tag.value % 8;
    let end: number;
    if (wire === 0) {
      const v = varint(b, tag.next);
      if (v === null) break;
      end = v.next;
    } else if (wire === 2) {
      const len = varint(b, tag.next);
      if (len === null) break;
      end = len.next + len.value;
    } else if (wire === 1) end = tag.next + 8;
    else if (wire === 5) end = tag.next + 4;
    else break;
    if (end > b.length) break;
    if (end - pos > 1) insides.push(pos + 1 + ((end - pos - 1) >> 1));
    pos = end;
    boundaries.push(pos);
  }
  return { boundaries, insides };
}

function varint(b: Uint8Array, at: number): { value: number; next: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = at; i < b.length && i < at + 10; i++) {
    value += (b[i] & 0x7f) * scale;
    scale *= 128;
    if ((b[i] & 0x80) === 0) return { value, next: i + 1 };
  }
  return null;
}

/** Whether `cut` bytes of `whole` end exactly on a top-level field boundary (or at 0 / the end). */
export function isFieldBoundary(whole: Uint8Array, cut: number): boolean {
  if (cut === 0 || cut === whole.length) return true;
  return protobufFieldOffsets(whole).boundaries.includes(cut);
}
