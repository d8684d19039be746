/**
 * The perf.data file header and the attr section, after
 * tools/perf/Documentation/perf.data-file-format.txt at v6.1 (tag 830b3c68c1fb):
 *
 *   struct perf_file_section { u64 offset; u64 size; };
 *   struct perf_header {
 *     char magic[8];            // "PERFILE2", as a u64 so its byte order tells the file's
 *     uint64_t size;            // size of this header (104); 16 in pipe mode
 *     uint64_t attr_size;       // size of one entry of attrs
 *     struct perf_file_section attrs;
 *     struct perf_file_section data;
 *     struct perf_file_section event_types;   // unused
 *     DECLARE_BITMAP(adds_features, HEADER_FEAT_BITS);   // 256 bits
 *   };
 *   attrs entry: struct perf_file_attr { struct perf_event_attr attr; struct perf_file_section ids; }
 *
 * and `struct perf_event_attr` from include/uapi/linux/perf_event.h at v6.1.
 */
import type { FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.ts';
import { BranchSampleType, type LayoutAttr, popcount64, SampleType, u64 } from './sample-layout.ts';

export const FILE_HEADER_SIZE = 104;
const PIPE_HEADER_SIZE = 16;
const MAGIC = 'PERFILE2';
const MAGIC_SWAPPED = '2ELIFREP';
const MAGIC_V1 = 'PERFFILE';

export interface FileSection {
  offset: number;
  size: number;
}

export interface PerfFileHeader {
  attrSize: number;
  attrs: FileSection;
  data: FileSection;
  /** The adds_features bitmap, 32 bytes. */
  featureBits: Uint8Array;
}

export interface PerfAttr extends LayoutAttr {
  type: number;
  config: number;
  /** sample_freq when `freq`, else sample_period. */
  samplePeriodOrFreq: number;
  freq: boolean;
  sampleIdAll: boolean;
  sampleStackUser: number;
  /** attr.clockid when use_clockid is set, else null (perf's default: the kernel's local clock). */
  clockid: number | null;
  /** Sample ids the kernel assigned to this attr's events (one per CPU or thread). */
  ids: number[];
}

/** Whether `head` starts like a perf.data file. Byte-swapped, v1 and pipe-mode files are 'yes' too. */
export function sniffPerfData(head: Uint8Array): 'yes' | 'no' | 'need-more' {
  const n = Math.min(head.length, 8);
  const prefix = String.fromCharCode(...head.subarray(0, n));
  for (const magic of [MAGIC, MAGIC_SWAPPED, MAGIC_V1]) {
    if (magic.startsWith(prefix)) return n === 8 ? 'yes' : 'need-more';
  }
  return 'no';
}

/** Parses the first FILE_HEADER_SIZE bytes (fewer when the file is shorter). */
export function parseFileHeader(head: Uint8Array, file: string): PerfFileHeader {
  const expected = 'a perf.data file (magic PERFILE2)';
  if (head.length === 0) throw new InputError(file, null, expected, 'an empty file');
  const magic = String.fromCharCode(...head.subarray(0, Math.min(8, head.length)));
  if (magic === MAGIC_SWAPPED) {
    throw new InputError(
      file,
      null,
      'a little-endian perf.data file',
      'a byte-swapped (big-endian) perf.data file, which is not supported',
    );
  }
  if (magic === MAGIC_V1) {
    throw new InputError(
      file,
      null,
      'a perf.data file in format version 2 (PERFILE2)',
      'the legacy PERFFILE format, which is not supported',
    );
  }
  if (magic !== MAGIC) throw new InputError(file, null, expected, describeBytes(head));
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.length >= 16 && u64(view, 8) === PIPE_HEADER_SIZE) {
    throw new InputError(
      file,
      null,
      'a perf.data file written by `perf record -o FILE`',
      'pipe-mode perf.data (`perf record -o -`), which is not supported',
    );
  }
  if (head.length < FILE_HEADER_SIZE || u64(view, 8) < FILE_HEADER_SIZE) {
    throw new InputError(
      file,
      null,
      `a ${FILE_HEADER_SIZE}-byte perf.data file header`,
      `${head.length} bytes`,
    );
  }
  const section = (at: number): FileSection => ({ offset: u64(view, at), size: u64(view, at + 8) });
  return {
    attrSize: u64(view, 16),
    attrs: section(24),
    data: section(40),
    featureBits: head.slice(72, 104),
  };
}

function describeBytes(head: Uint8Array): string {
  const first = head.subarray(0, 16);
  const printable = first.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
  if (printable) return `text starting "${String.fromCharCode(...first).replace(/\s+/g, ' ')}"`;
  return `bytes ${Buffer.from(head.subarray(0, 8)).toString('hex')}`;
}

/** Smallest perf_event_attr (PERF_ATTR_SIZE_VER0) and the offsets of the fields read below. */
const ATTR_SIZE_VER0 = 64;

/** Reads the attrs section and each attr's ids. */
export async function readAttrs(
  fh: FileHandle,
  h: PerfFileHeader,
  fileSize: number,
  file: string,
): Promise<PerfAttr[]> {
  const { attrs, attrSize } = h;
  if (attrSize < ATTR_SIZE_VER0 + 16 || attrs.size % attrSize !== 0 || attrs.offset + attrs.size > fileSize) {
    throw new InputError(
      file,
      null,
      'a perf.data attr section inside the file',
      `attr_size ${attrSize}, section ${attrs.offset}+${attrs.size} in a ${fileSize}-byte file`,
    );
  }
  const raw = await readAt(fh, attrs.offset, attrs.size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: PerfAttr[] = [];
  for (let at = 0; at < attrs.size; at += attrSize) {
    const attr = parseAttr(view, at, attrSize - 16);
    const ids = { offset: u64(view, at + attrSize - 16), size: u64(view, at + attrSize - 8) };
    if (ids.offset + ids.size > fileSize) {
      throw new InputError(
        file,
        null,
        'attr id sections inside the file',
        `ids at ${ids.offset}+${ids.size}`,
      );
    }
    const idBytes = await readAt(fh, ids.offset, ids.size);
    const idView = new DataView(idBytes.buffer, idBytes.byteOffset, idBytes.byteLength);
    for (let i = 0; i + 8 <= ids.size; i += 8) attr.ids.push(u64(idView, i));
    out.push(attr);
  }
  if (out.length === 0)
    throw new InputError(file, null, 'at least one event attr in the perf.data header', 'none');
  return out;
}

/**
 * perf_event_attr fields by offset: type u32 @0, size u32 @4, config @8, sample_period|freq @16,
 * sample_type @24, read_format @32, flag bits @40 (freq 10, sample_id_all 18, use_clockid 25),
 * branch_sample_type @72, sample_regs_user @80, sample_stack_user u32 @88, clockid s32 @92,
 * sample_regs_intr @96. Fields past the attr's own size read as zero (older perf).
 */
function parseAttr(view: DataView, at: number, room: number): PerfAttr {
  const declared = view.getUint32(at + 4, true);
  const size = Math.min(declared === 0 ? ATTR_SIZE_VER0 : declared, room);
  const has = (off: number, len: number): boolean => off + len <= size;
  const u64At = (off: number): number => (has(off, 8) ? u64(view, at + off) : 0);
  const lo = (off: number): number => (has(off, 4) ? view.getUint32(at + off, true) : 0);
  const flags = lo(40);
  const useClockid = (flags & (1 << 25)) !== 0;
  return {
    type: lo(0),
    config: u64At(8),
    samplePeriodOrFreq: u64At(16),
    sampleType: lo(24),
    readFormat: lo(32),
    freq: (flags & (1 << 10)) !== 0,
    sampleIdAll: (flags & (1 << 18)) !== 0,
    branchSampleType: lo(72),
    regsUserCount: popcount64(lo(80), lo(84)),
    sampleStackUser: lo(88),
    clockid: useClockid && has(92, 4) ? view.getInt32(at + 92, true) : null,
    regsIntrCount: popcount64(lo(96), lo(100)),
    ids: [],
  };
}

/** How the attr's call chains are unwound. */
export function callGraphOf(a: LayoutAttr): 'fp' | 'dwarf' | 'lbr' | 'none' {
  const t = a.sampleType;
  // perf record --call-graph dwarf copies user registers and stack for unwinding after the fact.
  if ((t & SampleType.STACK_USER) !== 0 && (t & SampleType.REGS_USER) !== 0) return 'dwarf';
  if ((t & SampleType.BRANCH_STACK) !== 0 && (a.branchSampleType & BranchSampleType.CALL_STACK) !== 0)
    return 'lbr';
  if ((t & SampleType.CALLCHAIN) !== 0) return 'fp';
  return 'none';
}

/** Reads up to `length` bytes at `offset`; fewer at the end of the file. */
/** What readAt reads from: a FileHandle, or a synchronous descriptor behind the same shape (elf.ts). */
export interface PositionalReader {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

export async function readAt(fh: PositionalReader, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}
