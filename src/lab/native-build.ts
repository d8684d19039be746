/**
 * Compiles the lab workloads (./native/*.c, *.cc) with the system compiler on first use, into
 * `$XDG_CACHE_HOME/crosstalk/lab/<hash>/` (default ~/.cache), keyed by a hash of the sources,
 * the flags and the compiler's version line. Each binary is compiled to a temporary name and
 * renamed into place, so concurrent builds and interrupted builds never leave a broken binary.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError } from '../formats/errors.ts';

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

function defaultCacheRoot(): string {
  // The XDG spec says to ignore a relative XDG_CACHE_HOME.
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg?.startsWith('/') ? xdg : join(homedir(), '.cache'), 'crosstalk', 'lab');
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

async function compilerVersion(cmd: string): Promise<string | null> {
  const r = await runTool(cmd, ['--version']);
  return r.code === 0 ? r.output.split('\n')[0] : null;
}

interface Toolchain {
  cc: string;
  cxx: string | null;
  identity: string;
}

async function findToolchain(): Promise<Toolchain> {
  const cc = process.env.CC || 'cc';
  const ccVersion = await compilerVersion(cc);
  if (ccVersion === null)
    throw new ToolError('cc', `no C compiler to build the lab workloads (${cc}: not found)`);
  const cxx = process.env.CXX || 'c++';
  const cxxVersion = await compilerVersion(cxx);
  return { cc, cxx: cxxVersion ? cxx : null, identity: `${ccVersion}\n${cxxVersion ?? 'no c++'}` };
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
    throw new ToolError(
      'cc',
      `building lab workload ${name} failed (${cmd} ${args.join(' ')}): ${r.output.trim()}`,
    );
  }
  renameSync(tmp, out);
}

/** Builds the workloads unless the cache already has them. */
export async function buildWorkloads(
  opts: { cacheRoot?: string; onProgress?: (msg: string) => void } = {},
): Promise<BuiltWorkloads> {
  const srcDir = nativeSourceDir();
  const toolchain = await findToolchain();
  const cacheDir = join(opts.cacheRoot ?? defaultCacheRoot(), cacheKey(srcDir, toolchain));
  mkdirSync(cacheDir, { recursive: true });
  const names = Object.keys(sources) as WorkloadName[];
  const missing = names.filter((n) => !existsSync(join(cacheDir, n)));
  if (missing.length > 0) {
    opts.onProgress?.(`compiling lab workloads into ${cacheDir}`);
    await Promise.all(missing.map((n) => compileOne(n, srcDir, cacheDir, toolchain)));
  }
  const binaries = Object.fromEntries(names.map((n) => [n, join(cacheDir, n)])) as Record<
    WorkloadName,
    string
  >;
  return { binaries, cxx: toolchain.cxx !== null, cacheDir, compiled: missing.length > 0 };
}
