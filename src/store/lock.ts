/**
 * A store-wide lock around mutations (labelling, deleting, status changes): an O_EXCL lockfile that
 * holds the owner's pid. Held for milliseconds, never for a whole recording, so two recordings can
 * run at once. A lock whose pid is dead (the owner crashed) is stale and is taken over.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_MODE } from '../safety/atomic-file.ts';
import { StoreLockedError } from './errors.ts';

export const LOCK_NAME = '.lock';

export interface LockOptions {
  /** How long to wait for another process's lock, ms. Default 5000: mutations take milliseconds. */
  timeoutMs?: number;
}

/** Runs `fn` while holding the store lock in `root` (which must exist). */
export async function withStoreLock<T>(
  root: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const path = join(root, LOCK_NAME);
  await acquire(path, opts.timeoutMs ?? 5000);
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => {});
  }
}

async function acquire(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (await tryCreate(path)) return;
    const owner = await ownerOf(path);
    if (owner !== undefined && !isAlive(owner)) {
      await breakStaleLock(path, owner);
      continue;
    }
    if (Date.now() >= deadline) throw new StoreLockedError(path, owner);
    // Back off a little more each time; mutations under the lock are short.
    await new Promise((r) => setTimeout(r, Math.min(10 * 2 ** attempt, 200)));
  }
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'wx', FILE_MODE);
    try {
      await fh.writeFile(`${process.pid}\n`);
    } finally {
      await fh.close();
    }
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** The pid in the lockfile; undefined while its owner is still writing it or it just vanished. */
async function ownerOf(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Moves the stale lock aside (rename is atomic, so only one contender gets it) and checks it is
 * still the dead owner's: if another process replaced it in between, its live lock is put back.
 */
async function breakStaleLock(path: string, deadOwner: number): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return; // Someone else moved it first.
  }
  if ((await ownerOf(aside)) !== deadOwner) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}
