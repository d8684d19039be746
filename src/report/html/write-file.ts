/**
 * Writing an output file (HTML report, export, JSON): mode 0600 (reports hold host process names,
 * paths and cgroup names), written to a temporary file beside the target and then moved into
 * place, so nothing is ever written through a symbolic link or into an existing inode (a user's
 * 0666 file, a device such as /dev/full). An existing regular file is kept unless the caller
 * passes `force` (the CLI's --force); a link, device, FIFO or directory is never replaced.
 */
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { link, lstat, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteReportOptions {
  /** Replace an existing regular file (atomically: written beside it, then renamed over it). Default false. */
  force?: boolean;
}

/** The report file exists and `force` was not given. */
export class ReportExistsError extends Error {
  override name = 'ReportExistsError';
  constructor(readonly file: string) {
    super(`${file} already exists`);
  }
}

/** The target is a symbolic link or not a regular file: never written through or replaced. */
export class NotRegularOutputError extends Error {
  override name = 'NotRegularOutputError';
  constructor(
    readonly file: string,
    readonly what: string,
  ) {
    super(`${file} is ${what}; crosstalk writes only new or regular files`);
  }
}

async function existingKind(file: string): Promise<'none' | 'file' | string> {
  try {
    const st = await lstat(file);
    if (st.isFile()) return 'file';
    if (st.isSymbolicLink()) return 'a symbolic link';
    if (st.isDirectory()) return 'a directory';
    return 'not a regular file (a device, FIFO or socket)';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw e;
  }
}

/** Fails as writeReportFile would for what is at `file` now (before work that produces the data). */
export async function checkReportTarget(file: string, opts: WriteReportOptions = {}): Promise<void> {
  const kind = await existingKind(file);
  if (kind === 'file' && !opts.force) throw new ReportExistsError(file);
  if (kind !== 'none' && kind !== 'file') throw new NotRegularOutputError(file, kind);
}

export async function writeReportFile(
  file: string,
  data: string | Uint8Array,
  opts: WriteReportOptions = {},
): Promise<{ bytes: number }> {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
  await checkReportTarget(file, opts);
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  pendingTemps.add(tmp);
  try {
    // O_EXCL: a new inode of ours, never an existing file or a link's target.
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.chmod(0o600);
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    if (opts.force) {
      // Replaces the directory entry itself: a link put there meanwhile is replaced, not followed.
      await rename(tmp, file);
    } else {
      // link() fails with EEXIST rather than replace anything that appeared meanwhile.
      try {
        await link(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ReportExistsError(file);
        throw e;
      }
    }
  } finally {
    await rm(tmp, { force: true });
    pendingTemps.delete(tmp);
  }
  return { bytes };
}

/**
 * Temporary files being written: a second Ctrl-C exits the process (process.exit) before the
 * `finally` above runs, so they are removed on exit too. Each is ours: created O_EXCL under a
 * random name a moment before.
 */
const pendingTemps = new Set<string>();
process.on('exit', () => {
  for (const t of pendingTemps) {
    try {
      unlinkSync(t);
    } catch {
      // Already gone.
    }
  }
});
