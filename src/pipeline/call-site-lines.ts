/**
 * file:line of the call sites a report names, after analysis: the heaviest caller address of each
 * (analysis/call-site-address.ts), one addr2line per ELF file (formats/perf-data/addr2line.ts).
 * The file is found by the build-id the recording listed, where the native decoder looks
 * (symbol-sources.ts: the run's build-id cache, ~/.debug, /usr/lib/debug, then the path only
 * with a matching build-id); it is opened once without following a final symlink, its build-id
 * checked on the opened descriptor, and that descriptor is what addr2line reads.
 * A return address points after its call, so address - 1 is looked up. Inlined code: the line is
 * the one in the function the report names (addr2line's outermost frame), e.g. the line that
 * calls an inlined syscall helper, and it is kept only when addr2line names that same function.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { AnalysisResult } from '../analysis/analyze.ts';
import type { StackAttribution } from '../analysis/attribute.ts';
import { functionNameOf } from '../analysis/call-site.ts';
import {
  ANY_WRAPPER,
  type CallSiteAddress,
  callSiteAddresses,
  callSiteKey,
} from '../analysis/call-site-address.ts';
import type { Finding } from '../analysis/findings.ts';
import type { SourceLine } from '../analysis/syscalls.ts';
import { addr2line } from '../formats/perf-data/addr2line.ts';
import { demangleAll, needsDemangling } from '../formats/perf-data/demangle.ts';
import { type ElfInfo, readElf } from '../formats/perf-data/elf.ts';
import { runBuildIdDir } from '../formats/perf-data/perf-script-process.ts';
import { defaultCacheRoots, dsoSymbols } from '../formats/perf-data/symbol-sources.ts';
import type { Profile } from '../model/profile.ts';
import { untrustedReason } from '../safety/trusted-path.ts';

/** The call-site keys (callSiteKey) a report names: its syscall tables' and its findings'. */
export function reportedCallSites(result: AnalysisResult, findings: readonly Finding[]): Set<string> {
  const keys = new Set<string>();
  for (const s of result.syscalls)
    for (const c of s.callSites)
      if (c.status === 'found') keys.add(callSiteKey(s.name, c.function, c.module, c.wrapper));
  for (const f of findings)
    if (f.callSite && f.syscall)
      keys.add(callSiteKey(f.syscall, f.callSite.function, f.callSite.module, ANY_WRAPPER));
  return keys;
}

/** file:line by callSiteKey, for the wanted keys that debug info can answer. */
export async function resolveCallSiteLines(
  p: Profile,
  attributionOf: (stack: number) => StackAttribution,
  wanted: ReadonlySet<string>,
): Promise<Map<string, SourceLine>> {
  const out = new Map<string, SourceLine>();
  if (wanted.size === 0) return out;
  const byModule = new Map<string, [string, CallSiteAddress][]>();
  for (const [key, a] of callSiteAddresses(p, attributionOf)) {
    if (!wanted.has(key)) continue;
    const list = byModule.get(a.module) ?? [];
    list.push([key, a]);
    byModule.set(a.module, list);
  }
  const runCache = runBuildIdDir(p.meta.source);
  const roots = defaultCacheRoots(runCache === null ? [] : [{ dir: runCache, untrusted: false }]);
  for (const [module, list] of byModule) {
    const bid = p.meta.buildIds?.[module];
    // No recorded build-id: no way to know the file on disk is the one that ran.
    if (bid === undefined) continue;
    const found = await dsoSymbols(module, bid, -1, roots);
    if (found.file === null) continue;
    await withCheckedFile(found.file, bid, async (fd, elf) => {
      for (const [key, line] of await linesInFile(fd, elf, list)) out.set(key, line);
    });
  }
  return out;
}

/**
 * Opens `path` without following a final symlink, unless the whole path is trusted (root's own:
 * safety/trusted-path.ts; Fedora's /usr/lib/debug/.build-id links), refuses anything but a
 * regular file (a FIFO cannot hang it: O_NONBLOCK), and checks the build-id on the opened
 * descriptor. Returns the open file and its ELF facts, or null; the caller closes it.
 */
export async function openCheckedElf(
  path: string,
  bid: string,
): Promise<{ fh: FileHandle; elf: ElfInfo } | null> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK;
  let fh: FileHandle;
  try {
    fh = await open(path, flags | constants.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ELOOP' || untrustedReason(path) !== null) return null;
    try {
      fh = await open(path, flags);
    } catch {
      return null;
    }
  }
  try {
    if (!(await fh.stat()).isFile()) throw new Error('not a regular file');
    const elf = await readElf(`/proc/self/fd/${fh.fd}`);
    if (elf === null || elf.buildId !== bid) throw new Error('not the recorded build');
    return { fh, elf };
  } catch {
    await fh.close();
    return null;
  }
}

/** Runs `use` on the checked file (openCheckedElf), then closes it. */
async function withCheckedFile(
  path: string,
  bid: string,
  use: (fd: number, elf: ElfInfo) => Promise<void>,
): Promise<void> {
  const opened = await openCheckedElf(path, bid);
  if (opened === null) return;
  try {
    await use(opened.fh.fd, opened.elf);
  } finally {
    await opened.fh.close();
  }
}

/** GCC clone suffixes perf shows and DWARF does not: `f.isra.0`, `f.constprop.2`, `f.part.1`, `f.cold`. */
function baseName(fn: string): string {
  return fn.replace(/(?:\.(?:isra|constprop|part|cold|lto_priv|localalias)(?:\.\d+)?)+$/, '');
}

async function linesInFile(
  fd: number,
  elf: ElfInfo,
  list: [string, CallSiteAddress][],
): Promise<Map<string, SourceLine>> {
  const starts = await symbolStarts(elf, list);
  const queries: { key: string; fn: string; address: number }[] = [];
  for (const [key, a] of list) {
    const bases = a.kind === 'module-address' ? [0] : (starts.get(a.frameName) ?? []);
    for (const b of bases)
      if (b + a.site >= 1) queries.push({ key, fn: a.function, address: b + a.site - 1 });
  }
  const out = new Map<string, SourceLine>();
  if (queries.length === 0) return out;
  const frames = await addr2line(
    fd,
    queries.map((q) => q.address),
  );
  if (typeof frames === 'string') return out;
  const ambiguous = new Set<string>();
  queries.forEach((q, i) => {
    const outer = frames[i].at(-1);
    if (!outer?.function || outer.file === null || outer.line === null) return;
    if (baseName(functionNameOf(outer.function)) !== baseName(q.fn)) return;
    const have = out.get(q.key);
    if (have && (have.file !== outer.file || have.line !== outer.line)) ambiguous.add(q.key);
    out.set(q.key, { file: outer.file, line: outer.line });
  });
  for (const k of ambiguous) out.delete(k);
  return out;
}

/**
 * Start addresses of the symbols the offsets are relative to, by the name the profile shows:
 * the ELF name itself, or its demangled form (perf shows C++ names demangled). Several symbols
 * may share a name (static functions of different files): all are tried, and addr2line's
 * function name decides.
 */
async function symbolStarts(elf: ElfInfo, list: [string, CallSiteAddress][]): Promise<Map<string, number[]>> {
  const names = new Set(list.filter(([, a]) => a.kind === 'symbol-offset').map(([, a]) => a.frameName));
  const out = new Map<string, number[]>();
  if (names.size === 0) return out;
  const cols = elf.symbols;
  const add = (name: string, start: number) => {
    const l = out.get(name) ?? [];
    if (!l.includes(start)) l.push(start);
    out.set(name, l);
  };
  // Mangled names that could demangle to a wanted one: they contain its last identifier.
  const idents = [...names].map((n) => /([A-Za-z_]\w*)\s*(?:\(.*)?$/.exec(functionNameOf(n))?.[1] ?? n);
  const mangled: { name: string; start: number }[] = [];
  // cols.length, not the columns' capacity: they grow by doubling.
  for (let i = 0; i < cols.length; i++) {
    const name = cols.name(i);
    if (names.has(name)) add(name, cols.start[i]);
    else if (needsDemangling(name) && idents.some((id) => name.includes(`${id.length}${id}`)))
      mangled.push({ name, start: cols.start[i] });
  }
  if (mangled.length > 0) {
    const d = await demangleAll(mangled.map((m) => m.name));
    for (const m of mangled) {
      const shown = d.names.get(m.name);
      if (shown !== undefined && names.has(shown)) add(shown, m.start);
    }
  }
  return out;
}

/** The analysis with file:line on every call site debug info could locate (else unchanged). */
export async function withCallSiteLines<T extends { result: AnalysisResult; findings: Finding[] }>(
  p: Profile,
  attributionOf: (stack: number) => StackAttribution,
  analyzed: T,
): Promise<T> {
  const lines = await resolveCallSiteLines(
    p,
    attributionOf,
    reportedCallSites(analyzed.result, analyzed.findings),
  );
  return applyCallSiteLines(analyzed, lines);
}

/** The analysis with the file:line of `lines` (by callSiteKey) on its call sites and findings. */
export function applyCallSiteLines<T extends { result: AnalysisResult; findings: Finding[] }>(
  analyzed: T,
  lines: Map<string, SourceLine>,
): T {
  if (lines.size === 0) return analyzed;
  const syscalls = analyzed.result.syscalls.map((s) => ({
    ...s,
    callSites: s.callSites.map((c) => {
      const source =
        c.status === 'found' ? lines.get(callSiteKey(s.name, c.function, c.module, c.wrapper)) : undefined;
      return source === undefined ? c : { ...c, source };
    }),
  }));
  const findings = analyzed.findings.map((f) => {
    const source =
      f.callSite && f.syscall
        ? lines.get(callSiteKey(f.syscall, f.callSite.function, f.callSite.module, ANY_WRAPPER))
        : undefined;
    return source === undefined || f.callSite === null ? f : { ...f, callSite: { ...f.callSite, ...source } };
  });
  return { ...analyzed, result: { ...analyzed.result, syscalls }, findings };
}
