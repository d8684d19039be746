/**
 * Owner-only files that are never seen half-written: a run's metadata is replaced by writing a
 * temporary file beside it, fsyncing it, renaming it over the old one and fsyncing the directory,
 * so a crash or a full disk leaves either the old or the new file, never a mix.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** perf data and its metadata name every command and path on the host: owner-only. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/**
 * Temporary files of writes in flight. A second Ctrl-C or SIGTERM ends the process through
 * process.exit while a write may still wait for its fsync; the exit handler removes these files
 * (created by this process with O_EXCL, so no one else's), and the run keeps the old file.
 */
const pending = new Set<string>();
let exitHandler = false;

function removePending(): void {
  for (const temp of pending) rmSync(temp, { force: true });
  pending.clear();
}

/** Replaces `path` atomically with `data` (mode 0600). The temporary file is removed on failure or exit. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  if (!exitHandler) {
    process.on('exit', removePending);
    exitHandler = true;
  }
  pending.add(temp);
  try {
    await writeAndSync(temp, data, 'wx');
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  } finally {
    pending.delete(temp);
  }
  await syncDirectory(dirname(path));
}

/**
 * writeFileAtomic for process exit handlers, which cannot wait for promises. Without the fsyncs:
 * the rename still makes the change all-or-nothing.
 */
export function writeFileAtomicSync(path: string, data: string): void {
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(temp, data, { mode: FILE_MODE, flag: 'wx' });
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}

/** Creates `path` with `data`; fails with EEXIST rather than overwrite anything. */
export async function writeFileExclusive(path: string, data: string | Uint8Array): Promise<void> {
  await writeAndSync(path, data, 'wx');
  await syncDirectory(dirname(path));
}

async function writeAndSync(path: string, data: string | Uint8Array, flags: string): Promise<void> {
  const fh = await open(path, flags, FILE_MODE);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a rename or a new entry durable. Some filesystems refuse fsync on directories: harmless. */
export async function syncDirectory(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EINVAL/EISDIR on filesystems without directory fsync; the rename itself already happened.
  } finally {
    await fh?.close();
  }
}
