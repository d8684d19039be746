/**
 * `perf archive` tarballs (perf.data.tar.bz2: the build-id cache entries a recording needs,
 * laid out as under ~/.debug) opened for the native decoder. The archive is someone else's
 * file: it is unpacked by the system's `tar -xjf` (no shell, argument array) into a fresh
 * private temporary directory, never with the archive's owners or modes, and every symlink,
 * device or other non-regular entry is then removed, so nothing read later can lead outside
 * that directory. The directory is removed when the import is done.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, ToolError } from '../errors.ts';

export interface OpenedArchive {
  root: string;
  /** Symlinks and special files removed after unpacking. */
  removedLinks: number;
  remove(): Promise<void>;
}

const MAX_ENTRIES = 200_000;

export async function openArchive(archive: string): Promise<OpenedArchive> {
  try {
    const st = await lstat(archive);
    if (!st.isFile())
      throw new InputError(archive, null, 'a perf archive file (perf.data.tar.bz2)', 'not a regular file');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(
      archive,
      null,
      'a perf archive file (perf.data.tar.bz2)',
      (e as NodeJS.ErrnoException).code ?? String(e),
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'crosstalk-archive-'));
  const remove = () => rm(root, { recursive: true, force: true });
  try {
    const said = await untar(archive, root);
    if (said !== null)
      throw new InputError(archive, null, 'a bzip2 tar archive made by `perf archive`', said);
    const removedLinks = await dropLinks(root);
    return { root, removedLinks, remove };
  } catch (e) {
    await remove();
    throw e;
  }
}

/** Runs tar; returns null on success, else its first error line. */
function untar(archive: string, dir: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'tar',
      ['-x', '-j', '-f', archive, '-C', dir, '--no-same-owner', '--no-same-permissions'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (err.length < 4096) err += s;
    });
    child.once('error', (e) =>
      reject(new ToolError('tar', `cannot run tar to unpack ${archive}: ${e.message}`)),
    );
    child.once('close', (code) =>
      resolve(
        code === 0 ? null : (err.split('\n').find((l) => l.trim() !== '') ?? `tar exit status ${code}`),
      ),
    );
  });
}

/** Removes every entry under `root` that is not a regular file or a directory; returns how many. */
async function dropLinks(root: string): Promise<number> {
  let removed = 0;
  let seen = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      if (++seen > MAX_ENTRIES)
        throw new InputError(root, null, 'a perf archive of at most 200000 entries', 'more');
      const p = join(dir, ent.name);
      if (ent.isDirectory()) stack.push(p);
      else if (!ent.isFile()) {
        await unlink(p);
        removed++;
      }
    }
  }
  return removed;
}
