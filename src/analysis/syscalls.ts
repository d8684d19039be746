/**
 * Kernel time by syscall: which containers spend it, which call sites issue it, and which kernel
 * paths and functions are hot underneath. Works over distinct stacks, not samples.
 */
import type { StackAttribution } from './attribute.ts';
import type { CallSite } from './call-site.ts';

export interface SyscallTables {
  /** stack -> container key (sample-labels.ts containerKey: id, qualified by host) -> weight, syscall samples only. */
  weightByStackAndContainer: Map<number, Map<string, number>>;
  attributionOf: (stack: number) => StackAttribution;
}

/** `source`: the file and line of the call inside the function, when debug info gave them. */
export type CallSiteSummary = CallSite & { share: number; source?: SourceLine };

export interface SourceLine {
  file: string;
  line: number;
}

export interface SyscallSummary {
  name: string;
  share: number;
  /** `host` is '' for single-host input. */
  containers: { id: string; host: string; name: string; share: number }[];
  callSites: CallSiteSummary[];
  kernelPaths: { frames: string[]; share: number }[];
  /** Hottest kernel functions under this syscall by self (leaf) time; total = time on the stack. */
  kernelFunctions: { name: string; selfShare: number; totalShare: number }[];
}

interface SyscallAcc {
  weight: number;
  byContainer: Map<string, number>;
  callSites: Map<string, { site: CallSite; weight: number }>;
  paths: Map<string, { frames: string[]; weight: number }>;
  self: Map<string, number>;
  total: Map<string, number>;
}

export interface SyscallLimits {
  top: number;
  callSites: number;
  kernelPaths: number;
  kernelFunctions: number;
}

export function summarizeSyscalls(
  t: SyscallTables,
  containers: Map<string, { identity: { id: string; name: string }; host: string }>,
  share: (w: number) => number,
  limits: SyscallLimits,
): SyscallSummary[] {
  const bySyscall = new Map<string, SyscallAcc>();
  for (const [stack, byContainer] of t.weightByStackAndContainer) {
    const a = t.attributionOf(stack);
    if (a.syscall === null) continue;
    let acc = bySyscall.get(a.syscall);
    if (acc === undefined) {
      acc = {
        weight: 0,
        byContainer: new Map(),
        callSites: new Map(),
        paths: new Map(),
        self: new Map(),
        total: new Map(),
      };
      bySyscall.set(a.syscall, acc);
    }
    let w = 0;
    for (const [id, cw] of byContainer) {
      w += cw;
      acc.byContainer.set(id, (acc.byContainer.get(id) ?? 0) + cw);
    }
    acc.weight += w;
    addCallSite(acc, a.callSite, w);
    addPath(acc, a.kernelPath, w);
  }
  return [...bySyscall]
    .map(([name, acc]) => summary(name, acc, containers, share, limits))
    .sort((a, b) => b.share - a.share || a.name.localeCompare(b.name))
    .slice(0, limits.top);
}

function callSiteKey(c: CallSite): string {
  switch (c.status) {
    case 'found':
      return `found\u0000${c.function}\u0000${c.module}\u0000${c.wrapper ?? ''}`;
    case 'lost':
      return `lost\u0000${c.wrapper}\u0000${c.reason}`;
    case 'none':
      return `none\u0000${c.wrapper ?? ''}`;
    case 'unknown':
      return `unknown\u0000${c.module}\u0000${c.wrapper ?? ''}`;
  }
}

function addCallSite(acc: SyscallAcc, site: CallSite | null, w: number): void {
  const s: CallSite = site ?? { status: 'none', wrapper: null };
  const key = callSiteKey(s);
  const e = acc.callSites.get(key);
  if (e) e.weight += w;
  else acc.callSites.set(key, { site: s, weight: w });
}

function addPath(acc: SyscallAcc, frames: string[], w: number): void {
  const key = frames.join('\n');
  const e = acc.paths.get(key);
  if (e) e.weight += w;
  else acc.paths.set(key, { frames, weight: w });
  if (frames.length > 0) {
    const leaf = frames[frames.length - 1];
    acc.self.set(leaf, (acc.self.get(leaf) ?? 0) + w);
  }
  for (const f of new Set(frames)) acc.total.set(f, (acc.total.get(f) ?? 0) + w);
}

function summary(
  name: string,
  acc: SyscallAcc,
  containers: Map<string, { identity: { id: string; name: string }; host: string }>,
  share: (w: number) => number,
  limits: SyscallLimits,
): SyscallSummary {
  const byWeight = <T extends { weight: number }>(a: T, b: T) => b.weight - a.weight;
  return {
    name,
    share: share(acc.weight),
    containers: [...acc.byContainer]
      .map(([key, w]) => {
        const c = containers.get(key);
        return {
          id: c?.identity.id ?? key,
          host: c?.host ?? '',
          name: c?.identity.name ?? key,
          share: share(w),
        };
      })
      .sort((a, b) => b.share - a.share || a.host.localeCompare(b.host) || a.id.localeCompare(b.id)),
    callSites: [...acc.callSites.values()]
      .sort(byWeight)
      .slice(0, limits.callSites)
      .map((e) => ({ ...e.site, share: share(e.weight) })),
    kernelPaths: [...acc.paths.values()]
      .sort(byWeight)
      .slice(0, limits.kernelPaths)
      .map((e) => ({ frames: e.frames, share: share(e.weight) })),
    kernelFunctions: [...acc.total]
      .map(([fn, w]) => ({ name: fn, selfShare: share(acc.self.get(fn) ?? 0), totalShare: share(w) }))
      .sort(
        (a, b) => b.selfShare - a.selfShare || b.totalShare - a.totalShare || a.name.localeCompare(b.name),
      )
      .slice(0, limits.kernelFunctions),
  };
}
