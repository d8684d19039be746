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
        note: `the calling frame in ${site.module} has no symbol (stripped binary or JIT without a perf map)`,
      };
  }
}
