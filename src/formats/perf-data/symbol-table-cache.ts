/**
 * A cache of built symbol tables, so a second analysis on the same host does not parse kallsyms
 * and re-sort node's 80k symbols again (about 150 ms of a 60k-sample decode). An entry is keyed
 * by what went into the table: the files read, each by fstat identity (device, inode, size,
 * mtime and ctime in ns; ctime cannot be set back by a user), so a replaced or edited file is
 * simply a different key, and so is a different crosstalk build (rulesVersion). Lookups are
 * exact; there is nothing to invalidate.
 *
 * Where: $CROSSTALK_SYMBOL_CACHE when it is an absolute path, else $XDG_CACHE_HOME/crosstalk/symbols
 * (default ~/.cache). `CROSSTALK_SYMBOL_CACHE=off` turns it off. The directory must be trusted
 * (safety/trusted-path.ts): under `sudo -E`, root may inherit a user's cache path, and a table
 * planted there would name the functions in root's report; then root uses
 * /var/cache/crosstalk/symbols, and anyone else goes without a cache. Entries are owner-only
 * files opened without following links, written to a temporary name and renamed; a damaged
 * entry is ignored and rebuilt. At most MAX_ENTRIES entries and MAX_TOTAL_BYTES are kept, the
 * least recently written go.
 */
import { createHash } from 'node:crypto';
import { type BigIntStats, constants, readdirSync, statSync } from 'node:fs';
import { lstat, open, readdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../safety/atomic-file.ts';
import { cacheDirs, ensurePrivateDir, euid, untrustedReason } from '../../safety/trusted-path.ts';
import type { SymbolTable } from './symtab.ts';
import { tableFromBlob, tableToBlob } from './symtab-blob.ts';

const FORMAT = 'symtab-v1';

/**
 * A file as fstat saw it: device, inode, size, mtime and ctime in ns. A replaced or edited file
 * is another identity (ctime cannot be set back by a user): the cache's key for files.
 */
export function fileIdentity(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

let rules: string | undefined;

/**
 * What built the tables: the identity of the running bundle (dist/crosstalk.js), so a new or
 * rebuilt crosstalk, whose ELF and kallsyms rules may differ, never reads an older one's tables.
 * Run from source (tests), the identities of this folder's files stand in for it.
 */
function rulesVersion(): string {
  if (rules !== undefined) return rules;
  const self = fileURLToPath(import.meta.url);
  const files = self.endsWith('.ts')
    ? readdirSync(dirname(self))
        .filter((n) => n.endsWith('.ts'))
        .sort()
        .map((n) => join(dirname(self), n))
    : [self];
  rules = files
    .map((f) => {
      try {
        return fileIdentity(statSync(f, { bigint: true }));
      } catch {
        return 'missing';
      }
    })
    .join(',');
  return rules;
}
const MAX_ENTRIES = 200;
/** All entries together; node's table is ~7 MB, kallsyms' ~6 MB, most libraries' under 1 MB. */
const MAX_TOTAL_BYTES = 512 << 20;
const MAX_ENTRY_BYTES = 128 << 20;
const ENTRY = /^[0-9a-f]{64}\.symtab$/;
export const SYSTEM_SYMBOL_CACHE = cacheDirs('symbols').system;

let dirChoice: { dir: string | null; why: string } | undefined;

/** The cache directory (created owner-only), or null; `why` says why none, or why the preferred one was not used. */
export function symbolCacheDir(): { dir: string | null; why: string } {
  dirChoice ??= chooseDir();
  return dirChoice;
}

function chooseDir(): { dir: string | null; why: string } {
  const env = process.env.CROSSTALK_SYMBOL_CACHE;
  if (env === 'off' || env === '0') return { dir: null, why: 'CROSSTALK_SYMBOL_CACHE=off' };
  const wanted = env?.startsWith('/') === true ? env : cacheDirs('symbols').user;
  const candidates =
    euid() === 0 && wanted !== SYSTEM_SYMBOL_CACHE ? [wanted, SYSTEM_SYMBOL_CACHE] : [wanted];
  let why = '';
  for (const dir of candidates) {
    try {
      ensurePrivateDir(dir);
      // `why` keeps the reason a preferred directory was passed over.
      return { dir, why };
    } catch (e) {
      why = `${why}${why ? '; ' : ''}${(e as Error).message}`;
    }
  }
  return { dir: null, why };
}

/** Forgets the directory chosen (tests change the environment). */
export function resetSymbolCacheDir(): void {
  dirChoice = undefined;
}

function entryPath(dir: string, key: string[]): string {
  const h = createHash('sha256');
  h.update(FORMAT);
  h.update(rulesVersion());
  for (const k of key) h.update(`\u0000${k}`);
  return join(dir, `${h.digest('hex')}.symtab`);
}

/**
 * The table cached under `key`, else `build()`'s, stored for next time. `extra` rides along
 * (kallsyms' `_text`). A null from `build` is passed on and not stored.
 */
export async function cachedTable(
  key: string[],
  build: () => Promise<{ table: SymbolTable; extra: number | null } | null>,
): Promise<{ table: SymbolTable; extra: number | null } | null> {
  const { dir } = symbolCacheDir();
  if (dir === null) return build();
  const path = entryPath(dir, key);
  const hit = await readEntry(path);
  if (hit !== null) return hit;
  const built = await build();
  if (built !== null) await writeEntry(dir, path, tableToBlob(built.table, built.extra));
  return built;
}

async function readEntry(path: string): Promise<{ table: SymbolTable; extra: number | null } | null> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.uid !== euid() || (st.mode & 0o022) !== 0 || st.size > MAX_ENTRY_BYTES)
      return null;
    return tableFromBlob(await fh.readFile());
  } catch {
    return null;
  } finally {
    await fh.close();
  }
}

async function writeEntry(dir: string, path: string, blob: Buffer): Promise<void> {
  if (blob.length > MAX_ENTRY_BYTES || untrustedReason(dir) !== null) return;
  try {
    // fsynced before the rename: a power cut must not leave a zero-filled entry that still parses.
    await writeFileAtomic(path, blob);
    await pruneSymbolCache(dir);
  } catch {
    // A cache that cannot be written is only slower.
  }
}

/**
 * Keeps the most recently written entries, at most `limits.entries` of them and `limits.bytes`
 * together; other files in the directory are left alone. Returns how many entries it removed.
 */
export async function pruneSymbolCache(
  dir: string,
  limits: { entries: number; bytes: number } = { entries: MAX_ENTRIES, bytes: MAX_TOTAL_BYTES },
): Promise<number> {
  const names = (await readdir(dir)).filter((n) => ENTRY.test(n));
  const entries = await Promise.all(
    names.map((n) =>
      lstat(join(dir, n)).then(
        (st) => ({ n, t: st.mtimeMs, size: st.size }),
        () => null,
      ),
    ),
  );
  const newestFirst = entries.filter((e) => e !== null).sort((x, y) => y.t - x.t);
  let kept = 0;
  let bytes = 0;
  let removed = 0;
  for (const e of newestFirst) {
    if (kept < limits.entries && bytes + e.size <= limits.bytes) {
      kept++;
      bytes += e.size;
    } else if (
      await unlink(join(dir, e.n)).then(
        () => true,
        () => false,
      )
    )
      removed++;
  }
  return removed;
}
