/**
 * Which directories root may create files in, execute from or delete under. A path is trusted
 * when no other local user could have planted or could swap anything on it: every component,
 * from `/` down, is owned by root or by us; no component is writable by other users (group
 * writable only for group root; world writable only for a sticky intermediate directory such as
 * /var/tmp, where the next component, owned by us, cannot be renamed away); and a symbolic link
 * on the way is owned by root or by us and leads to a trusted path itself.
 */
import { lstatSync, mkdirSync, readlinkSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';

/** The path is not safe for root to use: someone else owns or can write part of it. */
export class UntrustedPathError extends Error {
  override name = 'UntrustedPathError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

const S_ISVTX = 0o1000;
const MAX_LINKS = 32;

export function euid(): number {
  return process.geteuid?.() ?? 0;
}

function ownerOk(st: Stats, uid: number): boolean {
  return st.uid === 0 || st.uid === uid;
}

function writableByOthers(st: Stats, last: boolean): string | null {
  if ((st.mode & 0o002) !== 0 && (last || (st.mode & S_ISVTX) === 0)) return 'writable by every user';
  if ((st.mode & 0o020) !== 0 && st.gid !== 0 && (last || (st.mode & S_ISVTX) === 0))
    return `writable by group ${st.gid}`;
  return null;
}

/**
 * Why `path` (which must exist) is not trusted, or null when it is. `uid` is who may own parts
 * besides root (default: our effective uid).
 */
export function untrustedReason(path: string, uid = euid()): string | null {
  return check(resolve(path), uid, 0);
}

function check(abs: string, uid: number, depth: number): string | null {
  if (depth > MAX_LINKS) return 'too many symbolic links';
  const parts = abs.split(sep).filter((p) => p.length > 0);
  let cur = '/';
  for (let i = 0; i <= parts.length; i++) {
    if (i > 0) cur = join(cur, parts[i - 1]);
    const last = i === parts.length;
    let st: Stats;
    try {
      st = lstatSync(cur);
    } catch (e) {
      return `cannot inspect ${cur} (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    if (!ownerOk(st, uid))
      return `${cur} is owned by uid ${st.uid}, not by ${uid === 0 ? 'root' : `root or uid ${uid}`}`;
    if (st.isSymbolicLink()) {
      const target = readlinkSync(cur);
      const rest = parts.slice(i).join(sep);
      const next = resolve(isAbsolute(target) ? target : join(dirname(cur), target), rest);
      return check(next, uid, depth + 1);
    }
    const w = writableByOthers(st, last);
    if (w !== null) return `${cur} is ${w}`;
  }
  return null;
}

/** Throws UntrustedPathError unless `path` is trusted. */
export function assertTrusted(path: string, uid = euid()): void {
  const why = untrustedReason(path, uid);
  if (why !== null) throw new UntrustedPathError(path, why);
}

/** The nearest existing ancestor of `path` (itself when it exists). */
export function nearestExisting(path: string): string {
  let cur = resolve(path);
  for (;;) {
    try {
      lstatSync(cur);
      return cur;
    } catch {
      const up = dirname(cur);
      if (up === cur) return cur;
      cur = up;
    }
  }
}

/**
 * Creates `dir` (and missing parents) owner-only, then checks the whole path is trusted.
 * A directory that already exists keeps its mode, and must pass the same check.
 */
export function ensurePrivateDir(dir: string, uid = euid()): void {
  const base = nearestExisting(dir);
  assertTrusted(base, uid);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  assertTrusted(dir, uid);
}

/**
 * crosstalk's cache folder `name`: `$XDG_CACHE_HOME/crosstalk/NAME` (default ~/.cache; a relative
 * XDG_CACHE_HOME is ignored, as the XDG spec says), and the system one root uses when that path
 * is not its own (under `sudo -E` or `su` without `-`, root inherits a user's XDG_CACHE_HOME/HOME).
 */
export function cacheDirs(name: string): { user: string; system: string } {
  const xdg = process.env.XDG_CACHE_HOME;
  return {
    user: join(xdg?.startsWith('/') ? xdg : join(homedir(), '.cache'), 'crosstalk', name),
    system: join('/var/cache/crosstalk', name),
  };
}
