/**
 * Where the native decoder finds symbols, in perf's order of trust:
 *   - kernel: the recording's kallsyms in a build-id cache (`ROOT/[kernel.kallsyms]/BID/kallsyms`),
 *     else /proc/kallsyms only when the running kernel's build-id (/sys/kernel/notes) is the
 *     recording's; never another kernel's table;
 *   - user files: by build-id in the build-id caches (`ROOT/PATH/BID/elf`, `ROOT/.build-id/xx/yyy/elf`),
 *     /usr/lib/debug/.build-id/xx/yyy.debug, then /proc/PID/root/PATH while the process exists,
 *     then PATH; a file whose build-id differs from the recorded one is never used; a mapping
 *     recorded without a build-id takes the mapped file's own (perf's dso__load does the same);
 *   - JIT code: /tmp/perf-PID.map (inside the process's root while it exists).
 * Cache roots: an extracted `perf archive` (untrusted: only regular files, never symlinks), the
 * run directory's `build-id/`, then $PERF_BUILDID_DIR or ~/.debug.
 * Files are read with bounded parsers (elf.ts); a file that cannot be read gives no symbols.
 * Built tables are kept (symbol-table-cache.ts) by the identity of the files they came from, for
 * ELF files outside extracted archives and run directories (whose copies are new every time),
 * and by content for kallsyms: candidates are still chosen by reading their headers; only the
 * symbol parse is skipped.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type ElfInfo, readElf } from './elf.ts';
import { cachedTable } from './symbol-table-cache.ts';
import { parseKallsyms, SymbolColumns, SymbolTable } from './symtab.ts';

export interface CacheRoot {
  dir: string;
  /** Extracted from an archive someone else made: regular files only. */
  untrusted: boolean;
}

export interface KernelSymbols {
  table: SymbolTable;
  /** `_text` in the table, to relocate against the recording's kernel map. */
  text: number | null;
  /** Where the table came from, for the profile's warnings/facts. */
  source: string;
}

export interface DsoSymbols {
  table: SymbolTable | null;
  elf: ElfInfo | null;
  /** The file read, or null when none matched. */
  file: string | null;
  /** Why nothing was found (for the warning count). */
  missing?: string;
}

const MAX_MAP_BYTES = 256 << 20;
const MAX_KALLSYMS_BYTES = 64 << 20;

export function defaultCacheRoots(extra: CacheRoot[]): CacheRoot[] {
  const home = process.env.PERF_BUILDID_DIR ?? join(process.env.HOME ?? homedir(), '.debug');
  return [...extra, { dir: home, untrusted: false }];
}

/** Reads `path` only if it is a regular file (not a symlink when `noFollow`). */
async function readRegular(path: string, noFollow: boolean, max: number): Promise<Buffer | null> {
  try {
    const flags = constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0);
    const fh = await open(path, flags);
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size > max) return null;
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

async function isRegular(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}

let runningKernelId: string | null | undefined;

/** The running kernel's build-id from /sys/kernel/notes, or null. */
export async function runningKernelBuildId(): Promise<string | null> {
  if (runningKernelId !== undefined) return runningKernelId;
  runningKernelId = null;
  try {
    const b = await readFile('/sys/kernel/notes');
    let p = 0;
    while (p + 12 <= b.length) {
      const namesz = b.readUInt32LE(p);
      const descsz = b.readUInt32LE(p + 4);
      const type = b.readUInt32LE(p + 8);
      const desc = p + 12 + ((namesz + 3) & ~3);
      const next = desc + ((descsz + 3) & ~3);
      if (next > b.length) break;
      if (type === 3 && namesz === 4 && b.toString('latin1', p + 12, p + 15) === 'GNU') {
        runningKernelId = b.toString('hex', desc, desc + descsz);
        break;
      }
      p = next;
    }
  } catch {
    // no notes: not Linux, or sysfs hidden
  }
  return runningKernelId;
}

/** Kernel symbols for a recording whose kernel has build-id `bid` (null when unknown). */
export async function kernelSymbols(bid: string | null, roots: CacheRoot[]): Promise<KernelSymbols | string> {
  if (bid !== null) {
    for (const r of roots) {
      const path = join(r.dir, '[kernel.kallsyms]', bid, 'kallsyms');
      const k = await kallsymsFile(path, r.untrusted);
      if (k !== null && k.table.length > 0) return { ...k, source: `${path} (build-id cache)` };
    }
  }
  const running = await runningKernelBuildId();
  if (bid === null)
    return 'the recording names no kernel build-id, so no kallsyms can be trusted to match it';
  if (running !== bid) {
    return `the recording's kernel (build-id ${bid.slice(0, 12)}) is not the running one${running ? ` (${running.slice(0, 12)})` : ''} and no build-id cache holds its kallsyms`;
  }
  // /proc files report size 0, so no size check: read to the end.
  const k = parseKallsyms(await readFile('/proc/kallsyms').catch(() => Buffer.alloc(0)));
  if (k.table.length === 0 || k.text === 0) return '/proc/kallsyms has no addresses (kptr_restrict?)';
  return { ...k, source: '/proc/kallsyms (running kernel, same build-id)' };
}

/**
 * A build-id cache's kallsyms, parsed, or null when it is not a regular file. The table is kept
 * in the symbol-table cache under the text's sha256 (a few ms for 5 MB; the parse takes ~40):
 * every run directory holds its own copy of the same kallsyms, and a table that is a function of
 * the bytes alone is safe to share whoever's copy it came from.
 */
async function kallsymsFile(
  path: string,
  untrusted: boolean,
): Promise<{ table: SymbolTable; text: number | null } | null> {
  const buf = await readRegular(path, untrusted, MAX_KALLSYMS_BYTES);
  if (buf === null) return null;
  const digest = createHash('sha256').update(buf).digest('hex');
  const got = await cachedTable(['kallsyms-sha256', digest], async () => {
    const k = parseKallsyms(buf);
    return { table: k.table, extra: k.text };
  });
  return got === null ? null : { table: got.table, text: got.extra };
}

/** ELF candidates for `path` with build-id `bid`, most trusted first. */
function elfCandidates(
  path: string,
  bid: string | null,
  pid: number,
  roots: CacheRoot[],
): { file: string; untrusted: boolean; check: boolean }[] {
  const out: { file: string; untrusted: boolean; check: boolean }[] = [];
  if (bid !== null) {
    for (const r of roots) {
      out.push({ file: join(r.dir, path, bid, 'elf'), untrusted: r.untrusted, check: true });
      out.push({ file: join(r.dir, path, bid, 'debug'), untrusted: r.untrusted, check: true });
      if (!r.untrusted)
        out.push({
          file: join(r.dir, '.build-id', bid.slice(0, 2), bid.slice(2), 'elf'),
          untrusted: false,
          check: true,
        });
    }
    out.push({
      file: join('/usr/lib/debug/.build-id', bid.slice(0, 2), `${bid.slice(2)}.debug`),
      untrusted: false,
      check: true,
    });
  }
  if (pid > 0 && path.startsWith('/'))
    out.push({ file: `/proc/${pid}/root${path}`, untrusted: true, check: bid !== null });
  if (path.startsWith('/')) out.push({ file: path, untrusted: false, check: bid !== null });
  return out;
}

/**
 * Symbols of the file mapped as `path`. perf uses the first candidate holding a `.symtab`,
 * else the first holding `.dynsym`; both only when their build-id matches the recorded one.
 */
export async function dsoSymbols(
  path: string,
  bid: string | null,
  pid: number,
  roots: CacheRoot[],
): Promise<DsoSymbols> {
  if (bid === null && path.startsWith('/')) {
    // A mapping recorded without a build-id (perf record --buildid-mmap gets none when the
    // kernel could not read the file's note, e.g. ld.so mapped by exec): as perf's dso__load
    // does, take the build-id of the file itself, so its debug file and cache entries are found.
    const own = await mappedFileBuildId(path, pid);
    if (own !== null) return dsoSymbols(path, own, pid, roots);
  }
  let dynOnly: Candidate | null = null;
  let runtime: Candidate | null = null;
  let symtab: Candidate | null = null;
  let withPlt: ElfInfo | null = null;
  let mismatch = false;
  for (const c of elfCandidates(path, bid, pid, roots)) {
    if (c.untrusted && !(await isRegular(c.file))) continue;
    // Headers first: the symbols are read (or found in the cache) only for the file chosen.
    const elf = await readElf(c.file, 'headers');
    if (elf === null) continue;
    if (c.check && elf.buildId !== bid) {
      mismatch = true;
      continue;
    }
    const read = { elf, file: c.file, untrusted: c.untrusted };
    if (runtime === null && elf.loads.length > 0) runtime = read;
    if (withPlt === null && elf.plt.length > 0) withPlt = elf;
    if (elf.table === 'symtab' && symtab === null) symtab = read;
    if (elf.table === 'dynsym' && dynOnly === null) dynOnly = read;
    // A .symtab plus the mapped file's PLT stubs is what perf reads (dso__load: syms_ss and
    // runtime_ss); a file without PLT stubs means reading every candidate, a few files at most.
    if (symtab !== null && withPlt !== null) break;
  }
  if (symtab !== null) {
    const donor = withPlt !== null && symtab.elf.plt.length === 0 ? withPlt : null;
    return finish(symtab, donor, runtime?.elf ?? symtab.elf);
  }
  if (dynOnly !== null) return finish(dynOnly, null, runtime?.elf ?? dynOnly.elf);
  if (runtime !== null)
    return { table: null, elf: runtime.elf, file: runtime.file, missing: 'no symbol table' };
  return {
    table: null,
    elf: null,
    file: null,
    missing: mismatch ? 'build-id differs from the recording' : 'file not found',
  };
}

/** The build-id of the file mapped as `path`: inside the process's root while it exists, else on the host. */
async function mappedFileBuildId(path: string, pid: number): Promise<string | null> {
  const inRoot = pid > 0 ? `/proc/${pid}/root${path}` : null;
  const file = inRoot !== null && (await isRegular(inRoot)) ? inRoot : path;
  const elf = await readElf(file, false);
  return elf?.buildId ?? null;
}

interface Candidate {
  elf: ElfInfo;
  file: string;
  untrusted: boolean;
}

/**
 * The symbols of the chosen file, with the load segments of the file that was mapped (a .debug
 * file's may differ). perf synthesizes `name@plt` from the runtime file
 * (dso__synthesize_plt_symbols(runtime_ss)), whichever file gave the .symtab: a separate debug
 * file's .rela.plt and .dynsym are NOBITS, so `donor`'s stubs are added. The table is cached by
 * the identities of both files; a file that changed between the two reads gives no symbols.
 */
async function finish(src: Candidate, donor: ElfInfo | null, runtime: ElfInfo): Promise<DsoSymbols> {
  const build = async () => {
    const full = await readElf(src.file, 'symbols');
    if (full === null || full.identity !== src.elf.identity) return null;
    if (donor !== null) for (const p of donor.plt) full.symbols.addNamed(p.start, p.size, 1, p.name);
    return { table: SymbolTable.fromColumns(full.symbols, false), extra: null };
  };
  const key = ['elf', src.elf.identity, donor?.identity ?? ''];
  const got = src.untrusted ? await build() : await cachedTable(key, build);
  const elf = runtime.loads.length > 0 ? runtime : src.elf;
  if (got === null) return { table: null, elf, file: src.file, missing: 'file changed while it was read' };
  return { table: got.table, elf, file: src.file };
}

/**
 * `/tmp/perf-PID.map` of a JIT: lines `START SIZE NAME` (hex, optional 0x). Read inside the
 * process's root while it runs (its own /tmp, its own pid), else from the host's /tmp.
 * perf keeps every line; at one address the last line wins here (the newest code there).
 */
export async function perfMapSymbols(pid: number): Promise<SymbolTable | null> {
  let path = `/tmp/perf-${pid}.map`;
  let noFollow = false;
  const nstgid = await namespacePid(pid);
  if (nstgid !== null) {
    path = `/proc/${pid}/root/tmp/perf-${nstgid}.map`;
    noFollow = true;
  }
  const buf = await readRegular(path, noFollow, MAX_MAP_BYTES);
  if (buf === null) return null;
  const cols = new SymbolColumns(buf);
  const line = /^(?:0x)?([0-9a-fA-F]{1,16}) (?:0x)?([0-9a-fA-F]{1,16}) /;
  let at = 0;
  while (at < buf.length) {
    let end = buf.indexOf(10, at);
    if (end === -1) end = buf.length;
    const head = buf.toString('latin1', at, Math.min(end, at + 40));
    const m = line.exec(head);
    if (m !== null) {
      const start = Number.parseInt(m[1], 16);
      const size = Number.parseInt(m[2], 16);
      if (Number.isSafeInteger(start) && Number.isSafeInteger(size))
        cols.add(start, size, 1, at + m[0].length, end);
    }
    at = end + 1;
  }
  return SymbolTable.fromPerfMap(cols);
}

/** The pid a process sees for itself (last NStgid), or null when it has exited. */
async function namespacePid(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^NStgid:\s*(.*)$/m.exec(status);
    if (m === null) return pid;
    const ids = m[1].trim().split(/\s+/);
    const last = Number(ids[ids.length - 1]);
    return Number.isInteger(last) ? last : pid;
  } catch {
    return null;
  }
}
