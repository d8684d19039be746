/** A finding's call site: the function and module, or a note saying why there is none. */
import type { CallSite } from './call-site.ts';

export function callSiteFields(site: CallSite | null): {
  callSite: { function: string; module: string } | null;
  note: string | null;
} {
  if (site === null)
    return { callSite: null, note: 'no syscall on these stacks, so no user-space call site' };
  switch (site.status) {
    case 'found':
      return { callSite: { function: site.function, module: site.module }, note: null };
    case 'lost':
      return {
        callSite: null,
        note: `call site lost by frame-pointer unwinding${site.wrapper ? ` (the caller of ${site.wrapper})` : ''}; record with --call-graph dwarf`,
      };
    case 'none':
      return {
        callSite: null,
        note: `the stack ends in ${site.wrapper ?? 'the syscall wrapper'}: no caller was unwound`,
      };
    case 'unknown':
      return {
        callSite: null,
        note: `the calling frame in ${site.module} has no symbol: ${whyNoSymbol(site.module)}`,
      };
  }
}

/**
 * Why a frame has no symbol, as far as the module perf named tells: code outside any file is JIT
 * (or anonymous memory) without a perf map; a JIT map that lacks the address; else the file was
 * unreadable when the profile was decoded or has no symbols. DWARF unwinding would not help: the
 * frame was unwound, only its name is missing.
 */
function whyNoSymbol(module: string): string {
  if (module === '' || module === '[unknown]' || module.startsWith('//anon') || module.startsWith('[anon'))
    return 'JIT or anonymous code without a perf map (/tmp/perf-PID.map); a DWARF call graph would not help';
  if (/^\/tmp\/perf-\d+\.map$/.test(module)) return 'JIT code whose perf map has no entry for this address';
  if (module.startsWith('/memfd:') || module.endsWith(' (deleted)'))
    return 'the code was in a deleted or memory-only file, which no later analysis can read';
  return "the binary was not readable when the profile was decoded (its container gone, and not kept in the run's build-id cache) or it is stripped; a DWARF call graph would not help";
}
