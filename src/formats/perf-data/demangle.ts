/**
 * C++ and Rust symbol demangling as perf 6.1 prints it: perf calls libiberty's cplus_demangle
 * without DMGL_PARAMS/DMGL_VERBOSE (symbol-elf.c, demangle_sym), i.e. no parameter lists and
 * std:: abbreviations kept. binutils' `c++filt -p -i` is the same demangler with the same flags,
 * so all names of a profile go through one `c++filt` process, one name per line.
 * Measured alternative: see bench/README.md (native decoding section).
 */
import { spawn } from 'node:child_process';

/** Names a demangler could change: Itanium C++ (`_Z`) and Rust v0 (`_R`) manglings, one token. */
export function needsDemangling(name: string): boolean {
  return (name.startsWith('_Z') || name.startsWith('_R')) && /^_[ZR][\w.$]+(@plt)?$/.test(name);
}

export interface Demangled {
  names: Map<string, string>;
  /** `c++filt -p -i (N names)`, or why names stayed mangled. */
  tool: string;
}

/** Demangles `names` through one c++filt; on any failure every name stays as it is. */
export async function demangleAll(all: string[], tool = 'c++filt'): Promise<Demangled> {
  // `_ZN...@plt`: perf demangles the dynamic symbol, then appends @plt.
  const names = all.map((n) => (n.endsWith('@plt') ? n.slice(0, -4) : n));
  const d = await demangleNames(names, tool);
  const out = new Map<string, string>();
  all.forEach((n, i) => {
    const m = d.names.get(names[i]);
    if (m !== undefined) out.set(n, n.endsWith('@plt') ? `${m}@plt` : m);
  });
  return { names: out, tool: d.tool };
}

async function demangleNames(names: string[], tool: string): Promise<Demangled> {
  const out = new Map<string, string>();
  if (names.length === 0) return { names: out, tool: 'none needed' };
  const result = await new Promise<{ ok: boolean; text: string; why: string }>((resolve) => {
    const child = spawn(tool, ['-p', '-i'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (e) => resolve({ ok: false, text: '', why: e.message }));
    child.once('close', (code) =>
      resolve({ ok: code === 0, text: Buffer.concat(chunks).toString('utf8'), why: `exit ${code}` }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(`${names.join('\n')}\n`);
  });
  const lines = result.text.split('\n');
  if (!result.ok || lines.length < names.length) {
    return { names: out, tool: `none: ${tool} failed (${result.why}); C++/Rust names left mangled` };
  }
  for (let i = 0; i < names.length; i++) out.set(names[i], lines[i]);
  return { names: out, tool: `${tool} -p -i (${names.length} names, one process)` };
}
