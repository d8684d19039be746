/**
 * Removing a directory tree without following symbolic links: a link where the tree should be is
 * removed as a link (its target is left alone), and a directory owned by another user is refused.
 * Node's recursive rm already lstat()s every entry below the top, so links inside are unlinked.
 */
import { lstatSync, rmSync, unlinkSync } from 'node:fs';
import { euid, UntrustedPathError } from './trusted-path.ts';

/** Removes `path` (a directory tree we own, or a stray link or file); absent is fine. */
export function removeTreeNoFollow(path: string, uid = euid()): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isDirectory()) {
    // A symbolic link, or something else planted where our directory was: only the entry goes.
    unlinkSync(path);
    return;
  }
  if (st.uid !== uid && st.uid !== 0)
    throw new UntrustedPathError(path, `owned by uid ${st.uid}, not removed`);
  rmSync(path, { recursive: true, force: true });
}
