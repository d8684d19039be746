/**
 * A readable copy of a truncated perf.data, for `perf script`. perf 6.1 prints no samples at all
 * when the header's data size is 0 (perf record killed before it finalized the file), and stops
 * after a handful when the file is cut inside a record ("failed to process type: 0"; measured on
 * this machine). The copy ends at the last complete record, says so in its header, and declares
 * no feature sections, since a killed perf never wrote them.
 */
import { rmSync } from 'node:fs';
import { copyFile, mkdtemp, open, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Byte offsets in `struct perf_header` (see file-header.ts). */
const DATA_SIZE_AT = 48;
const FEATURE_BITS_AT = 72;
const FEATURE_BITS_BYTES = 32;

export interface RepairedCopy {
  path: string;
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
    try {
      await fh.write(u64Bytes(validEnd - dataOffset), 0, 8, DATA_SIZE_AT);
      await fh.write(new Uint8Array(FEATURE_BITS_BYTES), 0, FEATURE_BITS_BYTES, FEATURE_BITS_AT);
    } finally {
      await fh.close();
    }
  } catch (e) {
    await remove();
    throw e;
  }
  return { path, remove };
}

/** Little-endian u64 of a number below 2^53. */
function u64Bytes(n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, n % 4294967296, true);
  v.setUint32(4, Math.floor(n / 4294967296), true);
  return b;
}
