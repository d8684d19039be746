/**
 * The rest of what later analysis needs from the recording host, beside the sampled binaries
 * (symbol-cache.ts): the kernel's symbol table and the vdso image, put in the run's build-id cache
 * in perf's layout (`[kernel.kallsyms]/BID/kallsyms`, `[vdso]/BID/vdso`, plus perf's
 * `.build-id/xx/rest` link to the entry's directory), each only when its build id is the one the
 * recording names; and, when asked (`record --archive`), `perf.data.tar.bz2` in the run directory:
 * what `perf archive` packs (the build-id cache entries the recording hit, kallsyms included),
 * which `analyze RUN` and `analyze perf.data --archive FILE` read with no perf installed.
 *
 * Root safety: the run directory is owner-only and crosstalk's own, but nothing in it is followed:
 * the cache is walked with lstat (links are skipped, never packed), the tarball holds only regular
 * files under relative paths without `..` (perf's `.build-id` links, whose targets climb with `..`,
 * are left out: crosstalk's reader finds entries by path and build id), and it is created with
 * O_EXCL | O_NOFOLLOW, mode 0600.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readElf } from '../formats/perf-data/elf.ts';
import { readFeatures } from '../formats/perf-data/features.ts';
import { FILE_HEADER_SIZE, parseFileHeader, readAt } from '../formats/perf-data/file-header.ts';
import { runningKernelBuildId } from '../formats/perf-data/symbol-sources.ts';

/** What a run directory's archive holds, or why there is none. */
export interface RunArchiveFacts {
  /** Relative to the run directory. */
  file: string | null;
  files: number;
  bytes: number;
  /** Why no archive was written (tar failed, nothing to pack). */
  skipped?: string;
}

/** `perf archive`'s name for the tarball of `perf.data`, which import picks up beside it. */
export const RUN_ARCHIVE = 'perf.data.tar.bz2';
/** perf's .build-id links are not packed; more entries than this are not a run's cache. */
const MAX_ARCHIVE_FILES = 100_000;

/**
 * The kernel's and the vdso's build ids as the recording's header lists them (HEADER_BUILD_ID):
 * what perf and the native decoder look up. `perf buildid-list --with-hits` marks only the DSOs
 * of sampled addresses, not of call-chain frames, so it can miss a vdso that stacks go through.
 */
export async function recordedSpecialIds(
  perfData: string,
): Promise<{ kernel: string | null; vdso: string | null }> {
  const none = { kernel: null, vdso: null };
  try {
    const fh = await open(perfData, 'r');
    try {
      const size = (await fh.stat()).size;
      const header = parseFileHeader(await readAt(fh, 0, FILE_HEADER_SIZE), perfData);
      const ids = (await readFeatures(fh, header, size, [])).buildIds ?? [];
      return {
        kernel: ids.find((b) => b.kernel && b.filename === '[kernel.kallsyms]')?.buildId ?? null,
        vdso: ids.find((b) => b.filename === '[vdso]')?.buildId ?? null,
      };
    } finally {
      await fh.close();
    }
  } catch {
    return none;
  }
}

/*
 * `perf buildid-list --with-hits` lines for the kernel and the vdso (perf 6.1):
 *   7dd4ff0789e05e14285320129149da2555ca0bfc [kernel.kallsyms]
 *   8275fa1c4d7e439200d3a337923bb8b37065901d [vdso]
 */
export function specialBuildIds(listText: string): { kernel: string | null; vdso: string | null } {
  const kernel = /^([0-9a-f]{40}) \[kernel\.kallsyms\]$/m.exec(listText)?.[1] ?? null;
  const vdso = /^([0-9a-f]{40}) \[vdso\]$/m.exec(listText)?.[1] ?? null;
  return { kernel, vdso };
}

/**
 * Puts kallsyms and the vdso into `cacheDir` when the running kernel is the recording's (same
 * build ids). Returns what was kept and why anything was not; never throws.
 */
export async function keepKernelAndVdso(
  cacheDir: string,
  ids: { kernel: string | null; vdso: string | null },
): Promise<{ kept: string[]; skipped: { path: string; buildId: string; reason: string }[] }> {
  const kept: string[] = [];
  const skipped: { path: string; buildId: string; reason: string }[] = [];
  if (ids.kernel !== null) {
    const why = await keepKallsyms(cacheDir, ids.kernel);
    if (why === null) kept.push('[kernel.kallsyms]');
    else skipped.push({ path: '[kernel.kallsyms]', buildId: ids.kernel, reason: why });
  }
  if (ids.vdso !== null) {
    const why = await keepVdso(cacheDir, ids.vdso);
    if (why === null) kept.push('[vdso]');
    else skipped.push({ path: '[vdso]', buildId: ids.vdso, reason: why });
  }
  return { kept, skipped };
}

async function entryDir(cacheDir: string, name: string, bid: string): Promise<string> {
  const dir = join(cacheDir, name, bid);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // perf finds cache entries through `.build-id/xx/rest` -> `../../NAME/BID` (perf 6.1 layout).
  const links = join(cacheDir, '.build-id', bid.slice(0, 2));
  await mkdir(links, { recursive: true, mode: 0o700 });
  await symlink(join('..', '..', name, bid), join(links, bid.slice(2))).catch(() => undefined);
  return dir;
}

async function keepKallsyms(cacheDir: string, bid: string): Promise<string | null> {
  if ((await runningKernelBuildId()) !== bid) return 'the running kernel is not the recorded one';
  try {
    const text = await readFile('/proc/kallsyms');
    // kptr_restrict hides addresses (all zero): such a table cannot symbolize anything.
    if (!/^0*[1-9a-f][0-9a-f]* /m.test(text.subarray(0, 4096).toString('latin1')))
      return '/proc/kallsyms has no addresses (kptr_restrict)';
    const dir = await entryDir(cacheDir, '[kernel.kallsyms]', bid);
    const fh = await open(join(dir, 'kallsyms'), exclusive(), 0o600);
    try {
      await fh.writeFile(text);
    } finally {
      await fh.close();
    }
    return null;
  } catch (e) {
    return `kallsyms not written: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
}

/** The vdso of this process (the kernel maps the same image into every 64-bit process). */
async function keepVdso(cacheDir: string, bid: string): Promise<string | null> {
  try {
    const maps = await readFile('/proc/self/maps', 'utf8');
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s+\[vdso\]$/m.exec(maps);
    if (m === null) return 'this process has no vdso';
    const start = BigInt(`0x${m[1]}`);
    const len = Number(BigInt(`0x${m[2]}`) - start);
    if (len <= 0 || len > 1 << 20) return 'the vdso mapping has an unexpected size';
    const image = Buffer.alloc(len);
    const mem = await open('/proc/self/mem', 'r');
    try {
      await mem.read(image, 0, len, Number(start));
    } finally {
      await mem.close();
    }
    const dir = await entryDir(cacheDir, '[vdso]', bid);
    const file = join(dir, 'vdso');
    const fh = await open(file, exclusive(), 0o600);
    try {
      await fh.writeFile(image);
    } finally {
      await fh.close();
    }
    if ((await readElf(file, false))?.buildId !== bid) {
      await rm(file, { force: true });
      return 'this host’s vdso has another build id (a 32-bit process?)';
    }
    return null;
  } catch (e) {
    return `vdso not written: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
}

function exclusive(): number {
  return constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
}

/** Regular files under `dir` (relative paths), walked without following links. */
export async function regularFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      if (out.length >= MAX_ARCHIVE_FILES) return;
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) out.push(path);
    }
  };
  await walk('');
  return out.filter((p) => !p.split('/').includes('..') && !p.includes('\n'));
}

/**
 * `RUN/perf.data.tar.bz2` from the run's build-id cache `cacheDir`: regular files only, relative
 * paths, numeric owner 0. Never throws; facts say what happened.
 */
export async function writeRunArchive(runDir: string, cacheDir: string): Promise<RunArchiveFacts> {
  const none = (skipped: string): RunArchiveFacts => ({ file: null, files: 0, bytes: 0, skipped });
  let files: string[];
  try {
    const st = await lstat(cacheDir);
    if (!st.isDirectory()) return none('the run has no build-id cache');
    files = await regularFiles(cacheDir);
  } catch {
    return none('the run has no build-id cache');
  }
  if (files.length === 0) return none('the build-id cache is empty');
  const target = join(runDir, RUN_ARCHIVE);
  let out: Awaited<ReturnType<typeof open>>;
  try {
    out = await open(target, exclusive(), 0o600);
  } catch (e) {
    return none(`cannot create ${RUN_ARCHIVE}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const why = await tarInto(cacheDir, files, out.fd).finally(() => out.close());
  if (why !== null) {
    await rm(target, { force: true });
    return none(why);
  }
  return { file: RUN_ARCHIVE, files: files.length, bytes: (await lstat(target)).size };
}

/** System tar (GNU): the NUL-separated list on stdin, the bzip2 tarball to `fd`. */
function tarInto(dir: string, files: string[], fd: number): Promise<string | null> {
  return new Promise((resolve) => {
    const args = ['-c', '-j', '-f', '-', '-C', dir, '--no-recursion', '--numeric-owner', '--owner=0'];
    args.push('--group=0', '--null', '-T', '-');
    const child = spawn('tar', args, { stdio: ['pipe', fd, 'pipe'] });
    const stdin = child.stdin as NonNullable<typeof child.stdin>;
    const stderr = child.stderr as NonNullable<typeof child.stderr>;
    let err = '';
    stderr.setEncoding('utf8');
    stderr.on('data', (s: string) => {
      if (err.length < 2000) err += s;
    });
    child.once('error', (e: NodeJS.ErrnoException) => resolve(`tar cannot run: ${e.code ?? e.message}`));
    child.once('close', (code) =>
      resolve(code === 0 ? null : `tar exited ${code}: ${err.split('\n')[0] ?? ''}`),
    );
    stdin.on('error', () => undefined);
    stdin.end(files.map((f) => `${f}\0`).join(''));
  });
}
