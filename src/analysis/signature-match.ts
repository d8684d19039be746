/**
 * Which samples each signature matches (a kernel frame of the signature on the stack, and for
 * syscall samples one of its syscalls), accumulated per container, per time window, with the
 * syscall, call site, kernel path and process that carried the weight.
 */
import type { Signature } from '../signatures/catalog.ts';
import type { StackAttribution } from './attribute.ts';
import type { CallSite } from './call-site.ts';
import type { SampleLabels } from './sample-labels.ts';

export interface ContainerMatch {
  weight: number;
  samples: number;
  /** Matched weight with a lock-wait frame of the signature on the stack. */
  wait: number;
  /** Matched weight with one of the signature's user frames (e.g. glog's writer) on the stack. */
  userFrame: number;
  /**
   * Matched weight with one of the signature's `needsAnyOf` frames (its cause) on the stack, for
   * the entries that count for this container (see `exceptWith`).
   */
  need: number;
  /** Matched weight per set of `needsAnyOf` entries whose frames are on the stack (bit k: entry k). */
  needByBits: Map<number, number>;
  bySyscall: Map<string, number>;
  byCallSite: Map<string, { site: CallSite; weight: number }>;
  byPath: Map<string, { frames: string[]; weight: number }>;
  byProcess: Map<string, number>;
  /** Matched weight per time window. */
  windows: Float64Array;
}

export interface SignatureMatch {
  signature: Signature;
  weight: number;
  /** Per `needsAnyOf` entry with frames: matched weight with one of those frames on the stack. */
  needWeights: number[];
  byContainer: Map<string, ContainerMatch>;
  /** Per container, per `needsAnyOf` entry with `exceptWith`: its weight (any sample) with those frames. */
  exceptByContainer: Map<string, number[]>;
}

type FramesNeed = Extract<NonNullable<Signature['needsAnyOf']>[number], { frames: string[] }>;

interface StackFacts {
  mask: number;
  waitMask: number;
  userMask: number;
  /** Per signature: bit k set when `needsAnyOf[k]` has frames and one is on the stack. */
  needBits: number[];
  /** Per signature: bit k set when `needsAnyOf[k].exceptWith` frames are on the stack (matched or not). */
  exceptBits: number[];
}

/** Bit k set when `needsAnyOf[k]` has frames and `framesOf` of it has one in `names`. */
function needBitsOf(
  s: Signature,
  names: Set<string>,
  framesOf: (n: FramesNeed) => string[] | undefined = (n) => n.frames,
): number {
  let bits = 0;
  s.needsAnyOf?.forEach((n, k) => {
    if ('frames' in n && framesOf(n)?.some((f) => names.has(f))) bits |= 1 << k;
  });
  return bits;
}

function stackFacts(
  stack: number,
  a: StackAttribution,
  sigs: Signature[],
  userNames: (stack: number) => Set<string>,
): StackFacts {
  const facts: StackFacts = { mask: 0, waitMask: 0, userMask: 0, needBits: [], exceptBits: [] };
  if (a.kernelPath.length === 0) return facts;
  const names = new Set(a.kernelPath);
  sigs.forEach((s, i) => {
    const bit = 1 << i;
    const except = needBitsOf(s, names, (n) => n.exceptWith?.frames);
    if (except !== 0) facts.exceptBits[i] = except;
    if (!s.match.kernelFrames.some((f) => names.has(f))) return;
    if (a.category === 'syscall' && s.match.syscalls && !s.match.syscalls.includes(a.syscall ?? '')) return;
    facts.mask |= bit;
    facts.needBits[i] = needBitsOf(s, names);
    if (s.match.waitFrames?.some((f) => names.has(f))) facts.waitMask |= bit;
    if (s.match.userFrames?.some((f) => userNames(stack).has(f))) facts.userMask |= bit;
  });
  return facts;
}

/** Matches over the labelled samples: container ids (one host: diagnosis runs host by host) and windows. */
export function matchSignatures(
  labels: SampleLabels,
  sigs: Signature[],
  userNames: (stack: number) => Set<string>,
): SignatureMatch[] {
  const p = labels.profile;
  const attributionOf = (stack: number) => labels.attributions.of(stack);
  const windows = labels.windows;
  const matches: SignatureMatch[] = sigs.map((signature) => ({
    signature,
    weight: 0,
    needWeights: (signature.needsAnyOf ?? []).map(() => 0),
    byContainer: new Map(),
    exceptByContainer: new Map(),
  }));
  const memo: (StackFacts | undefined)[] = new Array(p.stacks.length);
  const { samples } = p;
  for (let i = 0; i < samples.length; i++) {
    const stack = samples.stack[i];
    if (stack === -1) continue;
    let f = memo[stack];
    if (f === undefined) {
      f = stackFacts(stack, attributionOf(stack), sigs, userNames);
      memo[stack] = f;
    }
    if (f.mask === 0 && f.exceptBits.length === 0) continue;
    const w = samples.weight[i];
    const id = labels.identity(i).id;
    f.exceptBits.forEach((bits, s) => {
      const by = matches[s].exceptByContainer;
      const e = by.get(id) ?? [];
      by.set(id, e);
      for (let k = 0; bits >> k !== 0; k++) if (bits & (1 << k)) e[k] = (e[k] ?? 0) + w;
    });
    if (f.mask === 0) continue;
    const a = attributionOf(stack);
    for (let s = 0; s < sigs.length; s++) {
      const bit = 1 << s;
      if ((f.mask & bit) === 0) continue;
      const m = matches[s];
      m.weight += w;
      const need = f.needBits[s] ?? 0;
      const c = containerMatchOf(m, id, windows.count);
      c.weight += w;
      c.samples++;
      if (f.waitMask & bit) c.wait += w;
      if (f.userMask & bit) c.userFrame += w;
      if (need !== 0) c.needByBits.set(need, (c.needByBits.get(need) ?? 0) + w);
      c.windows[labels.window[i]] += w;
      add(c.byProcess, p.strings[samples.comm[i]], w);
      if (a.syscall !== null) add(c.bySyscall, a.syscall, w);
      if (a.callSite !== null) addSite(c.byCallSite, a.callSite, w);
      const key = a.kernelPath.join('\n');
      const e = c.byPath.get(key);
      if (e) e.weight += w;
      else c.byPath.set(key, { frames: a.kernelPath, weight: w });
    }
  }
  for (const m of matches) settleNeeds(m);
  return matches;
}

/**
 * The cause weights, once every sample is seen: a container's weight in a `needsAnyOf` entry's
 * frames does not count when it also spends more than `exceptWith.maxRatio` of that weight in the
 * entry's `exceptWith` frames (work that allocates and frees again is not a pile-up).
 */
function settleNeeds(m: SignatureMatch): void {
  const needs = m.signature.needsAnyOf ?? [];
  for (const [id, c] of m.byContainer) {
    const except = m.exceptByContainer.get(id) ?? [];
    const byEntry = needs.map(() => 0);
    for (const [bits, w] of c.needByBits)
      for (let k = 0; bits >> k !== 0; k++) if (bits & (1 << k)) byEntry[k] += w;
    let allowed = 0;
    needs.forEach((n, k) => {
      const rule = 'frames' in n ? n.exceptWith : undefined;
      if (rule === undefined || (except[k] ?? 0) <= rule.maxRatio * byEntry[k]) allowed |= 1 << k;
    });
    c.need = 0;
    for (const [bits, w] of c.needByBits) if (bits & allowed) c.need += w;
    byEntry.forEach((w, k) => {
      if (allowed & (1 << k)) m.needWeights[k] += w;
    });
  }
}

function containerMatchOf(m: SignatureMatch, id: string, windowCount: number): ContainerMatch {
  let c = m.byContainer.get(id);
  if (c === undefined) {
    c = {
      weight: 0,
      samples: 0,
      wait: 0,
      userFrame: 0,
      need: 0,
      needByBits: new Map(),
      bySyscall: new Map(),
      byCallSite: new Map(),
      byPath: new Map(),
      byProcess: new Map(),
      windows: new Float64Array(windowCount),
    };
    m.byContainer.set(id, c);
  }
  return c;
}

function add(m: Map<string, number>, k: string, w: number): void {
  m.set(k, (m.get(k) ?? 0) + w);
}

function addSite(m: Map<string, { site: CallSite; weight: number }>, site: CallSite, w: number): void {
  const key = JSON.stringify(site);
  const e = m.get(key);
  if (e) e.weight += w;
  else m.set(key, { site, weight: w });
}

/** The key with the largest value. */
export function topOf<T>(m: Map<T, number>): T | null {
  let best: T | null = null;
  let bw = -1;
  for (const [k, w] of m) {
    if (w > bw) {
      best = k;
      bw = w;
    }
  }
  return best;
}

/** Pearson correlation of two series of the same length (0 when either is flat or too short). */
export function correlation(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  if (n < 3) return 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}
