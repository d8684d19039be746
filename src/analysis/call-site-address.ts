/**
 * Where inside a call-site function the syscall is made: for each (syscall, function, module)
 * the report names, the caller address (StackTable.callerSite) carrying the most weight. Only
 * these few addresses go on to file:line resolution (pipeline/call-site-lines.ts).
 */
import type { Profile } from '../model/profile.ts';
import type { StackAttribution } from './attribute.ts';

export interface CallSiteAddress {
  syscall: string;
  /** The call site as reports name it (functionNameOf the frame). */
  function: string;
  module: string;
  /** The frame's full name as the input gave it (the symbol the offset is relative to). */
  frameName: string;
  /** Symbol offset or module address, as `kind` says. */
  site: number;
  kind: 'symbol-offset' | 'module-address';
}

/**
 * A reported call site: syscall tables name the wrapper too (one function may reach one syscall
 * through two wrappers on two lines); findings do not (ANY_WRAPPER: the heaviest of them).
 */
export function callSiteKey(syscall: string, fn: string, module: string, wrapper: string | null): string {
  return `${syscall}\u0000${fn}\u0000${module}\u0000${wrapper ?? ''}`;
}

export const ANY_WRAPPER = '\u0000*';

/**
 * The heaviest caller address of every found call site, by callSiteKey. Empty when the profile
 * kept no caller addresses. One pass over the samples, one attribution per distinct stack
 * (memoised by the caller).
 */
export function callSiteAddresses(
  p: Profile,
  attributionOf: (stack: number) => StackAttribution,
): Map<string, CallSiteAddress> {
  const kind = p.meta.callerSites;
  const out = new Map<string, CallSiteAddress>();
  if (kind === undefined) return out;
  const byStack = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const s = p.samples.stack[i];
    if (s !== -1) byStack.set(s, (byStack.get(s) ?? 0) + p.samples.weight[i]);
  }
  const weights = new Map<string, Map<string, { a: CallSiteAddress; w: number }>>();
  for (const [stack, w] of byStack) {
    const a = attributionOf(stack);
    if (a.callSite?.status !== 'found' || a.syscall === null || a.callSiteAt === undefined) continue;
    if (Number.isNaN(a.callSiteAt.site)) continue;
    const frameName = p.strings[p.frames.name[a.callSiteAt.frame]];
    const siteKey = `${frameName}\u0000${a.callSiteAt.site}`;
    const { function: fn, module, wrapper } = a.callSite;
    for (const key of [
      callSiteKey(a.syscall, fn, module, wrapper),
      callSiteKey(a.syscall, fn, module, ANY_WRAPPER),
    ]) {
      const m = weights.get(key) ?? new Map<string, { a: CallSiteAddress; w: number }>();
      weights.set(key, m);
      const e = m.get(siteKey);
      if (e) e.w += w;
      else {
        const addr: CallSiteAddress = {
          syscall: a.syscall,
          function: fn,
          module,
          frameName,
          site: a.callSiteAt.site,
          kind,
        };
        m.set(siteKey, { a: addr, w });
      }
    }
  }
  for (const [key, m] of weights) {
    let best: { a: CallSiteAddress; w: number } | null = null;
    for (const e of m.values()) if (best === null || e.w > best.w) best = e;
    if (best !== null) out.set(key, best.a);
  }
  return out;
}
