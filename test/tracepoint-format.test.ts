/**
 * Tracepoint formats from perf.data's tracing data, and sched_switch's prev_state rule read from
 * the format's own print fmt. The format text is the one kernel 6.1 (x86_64) writes; the second
 * print fmt is kernel 4.9's (TASK_STATE_MAX 1024, "R" and flags in another order).
 */
import { describe, expect, it } from 'vitest';
import {
  evalConst,
  parseEventFormat,
  parseTracingData,
  readField,
  switchFormatOf,
  switchStateOf,
} from '../src/formats/perf-data/tracepoint-format.ts';
import { SwitchState } from '../src/model/profile.ts';

const MASK =
  '((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)';
const FORMAT_6_1 = `name: sched_switch
ID: 372
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;

print fmt: "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ${MASK}) ? __print_flags(REC->prev_state & ${MASK}, "|", { 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, "T" }, { 0x00000008, "t" }, { 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, { 0x00000080, "I" }) : "R", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio
`;

/** A HEADER_TRACING_DATA section as perf 6.1 writes it, holding `formats` of system `sched`. */
function tracingData(formats: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x17, 0x08, 0x44]), Buffer.from('tracing0.6\0'), Buffer.from([0, 8])];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };
  parts.push(u32(4096));
  for (const name of ['header_page', 'header_event'])
    parts.push(Buffer.from(`${name}\0`), u64(3), Buffer.from('abc'));
  parts.push(u32(1), u64(2), Buffer.from('xy')); // one ftrace format
  parts.push(u32(1), Buffer.from('sched\0'), u32(formats.length));
  for (const f of formats) parts.push(u64(Buffer.byteLength(f)), Buffer.from(f));
  parts.push(u32(0)); // kallsyms
  return Buffer.concat(parts);
}

describe('tracepoint formats', () => {
  it('reads field places, id and print fmt of a format file', () => {
    const f = parseEventFormat('sched', FORMAT_6_1);
    expect(f?.id).toBe(372);
    expect(f?.fields.get('prev_comm')).toEqual({ offset: 8, size: 16, signed: false });
    expect(f?.fields.get('prev_state')).toEqual({ offset: 32, size: 8, signed: true });
    expect(f?.fields.get('next_pid')).toEqual({ offset: 56, size: 4, signed: true });
  });

  it('walks a tracing data section to its event formats, and says why a broken one cannot be read', () => {
    const all = parseTracingData(tracingData([FORMAT_6_1]));
    expect(typeof all).not.toBe('string');
    expect((all as { name: string }[]).map((e) => e.name)).toEqual(['sched_switch']);
    const cut = tracingData([FORMAT_6_1]);
    expect(parseTracingData(cut.subarray(0, cut.length - 200))).toMatch(/cut/);
    expect(parseTracingData(Buffer.from('not tracing data'))).toMatch(/magic/);
  });

  it('never throws on corrupted tracing data (the file is untrusted)', () => {
    const good = tracingData([FORMAT_6_1]);
    let seed = 4242;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let k = 0; k < 500; k++) {
      const bad = Buffer.from(good.subarray(0, 1 + rand(good.length)));
      for (let j = 0; j < 4; j++) bad[rand(bad.length)] = rand(256);
      const r = parseTracingData(bad);
      if (typeof r !== 'string') switchFormatOf(r);
    }
  });

  it('evaluates the constant masks of print fmts', () => {
    expect(evalConst(MASK)).toBe(0xff);
    expect(evalConst('(1024-1)')).toBe(1023);
    expect(evalConst('1 << 31 | 1')).toBe(2 ** 31 + 1);
    expect(evalConst('REC->x + 1')).toBeNull();
    expect(evalConst('(1')).toBeNull();
    // A forged print fmt nested deeper than any kernel's is refused, not a stack overflow.
    expect(evalConst(`${'('.repeat(100_000)}1${')'.repeat(100_000)}`)).toBeNull();
  });

  it('gives prev_state as perf script prints its first letter', () => {
    const sw = switchFormatOf([parseEventFormat('sched', FORMAT_6_1)!]);
    if (typeof sw === 'string') throw new Error(sw);
    expect(sw.mask).toBe(0xff);
    expect(switchStateOf(sw, 0)).toBe(SwitchState.runnable); // "R"
    expect(switchStateOf(sw, 0x100)).toBe(SwitchState.runnable); // "R+" (preempted; bit above the mask)
    expect(switchStateOf(sw, 1)).toBe(SwitchState.sleeping); // "S"
    expect(switchStateOf(sw, 2)).toBe(SwitchState.uninterruptible); // "D"
    expect(switchStateOf(sw, 3)).toBe(SwitchState.sleeping); // "S|D": the first listed flag
    expect(switchStateOf(sw, 0x80)).toBe(SwitchState.other); // "I"
    expect(switchStateOf(sw, 0x402)).toBe(SwitchState.uninterruptible);
  });

  it('follows another kernel’s print fmt from its own constants', () => {
    const old = FORMAT_6_1.replace(
      /print fmt: .*/,
      () =>
        'print fmt: "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", REC->prev_comm, REC->prev_pid, REC->prev_prio, REC->prev_state & (1024-1) ? __print_flags(REC->prev_state & (1024-1), "|", { 1, "S"} , { 2, "D" }, { 4, "T" }, { 8, "t" }, { 16, "Z" }, { 32, "X" }, { 64, "x" }, { 128, "K" }, { 256, "W" }, { 512, "P" }, { 1024, "N" }) : "R", REC->prev_state & 1024 ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio',
    );
    const sw = switchFormatOf([parseEventFormat('sched', old)!]);
    if (typeof sw === 'string') throw new Error(sw);
    expect(sw.mask).toBe(1023);
    expect(switchStateOf(sw, 1024)).toBe(SwitchState.runnable);
    expect(switchStateOf(sw, 2)).toBe(SwitchState.uninterruptible);
  });

  it('refuses formats it cannot follow, with the reason', () => {
    expect(switchFormatOf([])).toMatch(/no sched_switch format/);
    const noState = FORMAT_6_1.replace(/.*prev_state;.*\n/, '');
    expect(switchFormatOf([parseEventFormat('sched', noState)!])).toMatch(/no prev_state/);
    const plain = FORMAT_6_1.replace(/__print_flags\(/g, 'other(');
    expect(switchFormatOf([parseEventFormat('sched', plain)!])).toMatch(/without __print_flags/);
  });

  it('reads payload fields at the format’s offsets', () => {
    const payload = new DataView(new ArrayBuffer(64));
    payload.setInt32(56, 4242, true);
    payload.setUint32(32, 2, true);
    const sw = switchFormatOf([parseEventFormat('sched', FORMAT_6_1)!]);
    if (typeof sw === 'string') throw new Error(sw);
    expect(readField(payload, 0, sw.nextPid)).toBe(4242);
    expect(switchStateOf(sw, readField(payload, 0, sw.prevState))).toBe(SwitchState.uninterruptible);
  });
});
