/**
 * Tracepoint formats from a perf.data's HEADER_TRACING_DATA feature section, and the decoding of
 * sched:sched_switch payloads (PERF_SAMPLE_RAW) laid out by them. Section layout from perf 6.1
 * (tag 830b3c68c1fb) tools/perf/util/trace-event-info.c (writer) and trace-event-read.c (reader):
 *
 *   "\x17\x08\x44tracing"  version "0.6\0"  u8 big_endian  u8 long_size  u32 page_size
 *   "header_page\0" u64 size, text     "header_event\0" u64 size, text
 *   u32 count, { u64 size, text }[count]                          ftrace formats
 *   u32 systems, { system "\0", u32 count, { u64 size, text }[count] }[systems]   event formats
 *   (then kallsyms, printk formats and saved cmdlines, not read here)
 *
 * An event format is the tracefs `format` file, e.g. (kernel 6.1, x86_64):
 *   name: sched_switch
 *   ID: 372
 *   format:
 *   	field:char prev_comm[16];	offset:8;	size:16;	signed:0;
 *   	field:pid_t prev_pid;	offset:24;	size:4;	signed:1;
 *   	field:long prev_state;	offset:32;	size:8;	signed:1;
 *   	field:pid_t next_pid;	offset:56;	size:4;	signed:1;
 *   print fmt: "... prev_state=%s%s ==> ...", ..., (REC->prev_state & ((((0x00000000 | 0x00000001 |
 *     ... | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & (...), "|",
 *     { 0x00000001, "S" }, { 0x00000002, "D" }, ..., { 0x00000080, "I" }) : "R", ...
 * perf script prints prev_state through that print fmt (libtraceevent: the first listed flag whose
 * bits are all set comes first; "R" when no masked bit is set); crosstalk keeps only its first
 * letter (the perf script parser's SwitchState), so the decoder evaluates the same rule.
 */
import type { FileHandle } from 'node:fs/promises';
import { SwitchState, switchStateOfLetter } from '../../model/profile.ts';
import { readAt } from './file-header.ts';
import { u64 } from './sample-layout.ts';

const MAGIC = Buffer.from([0x17, 0x08, 0x44, ...Buffer.from('tracing')]);
/** The event formats come before kallsyms; a section larger than this is not read (formats are ~1 MB at most). */
const MAX_FORMATS_BYTES = 64 << 20;

/** Kernel masks are ~150 characters; nesting in a longer, forged one could exhaust the stack. */
const MAX_EXPR_CHARS = 2048;

export interface TracepointField {
  offset: number;
  size: number;
  signed: boolean;
}

export interface EventFormat {
  system: string;
  name: string;
  id: number;
  fields: Map<string, TracepointField>;
  printFmt: string;
}

/** How to read one sched_switch payload: field places and the prev_state letter rule. */
export interface SwitchFormat {
  id: number;
  prevState: TracepointField;
  nextPid: TracepointField;
  /** Bits of prev_state that print as flags; none set prints `runnable`. */
  mask: number;
  /** Flags in print order: the first whose bits are all set gives the state. */
  flags: { value: number; state: number }[];
  /** State when the masked value is 0 (print fmt's `: "R"`). */
  zeroState: number;
}

/** Every event format in a HEADER_TRACING_DATA section, or a reason it cannot be read. */
export function parseTracingData(buf: Buffer): EventFormat[] | string {
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC))
    return 'the tracing data does not start with its magic';
  let at = MAGIC.length;
  const nul = buf.indexOf(0, at);
  if (nul === -1 || nul - at > 16) return 'the tracing data has no version';
  at = nul + 1;
  if (at + 6 > buf.length) return 'the tracing data is cut';
  if (buf[at] !== 0) return 'big-endian tracing data is not decoded natively';
  at += 6;
  for (const name of ['header_page', 'header_event']) {
    const end = at + name.length + 1;
    if (end + 8 > buf.length || buf.toString('latin1', at, end - 1) !== name)
      return `no ${name} in the tracing data`;
    at = end + 8 + u64(view(buf), end);
  }
  const v = view(buf);
  const skipFiles = (): number | null => {
    if (at + 4 > buf.length) return null;
    const n = v.getUint32(at, true);
    at += 4;
    for (let i = 0; i < n; i++) {
      if (at + 8 > buf.length) return null;
      at += 8 + u64(v, at);
    }
    return at <= buf.length ? n : null;
  };
  if (skipFiles() === null) return 'the tracing data is cut in its ftrace formats';
  if (at + 4 > buf.length) return 'the tracing data has no event formats';
  const systems = v.getUint32(at, true);
  at += 4;
  const out: EventFormat[] = [];
  for (let s = 0; s < systems; s++) {
    const end = buf.indexOf(0, at);
    if (end === -1 || end + 4 > buf.length) return 'the tracing data is cut in its event formats';
    const system = buf.toString('utf8', at, end);
    const n = v.getUint32(end + 1, true);
    at = end + 5;
    for (let i = 0; i < n; i++) {
      if (at + 8 > buf.length) return 'the tracing data is cut in its event formats';
      const size = u64(v, at);
      if (at + 8 + size > buf.length) return 'the tracing data is cut in its event formats';
      const f = parseEventFormat(system, buf.toString('utf8', at + 8, at + 8 + size));
      if (f !== null) out.push(f);
      at += 8 + size;
    }
  }
  return out;
}

function view(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

const FIELD = /^\s*field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;

/** One tracefs `format` text, or null when it has no name or ID. */
export function parseEventFormat(system: string, text: string): EventFormat | null {
  const name = /^name: (\S+)$/m.exec(text)?.[1];
  const id = /^ID: (\d+)$/m.exec(text)?.[1];
  if (name === undefined || id === undefined) return null;
  const fields = new Map<string, TracepointField>();
  for (const line of text.split('\n')) {
    const m = FIELD.exec(line);
    if (m === null) continue;
    // `char prev_comm[16]`, `pid_t prev_pid`, `__data_loc char[] name`: the name is the last word.
    const decl = m[1].replace(/\[[^\]]*\]\s*$/, '');
    const fieldName = /(\w+)\s*$/.exec(decl)?.[1];
    if (fieldName !== undefined)
      fields.set(fieldName, { offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1' });
  }
  const printFmt = /^print fmt: (.*)$/m.exec(text)?.[1] ?? '';
  return { system, name, id: Number(id), fields, printFmt };
}

/** The sched_switch reading rule from its format, or why there is none. */
export function switchFormatOf(formats: EventFormat[]): SwitchFormat | string {
  const f = formats.find((e) => e.system === 'sched' && e.name === 'sched_switch');
  if (f === undefined) return 'the tracing data has no sched_switch format';
  const prevState = f.fields.get('prev_state');
  const nextPid = f.fields.get('next_pid');
  if (prevState === undefined || nextPid === undefined)
    return 'the sched_switch format has no prev_state or next_pid field';
  if (![1, 2, 4, 8].includes(prevState.size) || nextPid.size !== 4)
    return 'the sched_switch format has fields of unexpected sizes';
  const rule = stateRule(f.printFmt);
  if (typeof rule === 'string') return `the sched_switch print fmt ${rule}`;
  return { id: f.id, prevState, nextPid, ...rule };
}

/**
 * The prev_state rule of a print fmt shaped `(REC->prev_state & (MASK)) ? __print_flags(REC->prev_state
 * & (MASK), "|", { V, "S" }, ...) : "R"` (kernels since 4.14), evaluated from its own constants.
 */
function stateRule(fmt: string): Omit<SwitchFormat, 'id' | 'prevState' | 'nextPid'> | string {
  const start = fmt.indexOf('__print_flags(REC->prev_state & ');
  if (start === -1) return 'prints prev_state without __print_flags';
  const exprAt = start + '__print_flags(REC->prev_state & '.length;
  const exprEnd = balancedEnd(fmt, exprAt);
  if (exprEnd === -1) return 'has an unbalanced prev_state mask';
  const mask = evalConst(fmt.slice(exprAt, exprEnd));
  if (mask === null || mask <= 0 || mask > 0xffffffff) return 'has a prev_state mask that is not a constant';
  const flagsEnd = balancedEnd(fmt, start + '__print_flags('.length, false);
  if (flagsEnd === -1) return 'has an unbalanced __print_flags';
  const flags: { value: number; state: number }[] = [];
  for (const m of fmt.slice(exprEnd, flagsEnd).matchAll(/\{\s*(0x[0-9a-fA-F]+|\d+)\s*,\s*"([^"]*)"\s*\}/g))
    flags.push({ value: Number(m[1]), state: switchStateOfLetter(m[2]) });
  const zero = /^\)\s*:\s*"([^"]*)"/.exec(fmt.slice(flagsEnd));
  if (flags.length === 0 || zero === null) return 'has no prev_state flags or no text for state 0';
  return { mask, flags, zeroState: switchStateOfLetter(zero[1]) };
}

/** Index of the `)` (or `,` when `comma`) that ends the expression starting at `at` (depth 0), or -1. */
function balancedEnd(s: string, at: number, comma = true): number {
  let depth = 0;
  for (let i = at; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') {
      if (depth === 0) return i;
      depth--;
    } else if (comma && c === ',' && depth === 0) return i;
  }
  return -1;
}

/** Integer constant expression with ( ) | & + - << >> and hex/decimal numbers, or null. */
export function evalConst(expr: string): number | null {
  // The print fmt is the file's: a bounded length keeps the recursion below shallow.
  if (expr.length > MAX_EXPR_CHARS) return null;
  const tokens = expr.match(/0x[0-9a-fA-F]+|\d+|<<|>>|[()|&+-]|\S/g) ?? [];
  let i = 0;
  const prec: Record<string, number> = { '|': 1, '&': 2, '<<': 3, '>>': 3, '+': 4, '-': 4 };
  const primary = (): number | null => {
    const t = tokens[i++];
    if (t === undefined) return null;
    if (t === '(') {
      const v = binary(0);
      return tokens[i++] === ')' ? v : null;
    }
    return /^(0x[0-9a-fA-F]+|\d+)$/.test(t) ? Number(t) : null;
  };
  const binary = (min: number): number | null => {
    let left = primary();
    while (left !== null && i < tokens.length && (prec[tokens[i]] ?? 0) > min) {
      const op = tokens[i++];
      const right = binary(prec[op]);
      if (right === null) return null;
      left = apply(op, left, right);
    }
    return left;
  };
  const v = binary(0);
  return i === tokens.length && v !== null && Number.isSafeInteger(v) ? v : null;
}

function apply(op: string, a: number, b: number): number {
  // BigInt: masks can use bit 31, where JS's 32-bit operators would turn negative.
  const x = BigInt(a);
  const y = BigInt(b);
  const r =
    op === '|'
      ? x | y
      : op === '&'
        ? x & y
        : op === '<<'
          ? x << y
          : op === '>>'
            ? x >> y
            : op === '+'
              ? x + y
              : x - y;
  return Number(r);
}

/** Reads the event formats of the section at (offset, size), or says why not. */
export async function readTracingFormats(
  fh: FileHandle,
  section: { offset: number; size: number },
): Promise<EventFormat[] | string> {
  if (section.size > MAX_FORMATS_BYTES) return 'the tracing data section is larger than expected';
  return parseTracingData(await readAt(fh, section.offset, section.size));
}

/** prev_state's SwitchState under the format's rule (low 32 bits; the mask is checked to fit). */
export function switchStateOf(f: SwitchFormat, raw: number): number {
  const v = (raw & f.mask) >>> 0;
  if (v === 0) return f.zeroState;
  for (const flag of f.flags)
    if (flag.value !== 0 && (v & flag.value) >>> 0 === flag.value) return flag.state;
  return SwitchState.other; // printed as a hex number by libtraceevent
}

/** A field of a raw payload (data after the u32 size), as a signed or unsigned integer of its size. */
export function readField(v: DataView, at: number, f: TracepointField): number {
  const p = at + f.offset;
  switch (f.size) {
    case 1:
      return f.signed ? v.getInt8(p) : v.getUint8(p);
    case 2:
      return f.signed ? v.getInt16(p, true) : v.getUint16(p, true);
    case 4:
      return f.signed ? v.getInt32(p, true) : v.getUint32(p, true);
    default:
      return v.getUint32(p, true); // low half of a u64: enough for the masks above
  }
}
