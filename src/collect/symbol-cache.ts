/**
 * Symbols that outlive containers: at the end of a recording, the binaries perf sampled are copied
 * into the run's own build-id cache, `RUN/build-id/` in perf's layout (`<path>/<build id>/elf` plus
 * `.build-id/<xx>/<rest>` links), by `perf buildid-cache --target-ns PID -a PATH` while a process
 * that maps them still exists: perf enters that process's mount namespace, so a binary inside a
 * container is read from the container's filesystem. Analysis later runs `perf --buildid-dir
 * RUN/build-id script`, and perf finds each binary by its build id after the container and its
 * image are gone.
 *
 * Measured here (perf 6.1, a 2 s system-wide recording next to a Docker container): `perf
 * --buildid-dir DIR record` without -N also caches the container's binary, but copies every binary
 * the host ran: 202 MB (node 97 MB, containerd 47 MB, libpython 22 MB) in one recording. So perf
 * records with -N and this module copies what was sampled, container binaries first, within a
 * budget. `perf buildid-list --with-hits` took 0.34 s, one `buildid-cache -a` 0.02 s.
 */
import { chmod, lstat, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readElf } from '../formats/perf-data/elf.ts';
import { type CommandRunner, spawnCommand } from './command-runner.ts';
import {
  keepKernelAndVdso,
  type RunArchiveFacts,
  recordedSpecialIds,
  specialBuildIds,
} from './run-build-ids.ts';

/** The run's build-id cache directory, beside perf.data. */
export const BUILD_ID_DIR = 'build-id';

/**
 * Default budget, bytes: the lab's binaries and their libc are ~3 MB; one big host binary (node,
 * 97 MB) alone would pass it and is skipped with a note rather than copied into every run.
 */
export const SYMBOL_BUDGET_BYTES = 64 * 1024 * 1024;

export interface KeptBinary {
  path: string;
  buildId: string;
  bytes: number;
  /** `container`: read through a containerised process's mount namespace; `host`: the host's. */
  from: 'container' | 'host';
}

export interface SymbolCacheFacts {
  /** Relative to the run directory (perf's `--buildid-dir` layout). */
  dir: string;
  budgetBytes: number;
  bytes: number;
  kept: KeptBinary[];
  /** Sampled binaries not kept, with the reason (`no live process maps it`, `over the budget`...). */
  skipped: { path: string; buildId: string; reason: string }[];
  /** `[kernel.kallsyms]` and `[vdso]` when kept (run-build-ids.ts); absent in older runs. */
  special?: string[];
  /** `record --archive`: the run's perf.data.tar.bz2 (run-build-ids.ts). */
  archive?: RunArchiveFacts;
}

/** A process that may map sampled binaries; container processes are tried first. */
export interface MappingProcess {
  pid: number;
  inContainer: boolean;
}

export interface KeepOptions {
  perfPath: string;
  perfData: string;
  runDir: string;
  processes: readonly MappingProcess[];
  budgetBytes?: number;
  env?: NodeJS.ProcessEnv;
  runner?: CommandRunner;
}

interface SampledBinary {
  buildId: string;
  path: string;
}

/*
 * `perf buildid-list --with-hits -i perf.data` (perf 6.1), one DSO with samples per line:
 *   7dd4ff0789e05e14285320129149da2555ca0bfc [kernel.kallsyms]
 *   dcb0cfffee6007722077ef5e6d9dd6f24d2ca212 /crosstalk/bin/query-server
 *                                            /tmp/perf-29291.map
 * JIT maps, memfd and deleted files have no build id (blank) and are not files to keep.
 */
export function parseBuildIdList(text: string): SampledBinary[] {
  const out = new Map<string, SampledBinary>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{40}|[0-9a-f]{32}) (\/\S.*)$/.exec(line);
    if (m === null || m[2].endsWith(' (deleted)') || m[2].startsWith('/memfd:')) continue;
    // perf lists a binary once per mount namespace that mapped it; perf finds it by build id, so
    // one copy serves all (the lab's four containers list /crosstalk/bin/query-server four times).
    if (!out.has(m[1])) out.set(m[1], { buildId: m[1], path: m[2] });
  }
  return [...out.values()];
}

/** Copies the sampled binaries into `RUN/build-id`; never throws (a failure is a skipped entry). */
export async function keepSampledBinaries(opts: KeepOptions): Promise<SymbolCacheFacts> {
  const run = opts.runner ?? spawnCommand;
  const env = opts.env ?? process.env;
  const budget = opts.budgetBytes ?? SYMBOL_BUDGET_BYTES;
  const dir = join(opts.runDir, BUILD_ID_DIR);
  const facts: SymbolCacheFacts = { dir: BUILD_ID_DIR, budgetBytes: budget, bytes: 0, kept: [], skipped: [] };
  const list = await run(opts.perfPath, ['buildid-list', '--with-hits', '-i', opts.perfData], {
    timeoutMs: 60_000,
    env,
  });
  if (list.kind !== 'exited' || list.code !== 0) {
    facts.skipped.push({ path: opts.perfData, buildId: '', reason: 'perf buildid-list failed' });
    return facts;
  }
  // Owner-only, as every run file: the binaries of the host's processes are in it. perf makes
  // its subdirectories 0755 inside; this one keeps them from other users.
  await mkdir(dir, { mode: 0o700 }).catch(() => undefined);
  await chmod(dir, 0o700).catch(() => undefined);
  const hit = specialBuildIds(list.stdout);
  const recorded = await recordedSpecialIds(opts.perfData);
  const special = await keepKernelAndVdso(dir, {
    kernel: recorded.kernel ?? hit.kernel,
    vdso: recorded.vdso ?? hit.vdso,
  });
  facts.special = special.kept;
  facts.skipped.push(...special.skipped);
  const found = await Promise.all(parseBuildIdList(list.stdout).map((b) => locate(b, opts.processes)));
  // Container binaries first (they vanish with the container), then the smallest host binaries.
  found.sort((a, b) => rank(a) - rank(b) || (a.where?.bytes ?? 0) - (b.where?.bytes ?? 0));
  for (const { binary, where, reason } of found) {
    if (where === null) {
      facts.skipped.push({ ...binary, reason });
      continue;
    }
    if (facts.bytes + where.bytes > budget) {
      facts.skipped.push({ ...binary, reason: `over the budget of ${budget} bytes` });
      continue;
    }
    const args = ['--buildid-dir', dir, 'buildid-cache', '-a', binary.path];
    if (where.pid !== null) args.splice(3, 0, '--target-ns', String(where.pid));
    const r = await run(opts.perfPath, args, { timeoutMs: 30_000, env });
    if (r.kind !== 'exited' || r.code !== 0) {
      facts.skipped.push({ ...binary, reason: 'perf buildid-cache failed' });
      continue;
    }
    facts.bytes += where.bytes;
    facts.kept.push({ ...binary, bytes: where.bytes, from: where.pid === null ? 'host' : 'container' });
  }
  return facts;
}

interface Located {
  binary: SampledBinary;
  /** pid null: the host's own mount namespace. */
  where: { pid: number | null; bytes: number } | null;
  reason: string;
}

function rank(l: Located): number {
  return l.where === null ? 2 : l.where.pid === null ? 1 : 0;
}

/**
 * The first process whose filesystem holds the binary with the sampled build id: container
 * processes first, then the host. A path with a symbolic link in it is not followed (through
 * /proc/PID/root an absolute link would resolve on the host, where a container user could point
 * it at any file).
 */
async function locate(binary: SampledBinary, processes: readonly MappingProcess[]): Promise<Located> {
  const roots: { pid: number | null; root: string }[] = [
    ...processes.filter((p) => p.inContainer).map((p) => ({ pid: p.pid, root: `/proc/${p.pid}/root` })),
    { pid: null, root: '' },
  ];
  let reason = 'binary gone: no live process or host path has it';
  for (const { pid, root } of roots) {
    const file = `${root}${binary.path}`;
    if (!(await noLinks(root, binary.path))) continue;
    const id = await elfBuildId(file);
    if (id === null) continue;
    if (id !== binary.buildId) {
      reason = 'the file at that path now has another build id';
      continue;
    }
    const bytes = (await stat(file)).size;
    return { binary, where: { pid, bytes }, reason: '' };
  }
  return { binary, where: null, reason };
}

async function noLinks(root: string, path: string): Promise<boolean> {
  let at = root;
  for (const part of path.split('/').filter((p) => p !== '')) {
    at = `${at}/${part}`;
    const st = await lstat(at).catch(() => null);
    if (st === null || st.isSymbolicLink()) return false;
  }
  return true;
}

/** The GNU build id of a 64-bit little-endian ELF file, or null (not ELF, no note, unreadable, not a regular file). */
export async function elfBuildId(file: string): Promise<string | null> {
  return (await readElf(file, false))?.buildId ?? null;
}
