/**
 * Where the fields crosstalk needs (sample id, tid, time, cgroup) sit inside a PERF_RECORD_SAMPLE,
 * derived from the attr that produced the sample. The kernel writes the fields in the order of
 * the `sample_type` bits, each only when its bit is set; the order and the variable-size parts
 * follow include/uapi/linux/perf_event.h at v6.1 (tag 830b3c68c1fb), comment above
 * PERF_RECORD_SAMPLE in `enum perf_event_type`:
 *
 *   { u64 id;           } && PERF_SAMPLE_IDENTIFIER
 *   { u64 ip;           } && PERF_SAMPLE_IP
 *   { u32 pid, tid;     } && PERF_SAMPLE_TID
 *   { u64 time;         } && PERF_SAMPLE_TIME
 *   { u64 addr;         } && PERF_SAMPLE_ADDR
 *   { u64 id;           } && PERF_SAMPLE_ID
 *   { u64 stream_id;    } && PERF_SAMPLE_STREAM_ID
 *   { u32 cpu, res;     } && PERF_SAMPLE_CPU
 *   { u64 period;       } && PERF_SAMPLE_PERIOD
 *   { struct read_format values; } && PERF_SAMPLE_READ
 *   { u64 nr; u64 ips[nr]; } && PERF_SAMPLE_CALLCHAIN
 *   { u32 size; char data[size]; } && PERF_SAMPLE_RAW          (size keeps the pair u64-aligned)
 *   { u64 nr; { u64 hw_idx; } && PERF_SAMPLE_BRANCH_HW_INDEX
 *     { u64 from, to, flags } lbr[nr]; } && PERF_SAMPLE_BRANCH_STACK
 *   { u64 abi; u64 regs[weight(mask)]; } && PERF_SAMPLE_REGS_USER   (no regs when abi == 0)
 *   { u64 size; char data[size]; u64 dyn_size; } && PERF_SAMPLE_STACK_USER (dyn_size iff size != 0)
 *   { union perf_sample_weight weight; } && PERF_SAMPLE_WEIGHT_TYPE
 *   { u64 data_src; } && PERF_SAMPLE_DATA_SRC
 *   { u64 transaction; } && PERF_SAMPLE_TRANSACTION
 *   { u64 abi; u64 regs[weight(mask)]; } && PERF_SAMPLE_REGS_INTR
 *   { u64 phys_addr; } && PERF_SAMPLE_PHYS_ADDR
 *   { u64 cgroup; } && PERF_SAMPLE_CGROUP
 *
 * and `struct read_format` (same header, comment above PERF_FORMAT_*):
 *   { u64 value; { u64 time_enabled; } { u64 time_running; } { u64 id; } { u64 lost; } }
 *   { u64 nr; { u64 time_enabled; } { u64 time_running; } { u64 value; { u64 id; } { u64 lost; } } cntr[nr]; }
 */

export const SampleType = {
  IP: 1 << 0,
  TID: 1 << 1,
  TIME: 1 << 2,
  ADDR: 1 << 3,
  READ: 1 << 4,
  CALLCHAIN: 1 << 5,
  ID: 1 << 6,
  CPU: 1 << 7,
  PERIOD: 1 << 8,
  STREAM_ID: 1 << 9,
  RAW: 1 << 10,
  BRANCH_STACK: 1 << 11,
  REGS_USER: 1 << 12,
  STACK_USER: 1 << 13,
  WEIGHT: 1 << 14,
  DATA_SRC: 1 << 15,
  IDENTIFIER: 1 << 16,
  TRANSACTION: 1 << 17,
  REGS_INTR: 1 << 18,
  PHYS_ADDR: 1 << 19,
  AUX: 1 << 20,
  CGROUP: 1 << 21,
  DATA_PAGE_SIZE: 1 << 22,
  CODE_PAGE_SIZE: 1 << 23,
  WEIGHT_STRUCT: 1 << 24,
} as const;

/** Names for the sample_type bits, for messages and the summary. */
const sampleTypeNames = Object.keys(SampleType);

export const ReadFormat = {
  TOTAL_TIME_ENABLED: 1,
  TOTAL_TIME_RUNNING: 2,
  ID: 4,
  GROUP: 8,
  LOST: 16,
} as const;

/** attr.branch_sample_type bits used to tell an LBR call stack and the hw_idx word. */
export const BranchSampleType = { CALL_STACK: 1 << 11, HW_INDEX: 1 << 17 } as const;

/** The attr fields that decide a sample's layout. */
export interface LayoutAttr {
  sampleType: number;
  readFormat: number;
  branchSampleType: number;
  /** Number of bits set in sample_regs_user / sample_regs_intr. */
  regsUserCount: number;
  regsIntrCount: number;
}

/** Byte offsets from the start of the record (header included); -1 when the field is absent. */
export interface SampleLayout {
  /** Offset of the u64 id that maps the sample to its attr (IDENTIFIER first, else ID). */
  id: number;
  tid: number;
  time: number;
  cpu: number;
  period: number;
  /** Offset where the variable part (READ onwards) starts. */
  variableStart: number;
  hasCgroup: boolean;
  attr: LayoutAttr;
  /** Size of the non-group read_format block; per-counter size for GROUP. */
  readValueSize: number;
  readGroupHeaderSize: number;
}

const HEADER_SIZE = 8;

export function sampleLayoutOf(attr: LayoutAttr): SampleLayout {
  const t = attr.sampleType;
  let pos = HEADER_SIZE;
  const take = (bit: number, size: number): number => {
    if ((t & bit) === 0) return -1;
    const at = pos;
    pos += size;
    return at;
  };
  const identifier = take(SampleType.IDENTIFIER, 8);
  take(SampleType.IP, 8);
  const tid = take(SampleType.TID, 8);
  const time = take(SampleType.TIME, 8);
  take(SampleType.ADDR, 8);
  const id = take(SampleType.ID, 8);
  take(SampleType.STREAM_ID, 8);
  const cpu = take(SampleType.CPU, 8);
  const period = take(SampleType.PERIOD, 8);
  const rf = attr.readFormat;
  const times =
    ((rf & ReadFormat.TOTAL_TIME_ENABLED) !== 0 ? 8 : 0) +
    ((rf & ReadFormat.TOTAL_TIME_RUNNING) !== 0 ? 8 : 0);
  const perValue = 8 + ((rf & ReadFormat.ID) !== 0 ? 8 : 0) + ((rf & ReadFormat.LOST) !== 0 ? 8 : 0);
  const group = (rf & ReadFormat.GROUP) !== 0;
  return {
    id: identifier !== -1 ? identifier : id,
    tid,
    time,
    cpu,
    period,
    variableStart: pos,
    hasCgroup: (t & SampleType.CGROUP) !== 0,
    attr,
    readValueSize: group ? perValue : perValue + times,
    readGroupHeaderSize: group ? 8 + times : -1,
  };
}

/** Reads a u64 as a number; exact below 2^53, which ids, times and sizes in practice are. */
export function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
}

/**
 * Offset of the PERF_SAMPLE_CGROUP word in the sample at `start` (record of `size` bytes), or -1
 * when the sample has no cgroup or a length field points outside the record (a corrupt sample).
 * Walks the variable-size fields between PERIOD and CGROUP in the order listed above.
 */
export function cgroupOffset(view: DataView, start: number, size: number, l: SampleLayout): number {
  if (!l.hasCgroup) return -1;
  const t = l.attr.sampleType;
  const end = start + size;
  let p = afterRead(view, start, size, l);
  if (p === -1) return -1;
  if ((t & SampleType.CALLCHAIN) !== 0) {
    if (p + 8 > end) return -1;
    p += 8 + u64(view, p) * 8;
  }
  if ((t & SampleType.RAW) !== 0) {
    if (p + 4 > end) return -1;
    p += 4 + view.getUint32(p, true);
  }
  if ((t & SampleType.BRANCH_STACK) !== 0) {
    if (p + 8 > end) return -1;
    const hwIndex = (l.attr.branchSampleType & BranchSampleType.HW_INDEX) !== 0 ? 8 : 0;
    p += 8 + hwIndex + u64(view, p) * 24;
  }
  p = skipRegs(view, p, end, t & SampleType.REGS_USER, l.attr.regsUserCount);
  if ((t & SampleType.STACK_USER) !== 0) {
    if (p + 8 > end) return -1;
    const stackSize = u64(view, p);
    p += 8 + stackSize + (stackSize !== 0 ? 8 : 0);
  }
  if ((t & (SampleType.WEIGHT | SampleType.WEIGHT_STRUCT)) !== 0) p += 8;
  if ((t & SampleType.DATA_SRC) !== 0) p += 8;
  if ((t & SampleType.TRANSACTION) !== 0) p += 8;
  p = skipRegs(view, p, end, t & SampleType.REGS_INTR, l.attr.regsIntrCount);
  if ((t & SampleType.PHYS_ADDR) !== 0) p += 8;
  return p + 8 <= end ? p : -1;
}

/** Offset of the PERF_SAMPLE_CALLCHAIN `nr` word, or -1 (absent, or a length outside the record). */
export function callchainOffset(view: DataView, start: number, size: number, l: SampleLayout): number {
  if ((l.attr.sampleType & SampleType.CALLCHAIN) === 0) return -1;
  const p = afterRead(view, start, size, l);
  return p !== -1 && p + 8 <= start + size ? p : -1;
}

/** Offset of the PERF_SAMPLE_RAW `size` word (the payload follows it), or -1 (absent or outside the record). */
export function rawOffset(view: DataView, start: number, size: number, l: SampleLayout): number {
  if ((l.attr.sampleType & SampleType.RAW) === 0) return -1;
  let p = afterRead(view, start, size, l);
  if (p === -1) return -1;
  if ((l.attr.sampleType & SampleType.CALLCHAIN) !== 0) {
    if (p + 8 > start + size) return -1;
    p += 8 + u64(view, p) * 8;
  }
  return p + 4 <= start + size && p + 4 + view.getUint32(p, true) <= start + size ? p : -1;
}

/** Offset just after the PERF_SAMPLE_READ block (where CALLCHAIN starts), or -1 when it is cut. */
function afterRead(view: DataView, start: number, size: number, l: SampleLayout): number {
  const p = start + l.variableStart;
  if ((l.attr.sampleType & SampleType.READ) === 0) return p;
  if (l.readGroupHeaderSize === -1) return p + l.readValueSize;
  if (p + 8 > start + size) return -1;
  return p + l.readGroupHeaderSize + u64(view, p) * l.readValueSize;
}

/** `{ u64 abi; u64 regs[weight(mask)]; }`: the registers are absent when abi is 0 (PERF_SAMPLE_REGS_ABI_NONE). */
function skipRegs(view: DataView, p: number, end: number, present: number, count: number): number {
  if (present === 0) return p;
  if (p + 8 > end) return end + 1;
  const abi = u64(view, p);
  return p + 8 + (abi !== 0 ? count * 8 : 0);
}

/** Population count of a u64 given as two u32 halves. */
export function popcount64(lo: number, hi: number): number {
  return popcount32(lo) + popcount32(hi);
}

function popcount32(v: number): number {
  let x = v >>> 0;
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** `IP|TID|TIME|CALLCHAIN`, as perf report --header-only prints it. */
export function sampleTypeText(sampleType: number): string {
  const out: string[] = [];
  for (let i = 0; i < sampleTypeNames.length; i++)
    if ((sampleType & (1 << i)) !== 0) out.push(sampleTypeNames[i]);
  return out.join('|');
}
