/**
 * The data section of a perf.data file as its own record headers lay it out, for tests that cut
 * files: a system-wide recording opens with thousands of synthesized records (comm, mmap, cgroup)
 * before its first sample, so whether a cut leaves any sample depends on the host, and is read
 * from the file rather than assumed.
 */

const PERF_RECORD_SAMPLE = 9;

/** Offsets of the records in [from, to): struct perf_event_header { u32 type; u16 misc; u16 size; }. */
export function recordStartsOf(b: Uint8Array, from: number, to: number): number[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let at = from; at + 8 <= to; ) {
    out.push(at);
    const size = view.getUint16(at + 6, true);
    if (size < 8) break;
    at += size;
  }
  return out;
}

/** Offset just past the first complete PERF_RECORD_SAMPLE among `starts`. */
export function firstSampleEndOf(b: Uint8Array, starts: number[]): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (const at of starts) {
    if (view.getUint32(at, true) === PERF_RECORD_SAMPLE) return at + view.getUint16(at + 6, true);
  }
  throw new Error('the recording has no sample record');
}
