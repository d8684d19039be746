/**
 * Folded-stack writer (`crosstalk collapse`): one line per distinct stack, process name first,
 * frames root first, then the summed weight, sorted byte-wise as inferno-collapse-perf 0.12.8
 * sorts its output:
 *
 *   bash-25291/25291;[unknown];__libc_fork;entry_SYSCALL_64_[k];do_syscall_64_[k] 500080
 *
 * Frame names follow inferno's rules (collapse-frame.ts). Where crosstalk's importer reads perf
 * output better than inferno's line splitter (comm names with digits-only words such as
 * "Web Content 2", comm ":-1" with pid -1, modules with spaces such as "(/memfd:x (deleted))"),
 * the output differs on purpose; test/collapse-conformance.test.ts lists each difference.
 */

import type { Profile } from '../model/profile.ts';
import { UNKNOWN_PID } from '../model/profile.ts';
import { type FrameTextOptions, frameText } from './collapse-frame.ts';

export interface CollapseOptions {
  /** Process name `comm-PID` (`comm-?` when perf printed only one number). Default false. */
  pid?: boolean;
  /** Process name `comm-PID/TID`; implies `pid`. Default false. */
  tid?: boolean;
  /** Annotate kernel frames with `_[k]`. Default false. */
  kernel?: boolean;
  /** Annotate JIT frames (perf map, jitdump) with `_[j]`. Default false. */
  jit?: boolean;
  /** Both `kernel` and `jit`. Default false. */
  all?: boolean;
  /**
   * Write frames without a symbol as `[module <addr>]` / `[unknown <addr>]` instead of `[module]`
   * / `[unknown]`. Needs a profile parsed with `keepAddresses: true` (throws otherwise).
   * Default false.
   */
  addrs?: boolean;
  /**
   * A frame put above the process name of each sample (e.g. its container, for `diff --folded`).
   * Default: none.
   */
  rootOf?: (sample: number) => string;
  /**
   * Count samples instead of summing their weights. A sample's weight is its period: nanoseconds
   * of CPU for cpu-clock/task-clock (10,101,010 per sample at 99 Hz), occurrences for other
   * events. Default false (weights, as inferno-collapse-perf sums periods).
   */
  counts?: boolean;
}

/** Folded lines `pname;frame;...;frame COUNT`, byte-wise sorted; samples without frames are left out. */
export function collapseProfile(profile: Profile, opts: CollapseOptions = {}): string[] {
  const byText = collapseToMap(profile, opts);
  return [...byText.keys()].sort(compareUtf8).map((k) => `${k} ${byText.get(k)}`);
}

/** Folded stack text -> summed weight (unsorted). */
export function collapseToMap(profile: Profile, opts: CollapseOptions = {}): Map<string, number> {
  const texts = new StackTexts(profile, opts);
  const names = new ProcessNames(profile, opts);
  const { samples } = profile;
  // First by (process name, stack node), then by text: different nodes can tidy to one text.
  const byNode = new Map<number, number>();
  const width = profile.stacks.length + 1;
  for (let i = 0; i < samples.length; i++) {
    const stack = samples.stack[i];
    if (stack === -1) continue;
    const key = names.of(i) * width + stack;
    byNode.set(key, (byNode.get(key) ?? 0) + (opts.counts === true ? 1 : samples.weight[i]));
  }
  const byText = new Map<string, number>();
  for (const [key, weight] of byNode) {
    const nameId = Math.floor(key / width);
    const frames = texts.of(key - nameId * width, names.isJava(nameId));
    if (frames === '') continue; // every frame was one inferno drops
    const line = `${names.text(nameId)};${frames}`;
    byText.set(line, (byText.get(line) ?? 0) + weight);
  }
  return byText;
}

/** Folded text of each stack node, built once per node from its prefix's text. */
class StackTexts {
  private readonly frameOpts: FrameTextOptions;
  /** Per variant (0 plain, 1 java): frame index -> text, stack node -> text. */
  private readonly frameCache: (string | undefined)[][] = [[], []];
  private readonly stackCache: (string | undefined)[][] = [[], []];

  constructor(
    private readonly profile: Profile,
    opts: CollapseOptions,
  ) {
    this.frameOpts = {
      kernel: opts.kernel === true || opts.all === true,
      jit: opts.jit === true || opts.all === true,
      addrs: opts.addrs === true,
      java: false,
    };
  }

  of(node: number, java: boolean): string {
    const cache = this.stackCache[java ? 1 : 0];
    const { prefix, frame } = this.profile.stacks;
    // Walk up to the nearest node already known, then fill in root-first.
    const path: number[] = [];
    let n = node;
    while (n !== -1 && cache[n] === undefined) {
      path.push(n);
      n = prefix[n];
    }
    let text = n === -1 ? '' : (cache[n] as string);
    for (let i = path.length - 1; i >= 0; i--) {
      const f = this.frame(frame[path[i]], java);
      if (f !== '') text = text === '' ? f : `${text};${f}`;
      cache[path[i]] = text;
    }
    return text;
  }

  private frame(f: number, java: boolean): string {
    const cache = this.frameCache[java ? 1 : 0];
    let t = cache[f];
    if (t === undefined) {
      const { strings, frames } = this.profile;
      // inferno sees perf's `(inlined)` as the module; the importer stores the enclosing one.
      const module = frames.inlined[f] === 1 ? 'inlined' : strings[frames.module[f]];
      const address = frames.address[f] === -1 ? null : strings[frames.address[f]];
      this.frameOpts.java = java;
      t = withinLine(frameText(strings[frames.name[f]], module, address, this.frameOpts));
      cache[f] = t;
    }
    return t;
  }
}

/** Process names (`comm`, `comm-PID`, `comm-PID/TID`) interned to small ids. */
class ProcessNames {
  private readonly ids = new Map<string, number>();
  private readonly texts: string[] = [];
  private readonly java: boolean[] = [];
  private readonly byComm: number[] = [];

  constructor(
    private readonly profile: Profile,
    private readonly opts: CollapseOptions,
  ) {}

  of(sample: number): number {
    const { samples, strings } = this.profile;
    const comm = samples.comm[sample];
    const withPid = this.opts.pid === true || this.opts.tid === true;
    const perComm = !withPid && this.opts.rootOf === undefined;
    if (perComm && this.byComm[comm] !== undefined) return this.byComm[comm];
    let name = strings[comm].replaceAll(' ', '_');
    if (withPid) {
      const pid = samples.pid[sample] === UNKNOWN_PID ? '?' : String(samples.pid[sample]);
      name += this.opts.tid === true ? `-${pid}/${samples.tid[sample]}` : `-${pid}`;
    }
    if (this.opts.rootOf) name = `${this.opts.rootOf(sample)};${name}`;
    name = withinLine(name);
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.texts.length;
      this.ids.set(name, id);
      this.texts.push(name);
      this.java.push(name.startsWith('java'));
    }
    if (perComm) this.byComm[comm] = id;
    return id;
  }

  text(id: number): string {
    return this.texts[id];
  }

  isJava(id: number): boolean {
    return this.java[id];
  }
}

/**
 * perf never prints a line break inside a name, but pprof strings may hold one; it would split a
 * folded line in two.
 */
function withinLine(text: string): string {
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text;
}

/**
 * Byte-wise order of the UTF-8 encodings, as Rust sorts strings. JS compares UTF-16 code units,
 * which differs only where a surrogate (U+10000 and above) meets U+E000..U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
