/**
 * Walks the records of a perf.data data section in fixed-size chunks, so a 100+ MB DWARF
 * recording never sits in memory. Every record starts with `struct perf_event_header`
 * (include/uapi/linux/perf_event.h at v6.1, tag 830b3c68c1fb):
 *
 *   struct perf_event_header { __u32 type; __u16 misc; __u16 size; };
 *
 * `size` covers the whole record, so unknown record types are skipped by size. The one record
 * with data beyond `size` is PERF_RECORD_AUXTRACE (tools/lib/perf/include/perf/event.h at v6.1:
 * `struct perf_record_auxtrace { header; __u64 size; ... }`, followed by `size` bytes of trace).
 */
import type { FileHandle } from 'node:fs/promises';
import { u64 } from './sample-layout.ts';

export const RecordType = {
  LOST: 2,
  SAMPLE: 9,
  LOST_SAMPLES: 13,
  CGROUP: 19,
  AUXTRACE: 71,
  COMPRESSED: 81,
} as const;

/** Called for each complete record: its type and its bytes at view[pos, pos + size). */
export type RecordVisitor = (type: number, view: DataView, pos: number, size: number) => void;

/** Why the walk stopped: the end of the section, or a record that cannot be complete. */
export type WalkEnd = 'end' | 'cut' | 'bad-size' | 'zero-type';

export interface WalkResult {
  /** File offset just after the last complete record. */
  validEnd: number;
  stop: WalkEnd;
  records: number;
}

const CHUNK_BYTES = 4 << 20;
const HEADER_BYTES = 8;

/** Buffered reads of one file region; keeps the unread tail when refilling. */
class Window {
  readonly buf = Buffer.allocUnsafe(CHUNK_BYTES);
  readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  /** File offset of buf[0]. */
  base: number;
  len = 0;
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    from: number,
    private readonly to: number,
  ) {
    this.base = from;
  }

  get offset(): number {
    return this.base + this.pos;
  }

  /** True when `need` bytes are already buffered at `pos`. */
  has(need: number): boolean {
    return this.len - this.pos >= need;
  }

  /** Makes at least `need` bytes available at `pos`, unless the region ends first. */
  async ensure(need: number): Promise<boolean> {
    if (this.len - this.pos >= need) return true;
    this.buf.copyWithin(0, this.pos, this.len);
    this.base += this.pos;
    this.len -= this.pos;
    this.pos = 0;
    while (this.len < need) {
      const want = Math.min(CHUNK_BYTES - this.len, this.to - (this.base + this.len));
      if (want <= 0) return false;
      const { bytesRead } = await this.fh.read(this.buf, this.len, want, this.base + this.len);
      if (bytesRead === 0) return false;
      this.len += bytesRead;
    }
    return true;
  }

  /** Moves past `n` bytes that need not be read (AUXTRACE payloads). */
  skip(n: number): void {
    const inBuf = Math.min(n, this.len - this.pos);
    this.pos += inBuf;
    if (inBuf < n) {
      this.base += this.len + (n - inBuf);
      this.len = 0;
      this.pos = 0;
    }
  }
}

/**
 * Visits every complete record in [from, to). Stops without throwing at a record that is cut by
 * `to` or by the end of the file, or whose size is impossible (< 8): that is how a perf.data
 * looks when perf was killed mid-run, and everything before that point is still good.
 */
export async function walkRecords(
  fh: FileHandle,
  from: number,
  to: number,
  visit: RecordVisitor,
  onProgress?: (offset: number) => void,
): Promise<WalkResult> {
  const w = new Window(fh, from, to);
  let records = 0;
  let lastReport = from;
  for (;;) {
    if (w.offset >= to) return { validEnd: w.offset, stop: 'end', records };
    // ensure() is awaited only when the window must be refilled: an await per record cost more
    // than decoding the record.
    if (!w.has(HEADER_BYTES) && !(await w.ensure(HEADER_BYTES)))
      return { validEnd: w.offset, stop: 'cut', records };
    const type = w.view.getUint32(w.pos, true);
    const size = w.view.getUint16(w.pos + 6, true);
    if (size < HEADER_BYTES) return { validEnd: w.offset, stop: 'bad-size', records };
    // A zero type is never written by perf: it is the zero fill of a file cut by a crash.
    if (type === 0) return { validEnd: w.offset, stop: 'zero-type', records };
    if (w.offset + size > to || (!w.has(size) && !(await w.ensure(size))))
      return { validEnd: w.offset, stop: 'cut', records };
    const payload = type === RecordType.AUXTRACE && size >= 16 ? u64(w.view, w.pos + 8) : 0;
    if (w.offset + size + payload > to) return { validEnd: w.offset, stop: 'cut', records };
    visit(type, w.view, w.pos, size);
    records++;
    w.pos += size;
    if (payload > 0) w.skip(payload);
    if (onProgress !== undefined && w.offset - lastReport >= CHUNK_BYTES) {
      lastReport = w.offset;
      onProgress(w.offset);
    }
  }
}
