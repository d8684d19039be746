/**
 * Compiles the lab workloads (./native/*.c, *.cc) with the system compiler on first use, into
 * `$XDG_CACHE_HOME/crosstalk/lab/<hash>/` (default ~/.cache; /var/cache/crosstalk/lab when that
 * path is not root's own), keyed by a hash of the sources, the flags and the compilers' paths and
 * content. Cached binaries are verified (owner, mode, content hash) before they are run. Each binary is compiled to a temporary name and
 * renamed into place, so concurrent builds and interrupted builds never leave a broken binary.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError } from '../formats/errors.ts';
import { writeFileAtomicSync } from '../safety/atomic-file.ts';
import { removeTreeNoFollow } from '../safety/safe-remove.ts';
import {
  cacheDirs,
  ensurePrivateDir,
  euid,
  nearestExisting,
  untrustedReason,
} from '../safety/trusted-path.ts';

export type WorkloadName =
  | 'query-server'
  | 'cache-prober'
  | 'static-server'
  | 'spool-writer'
  | 'wal-writer'
  | 'cpu-hog'
  | 'cpu-server'
  | 'loopback-rpc';

export interface BuiltWorkloads {
  /** Absolute path of each workload binary. */
  binaries: Record<WorkloadName, string>;
  /** True when the query server was built as C++ (frames demangle as LogFileObject::Write). */
  cxx: boolean;
  cacheDir: string;
  /** False when everything came from the cache. */
  compiled: boolean;
}

const sources: Record<WorkloadName, string> = {
  'query-server': 'query-server.cc',
  'cache-prober': 'cache-prober.c',
  'static-server': 'static-server.c',
  'spool-writer': 'spool-writer.c',
  'wal-writer': 'wal-writer.c',
  'cpu-hog': 'cpu-hog.c',
  'cpu-server': 'cpu-server.c',
  'loopback-rpc': 'loopback-rpc.c',
};

/**
 * Frame pointers everywhere, so frame-pointer stacks show every app frame: also in leaf functions,
 * also on the fast path (GCC's shrink-wrapping otherwise sets up LogFileObject::Write's frame only
 * on its error path, and the sampled syscall would skip the caller), and no sibling calls (a tail
 * call would drop LogMessage::Flush from the chain).
 */
function commonFlags(): string[] {
  const flags = [
    '-O2',
    '-g',
    '-fno-omit-frame-pointer',
    '-fno-shrink-wrap',
    '-fno-optimize-sibling-calls',
    '-Wall',
  ];
  if (process.arch === 'x64' || process.arch === 'arm64') flags.push('-mno-omit-leaf-frame-pointer');
  return flags;
}

/**
 * The native sources: next to this module when run from src/, or under ../src/lab/native when
 * bundled into dist/.
 */
export function nativeSourceDir(): string {
  const candidates = [new URL('./native/', import.meta.url), new URL('../src/lab/native/', import.meta.url)];
  for (const url of candidates) {
    const dir = fileURLToPath(url);
    if (existsSync(join(dir, sources['query-server']))) return dir;
  }
  throw new ToolError(
    'cc',
    `lab workload sources not found (looked in ${candidates.map((u) => u.pathname).join(', ')})`,
  );
}

/** Where root keeps the build cache when the caller's XDG/HOME cache is not its own. */
export const systemCacheRoot = cacheDirs('lab').system;

/**
 * `$XDG_CACHE_HOME/crosstalk/lab` (default ~/.cache), unless part of that path belongs to or can
 * be written by another user: under `sudo -E` or `su` without `-`, root inherits a user's
 * XDG_CACHE_HOME/HOME, and whatever that user planted there would run as root. Then the system
 * cache is used instead, and `onProgress` says so.
 */
function cacheRootFor(onProgress?: (msg: string) => void): string {
  const root = cacheDirs('lab').user;
  const why = untrustedReason(nearestExisting(root));
  if (why === null) return root;
  onProgress?.(`ignoring the build cache ${root} (${why}); using ${systemCacheRoot}`);
  return systemCacheRoot;
}

interface ToolRun {
  code: number | null;
  output: string;
  missing: boolean;
}

function runTool(cmd: string, args: string[]): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ code: null, output: e.message, missing: e.code === 'ENOENT' }),
    );
    child.on('close', (code) => resolve({ code, output, missing: false }));
  });
}

interface Toolchain {
  cc: string;
  cxx: string | null;
  /** Resolved paths and content hashes of the compiler drivers: read, never run, for the key. */
  identity: string;
}

/** `cmd` as spawn would find it (PATH search), resolved through links; null when absent. */
function resolveCommand(cmd: string): string | null {
  const dirs = cmd.includes('/') ? [''] : (process.env.PATH ?? '/usr/bin:/bin').split(':');
  for (const dir of dirs) {
    const candidate = dir === '' ? cmd : join(dir, cmd);
    try {
      accessSync(candidate, constants.X_OK);
      const real = realpathSync(candidate);
      if (statSync(real).isFile()) return real;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

/**
 * A compiler root is about to run must be as trusted as the binaries it makes: owned by root (or
 * us), not writable by anyone else, in a trusted directory.
 */
function identityOf(cmd: string, path: string): string {
  const why = untrustedReason(path);
  if (why !== null) throw new ToolError('cc', `refusing to run the compiler ${cmd} (${path}): ${why}`);
  return `${path} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
}

/**
 * The compilers named by CC/CXX (default cc, c++), found without running them: a cached build
 * runs no compiler at all, so a CC from the environment never runs unless something is built.
 */
function findToolchain(): Toolchain {
  const cc = process.env.CC || 'cc';
  const ccPath = resolveCommand(cc);
  if (ccPath === null)
    throw new ToolError('cc', `no C compiler to build the lab workloads (${cc}: not found)`);
  const cxx = process.env.CXX || 'c++';
  const cxxPath = resolveCommand(cxx);
  const identity = `${identityOf(cc, ccPath)}\n${cxxPath === null ? 'no c++' : identityOf(cxx, cxxPath)}`;
  return { cc, cxx: cxxPath === null ? null : cxx, identity };
}

function cacheKey(dir: string, toolchain: Toolchain): string {
  const h = createHash('sha256');
  h.update(toolchain.identity);
  h.update(commonFlags().join(' '));
  h.update(process.arch);
  for (const file of readdirSync(dir).sort()) {
    if (!/\.(c|cc|h)$/.test(file)) continue;
    h.update(file);
    h.update(readFileSync(join(dir, file)));
  }
  return h.digest('hex').slice(0, 16);
}

function compileArgs(src: string, out: string, toolchain: Toolchain): [string, string[]] {
  const flags = commonFlags();
  if (src.endsWith('.cc') && toolchain.cxx !== null)
    return [toolchain.cxx, [...flags, '-std=gnu++17', '-o', out, src]];
  // Without a C++ compiler the query server builds as C (frames are then LogFileObject_Write).
  const lang = src.endsWith('.cc') ? ['-x', 'c'] : [];
  return [toolchain.cc, [...flags, '-std=gnu11', ...lang, '-o', out, src]];
}

async function compileOne(
  name: WorkloadName,
  srcDir: string,
  outDir: string,
  toolchain: Toolchain,
): Promise<void> {
  const out = join(outDir, name);
  const tmp = `${out}.tmp-${process.pid}`;
  const [cmd, args] = compileArgs(join(srcDir, sources[name]), tmp, toolchain);
  const r = await runTool(cmd, args);
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    const how = r.missing ? `${cmd}: not found` : r.code === null ? r.output.trim() : `exit status ${r.code}`;
    throw new ToolError(
      'cc',
      `building lab workload ${name} failed (${how}; ${cmd} ${args.join(' ')}): ${r.output.trim()}`,
    );
  }
  chmodSync(tmp, 0o755);
  renameSync(tmp, out);
}

const MANIFEST = 'manifest.json';

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * Why the cached binaries cannot be executed as they are (null when they can): each must be a
 * regular file (not a link) owned by us, writable by nobody else, with the content hash the build
 * recorded in the manifest.
 */
export function cacheProblem(cacheDir: string, names: readonly WorkloadName[]): string | null {
  const manifestPath = join(cacheDir, MANIFEST);
  let manifest: Record<string, unknown>;
  try {
    const st = lstatSync(manifestPath);
    if (!st.isFile() || st.uid !== euid() || (st.mode & 0o022) !== 0) return `${MANIFEST} is not ours`;
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  } catch {
    return `no ${MANIFEST}`;
  }
  for (const name of names) {
    const path = join(cacheDir, name);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch {
      return `${name} is missing`;
    }
    if (!st.isFile()) return `${name} is not a regular file`;
    if (st.uid !== euid()) return `${name} is owned by uid ${st.uid}`;
    if ((st.mode & 0o022) !== 0) return `${name} is writable by other users`;
    if (manifest[name] !== sha256File(path)) return `${name} does not match the hash recorded at build time`;
  }
  return null;
}

/**
 * Builds the workloads unless the cache already has them, verified (cacheProblem) before any of
 * them is returned for execution. The cache directory itself must be trusted (owned by root or
 * us, nobody else can write on its path); `cacheRoot` overrides the XDG default and is held to
 * the same rule.
 */
export async function buildWorkloads(
  opts: { cacheRoot?: string; onProgress?: (msg: string) => void } = {},
): Promise<BuiltWorkloads> {
  const srcDir = nativeSourceDir();
  const toolchain = findToolchain();
  const cacheRoot = opts.cacheRoot ?? cacheRootFor(opts.onProgress);
  const cacheDir = join(cacheRoot, cacheKey(srcDir, toolchain));
  ensurePrivateDir(cacheDir);
  const names = Object.keys(sources) as WorkloadName[];
  const problem = cacheProblem(cacheDir, names);
  if (problem !== null) {
    if (problem !== `no ${MANIFEST}`) opts.onProgress?.(`rebuilding lab workloads: cached ${problem}`);
    opts.onProgress?.(`compiling lab workloads into ${cacheDir}`);
    for (const n of [...names, MANIFEST]) removeTreeNoFollow(join(cacheDir, n));
    await Promise.all(names.map((n) => compileOne(n, srcDir, cacheDir, toolchain)));
    const hashes = Object.fromEntries(names.map((n) => [n, sha256File(join(cacheDir, n))]));
    writeFileAtomicSync(join(cacheDir, MANIFEST), `${JSON.stringify(hashes, null, 2)}\n`);
    const still = cacheProblem(cacheDir, names);
    if (still !== null)
      throw new ToolError('cc', `lab workloads in ${cacheDir} failed verification after building: ${still}`);
  }
  const binaries = Object.fromEntries(names.map((n) => [n, join(cacheDir, n)])) as Record<
    WorkloadName,
    string
  >;
  return { binaries, cxx: toolchain.cxx !== null, cacheDir, compiled: problem !== null };
}
