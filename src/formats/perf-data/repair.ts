/**
 * A readable copy of a truncated perf.data, for `perf script`. perf 6.1 prints no samples at all
 * when the header's data size is 0 (perf record killed before it finalized the file), and stops
 * after a handful when the file is cut inside a record ("failed to process type: 0"; measured on
 * this machine). The copy ends at the last complete record, says so in its header, and declares
 * no feature sections, since a killed perf never wrote them.
 */
import { rmSync } from 'node:fs';
import { copyFile, type FileHandle, mkdtemp, open, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Byte offsets in `struct perf_header` (see file-header.ts). */
const DATA_SIZE_AT = 48;
const FEATURE_BITS_AT = 72;
const FEATURE_BITS_BYTES = 32;

export interface RepairedCopy {
  path: string;
  /** Tracepoint events turned into dummy events in the copy (perf cannot read them without the tracing data). */
  tracepointsLeftOut: number;
  /** Deletes the copy and its temporary directory. */
  remove(): Promise<void>;
}

/** Copies `file` up to `validEnd` into a fresh temporary directory and fixes its header. */
export async function writeRepairedCopy(
  file: string,
  dataOffset: number,
  validEnd: number,
): Promise<RepairedCopy> {
  const dir = await mkdtemp(join(tmpdir(), 'crosstalk-perf-data-'));
  // A copy of the user's perf.data (host command names and paths) must not outlive the process,
  // even when it exits on a signal mid-import.
  const removeOnExit = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeOnExit);
  const remove = async () => {
    process.off('exit', removeOnExit);
    await rm(dir, { recursive: true, force: true });
  };
  const path = join(dir, 'perf.data');
  try {
    await copyFile(file, path);
    await truncate(path, validEnd);
    const fh = await open(path, 'r+');
    let tracepointsLeftOut: number;
    try {
      await fh.write(u64Bytes(validEnd - dataOffset), 0, 8, DATA_SIZE_AT);
      await fh.write(new Uint8Array(FEATURE_BITS_BYTES), 0, FEATURE_BITS_BYTES, FEATURE_BITS_AT);
      tracepointsLeftOut = await neutralizeTracepoints(fh);
    } finally {
      await fh.close();
    }
    return { path, remove, tracepointsLeftOut };
  } catch (e) {
    await remove();
    throw e;
  }
}

/** Byte offsets in the header: attr_size, attrs.offset, attrs.size. */
const ATTR_SIZE_AT = 16;
const ATTRS_OFFSET_AT = 24;
const ATTRS_SIZE_AT = 32;
/** perf_event_attr: type (u32) at 0, config (u64) at 8. */
const PERF_TYPE_SOFTWARE = 1;
const PERF_TYPE_TRACEPOINT = 2;
const PERF_COUNT_SW_DUMMY = 9;

/**
 * Without the HEADER_TRACING_DATA feature (written after the data, so never by a killed perf, and
 * cut off with the features of a cut file) perf 6.1 refuses a file with tracepoint events as a
 * whole ("broken or missing trace data", "incompatible file format"). In the copy, each
 * tracepoint attr becomes the software dummy event (removing it would renumber the events that
 * PERF_RECORD_ID_INDEX refers to), so perf reads the file; those samples are then a `dummy`
 * event that the parser does not keep. Returns how many attrs were changed.
 */
async function neutralizeTracepoints(fh: FileHandle): Promise<number> {
  const head = Buffer.alloc(40);
  await fh.read(head, 0, 40, 0);
  const attrSize = Number(head.readBigUInt64LE(ATTR_SIZE_AT));
  const offset = Number(head.readBigUInt64LE(ATTRS_OFFSET_AT));
  const size = Number(head.readBigUInt64LE(ATTRS_SIZE_AT));
  if (attrSize < 16 || size % attrSize !== 0 || size > 1 << 20) return 0;
  const attrs = Buffer.alloc(size);
  const { bytesRead } = await fh.read(attrs, 0, size, offset);
  if (bytesRead !== size) return 0;
  let changed = 0;
  for (let at = 0; at < size; at += attrSize) {
    if (attrs.readUInt32LE(at) !== PERF_TYPE_TRACEPOINT) continue;
    attrs.writeUInt32LE(PERF_TYPE_SOFTWARE, at);
    attrs.writeBigUInt64LE(BigInt(PERF_COUNT_SW_DUMMY), at + 8);
    changed++;
  }
  if (changed > 0) await fh.write(attrs, 0, size, offset);
  return changed;
}

/** Little-endian u64 of a number below 2^53. */
function u64Bytes(n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, n % 4294967296, true);
  v.setUint32(4, Math.floor(n / 4294967296), true);
  return b;
}
