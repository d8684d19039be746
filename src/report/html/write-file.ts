/**
 * Writing a report file: mode 0600 (reports hold host process names, paths and cgroup names), and
 * an existing file is kept unless the caller passes `force` (the CLI's --force).
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteReportOptions {
  /** Replace an existing file (atomically: written beside it, then renamed over it). Default false. */
  force?: boolean;
}

/** The report file exists and `force` was not given. */
export class ReportExistsError extends Error {
  override name = 'ReportExistsError';
  constructor(readonly file: string) {
    super(`${file} already exists`);
  }
}

export async function writeReportFile(
  file: string,
  text: string,
  opts: WriteReportOptions = {},
): Promise<{ bytes: number }> {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (!opts.force) {
    try {
      // 'wx' fails if the file exists, atomically: no check-then-write race.
      await writeFile(file, text, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ReportExistsError(file);
      throw e;
    }
    return { bytes };
  }
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { bytes };
}
