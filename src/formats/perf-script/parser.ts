/**
 * Streaming importer for `perf script` text: sample header lines (header.ts), call chain lines
 * (frame.ts), blank lines between samples. A frame line is interned by its bytes and decoded
 * only the first time it is seen, which keeps the parser near the speed of a plain byte scan.
 */

import { ProfileBuilder, type SampleInput } from '../../model/builder.ts';
import { ByteKeyTable, hashBytes, hashFrameLine } from '../../model/byte-keys.ts';
import {
  type CallGraphMode,
  type FrameIndex,
  FrameKind,
  type Profile,
  switchStateOfLetter,
} from '../../model/profile.ts';
import type { StringIndex } from '../../model/strings.ts';
import { decode, HASH, RPAREN, skipSpaces, TAB, trimEnd } from '../bytes.ts';
import { InputError } from '../errors.ts';
import { forEachLine, type LineSink } from '../lines.ts';
import {
  type FrameSpans,
  frameKindOf,
  isInlinedModule,
  isUnknownSymbol,
  parseFrameLine,
  symbolOffsetOf,
} from './frame.ts';
import { type HeaderFields, type HeaderLayout, newHeaderFields, parseHeader } from './header.ts';
import { callGraphFromCmdline, eventBase, severalEventsWarning } from './sniff.ts';
import { StackPath } from './stack-path.ts';

export interface PerfScriptOptions {
  /** Keep only samples of this event (full name `cpu-clock:pppH` or base name `cpu-clock`). Default: the first event seen. */
  event?: string;
  /** Intern `[unknown]` frames per address, for `collapse --addrs`. Default false. */
  keepAddresses?: boolean;
  /** How the call chains were unwound, when the caller knows (perf.data attr, run metadata). Default: read from a `# cmdline` header, else 'unknown'. */
  callGraph?: CallGraphMode;
  /** cgroup path of a sample, for imports that know it (perf.data). Default: every cgroup unknown. */
  cgroupOf?: (tid: number, timeNs: number) => string | undefined;
  /** Called with the number of bytes read so far. */
  onProgress?: (bytes: number) => void;
  /** The event to keep when `event` is not given, as if it came first (parallel parts of one file). Default: the first event seen. */
  defaultEvent?: string;
  /** Added to every line number reported (a part that starts inside a file). Default 0. */
  lineOffset?: number;
  /**
   * A context-switch tracepoint recorded beside the profiled event (`sched:sched_switch`): its
   * samples become `profile.switches` (for off-CPU analysis) instead of being dropped. Never the
   * profiled event itself. Default: none.
   */
  switchEvent?: string;
}

export {
  callGraphFromCmdline,
  eventBase,
  headFacts,
  severalEventsWarning,
  sniffPerfScript,
} from './sniff.ts';

class PerfScriptSink implements LineSink {
  readonly builder: ProfileBuilder;
  private layout: HeaderLayout | null = null;
  private readonly header: HeaderFields = newHeaderFields();
  private readonly spans: FrameSpans = {
    pcStart: 0,
    pcEnd: 0,
    symStart: 0,
    symEnd: 0,
    offEnd: 0,
    modStart: 0,
    modEnd: 0,
  };
  private readonly frameKeys = new ByteKeyTable();
  private frameOfKey = new Int32Array(1024);
  private readonly commKeys = new ByteKeyTable(256);
  private readonly commOfKey: StringIndex[] = [];
  private readonly eventKeys = new ByteKeyTable(64);
  private readonly eventNames: string[] = [];
  private readonly eventSamples: number[] = [];
  /** Per event index: 1 keep, 0 skip, -1 not decided yet. */
  private readonly eventKeep: number[] = [];
  private chosenEvent: string | null = null;
  private chosenBase: string | null = null;
  /** Frame lines seen before (address + symbol + module bytes) -> frame, skipping the parse. */
  private readonly lineKeys = new ByteKeyTable(1 << 14);
  private frameOfLine = new Int32Array(1 << 14);
  /** The caller site (`+0x` offset of a user frame) of each remembered line; NaN: none. */
  private siteOfLine = new Float64Array(1 << 14);
  /** Whether the current sample's event is the chosen one. */
  private keep = false;
  /** The current sample is a context switch (options.switchEvent). */
  private isSwitch = false;
  private timeNs = Number.NaN;
  private switchPrevState = 0;
  private switchNextTid = -1;
  private inSample = false;
  private sampleLine = 0;
  private readonly path = new StackPath();
  /** The site of the frame frameLine added last. */
  private lastSite = Number.NaN;
  private readonly sample: SampleInput = {
    stack: -1,
    time: 0,
    weight: 0,
    pid: 0,
    tid: 0,
    cpu: 0,
    comm: 0,
    cgroup: 0,
  };
  /** Inlined frames waiting for the module of the next real frame at the same address. */
  private readonly pendingInline: { name: string; address: string }[] = [];
  private comm: StringIndex = 0;
  private pid = 0;
  private tid = 0;
  private cpu = -1;
  private time = Number.NaN;
  private weight = 1;
  private cgroup: StringIndex = 0;
  private readonly cgroupCache = new Map<string, StringIndex>();
  private headerLines = 0;

  constructor(
    private readonly file: string,
    private readonly opts: PerfScriptOptions,
  ) {
    this.builder = new ProfileBuilder(file, 'perf-script');
    const preset = opts.event ?? opts.defaultEvent;
    if (preset !== undefined) {
      this.chosenEvent = preset;
      this.chosenBase = eventBase(preset);
    }
    if (opts.callGraph !== undefined) this.builder.meta.callGraph = opts.callGraph;
    this.builder.meta.hasCgroups = opts.cgroupOf !== undefined;
  }

  line(buf: Uint8Array, start: number, end: number, lineNo: number): void {
    // Fast path: a call chain line seen before, compared as the raw line (perf indents frames
    // with a tab and ends them with ')'), with no trimming or field scanning.
    if (
      this.keep &&
      buf[start] === TAB &&
      end - start > 18 &&
      buf[end - 1] === RPAREN &&
      this.knownFrameLine(buf, start, end)
    ) {
      return;
    }
    end = trimEnd(buf, start, end);
    const s = skipSpaces(buf, start, end);
    if (s === end) {
      if (this.inSample) this.endSample();
      return;
    }
    if (buf[s] === HASH && !this.inSample) {
      this.commentLine(buf, s, end);
      return;
    }
    if (this.inSample) {
      // Old perf printed frames unindented; there a header is tried first.
      if (s === start && this.tryHeader(buf, start, end, lineNo)) return;
      if (parseFrameLine(buf, s, end, this.spans)) {
        if (this.keep) {
          const f = this.frameLine(buf);
          if (f !== -1 && buf[start] === TAB && buf[end - 1] === RPAREN)
            this.rememberFrameLine(buf, start, end, f);
        }
        return;
      }
      // Samples without call chains are not separated by blank lines: the next header follows.
      if (s !== start && this.tryHeader(buf, start, end, lineNo)) return;
      if (this.keep) this.builder.oddity('unparsed call chain line', lineNo, decode(buf, start, end));
      return;
    }
    if (!this.tryHeader(buf, start, end, lineNo)) {
      this.builder.oddity('unparsed sample header', lineNo, decode(buf, start, end));
    }
  }

  private commentLine(buf: Uint8Array, s: number, end: number): void {
    // "# cmdline : /usr/bin/perf record -g ..." from `perf script --header`.
    const text = decode(buf, s, end);
    const m = /^#\s*cmdline\s*:\s*(.*)$/.exec(text);
    if (m && this.opts.callGraph === undefined) {
      this.builder.meta.recording.cmdline = m[1];
      this.builder.meta.callGraph = callGraphFromCmdline(m[1]);
    }
  }

  private tryHeader(buf: Uint8Array, start: number, end: number, lineNo: number): boolean {
    const h = this.header;
    const layout = parseHeader(buf, start, end, this.layout, h);
    if (layout === null) return false;
    if (this.inSample) this.endSample();
    this.layout = layout;
    this.headerLines++;
    this.inSample = true;
    this.sampleLine = lineNo;
    this.keep = this.keepEvent(buf, h.eventStart, h.eventEnd);
    if (!this.keep) return true;
    this.comm = this.internComm(buf, h.commStart, h.commEnd);
    this.pid = h.pid;
    this.tid = h.tid;
    this.cpu = h.cpu;
    this.time = h.time;
    this.timeNs = h.timeNs;
    this.weight = Number.isNaN(h.period) ? 1 : h.period;
    this.cgroup = this.cgroupFor(h.tid, h.timeNs);
    if (this.isSwitch) {
      this.switchPayload(buf, h.restStart, end, lineNo);
      return true;
    }
    // A frame on the header line itself: `perf script` without call chains.
    if (h.restStart < end) {
      const r = skipSpaces(buf, h.restStart, end);
      if (r < end && parseFrameLine(buf, r, end, this.spans)) this.frameLine(buf);
    }
    return true;
  }

  /**
   * sched_switch's payload (kernel include/trace/events/sched.h):
   *   prev_comm=find prev_pid=31340 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
   * Comms may hold spaces, so fields are found by their `name=` markers, the last ones first.
   */
  private switchPayload(buf: Uint8Array, s: number, e: number, lineNo: number): void {
    const text = decode(buf, s, e);
    const state = / prev_state=(\S+) ==> /.exec(text);
    const next = / next_pid=(-?\d+) next_prio=-?\d+\s*$/.exec(text);
    if (!state || !next) {
      this.builder.oddity('unparsed sched_switch payload', lineNo, text);
      this.keep = false;
      return;
    }
    this.switchPrevState = switchStateOfLetter(state[1]);
    this.switchNextTid = Number(next[1]);
  }

  private keepEvent(buf: Uint8Array, s: number, e: number): boolean {
    const hash = hashBytes(buf, s, e);
    let ev = this.eventKeys.get(buf, s, e, hash);
    if (ev === -1) {
      ev = this.eventKeys.add(buf, s, e, hash);
      const name = decode(buf, s, e);
      this.eventNames.push(name);
      this.eventSamples.push(0);
      const isSwitch =
        this.opts.switchEvent !== undefined && eventBase(name) === eventBase(this.opts.switchEvent);
      if (this.chosenEvent === null && !isSwitch) {
        this.chosenEvent = name;
        this.chosenBase = eventBase(name);
      }
      const main = !isSwitch && (name === this.chosenEvent || eventBase(name) === this.chosenBase);
      this.eventKeep.push(main ? 1 : isSwitch ? 2 : 0);
    }
    this.eventSamples[ev]++;
    this.isSwitch = this.eventKeep[ev] === 2;
    return this.eventKeep[ev] !== 0;
  }

  private cgroupFor(tid: number, timeNs: number): StringIndex {
    const of = this.opts.cgroupOf;
    if (of === undefined) return this.builder.unknownCgroup;
    const path = of(tid, timeNs);
    if (path === undefined) return this.builder.unknownCgroup;
    let i = this.cgroupCache.get(path);
    if (i === undefined) {
      i = this.builder.strings.intern(path);
      this.cgroupCache.set(path, i);
    }
    return i;
  }

  private internComm(buf: Uint8Array, s: number, e: number): StringIndex {
    const h = hashBytes(buf, s, e);
    const k = this.commKeys.get(buf, s, e, h);
    if (k !== -1) return this.commOfKey[k];
    this.commKeys.add(buf, s, e, h);
    const idx = this.builder.strings.intern(decode(buf, s, e));
    this.commOfKey.push(idx);
    return idx;
  }

  /** Fast path: a frame line seen before, byte for byte. */
  private knownFrameLine(buf: Uint8Array, s: number, e: number): boolean {
    if (this.pendingInline.length > 0 || !this.inSample) return false;
    const h = hashFrameLine(buf, s, e);
    const k = this.lineKeys.get(buf, s, e, h);
    if (k === -1) return false;
    this.path.push(this.frameOfLine[k], this.siteOfLine[k]);
    return true;
  }

  private rememberFrameLine(buf: Uint8Array, s: number, e: number, f: FrameIndex): void {
    const k = this.lineKeys.add(buf, s, e, hashFrameLine(buf, s, e));
    if (k >= this.frameOfLine.length) {
      const grown = new Int32Array(this.frameOfLine.length * 2);
      grown.set(this.frameOfLine);
      this.frameOfLine = grown;
      const sites = new Float64Array(grown.length);
      sites.set(this.siteOfLine);
      this.siteOfLine = sites;
    }
    this.frameOfLine[k] = f;
    this.siteOfLine[k] = this.lastSite;
  }

  /** Adds the frame in `this.spans`; returns it, or -1 for an inlined frame (its module comes later). */
  private frameLine(buf: Uint8Array): FrameIndex {
    const sp = this.spans;
    if (isInlinedModule(buf, sp.modStart, sp.modEnd)) {
      this.pendingInline.push({
        name: decode(buf, sp.symStart, sp.symEnd) || ' ',
        address: decode(buf, sp.pcStart, sp.pcEnd),
      });
      return -1;
    }
    // The key is SYMBOL (without offset) + MODULE; with keepAddresses, [unknown] frames also keep the address.
    const keyStart = this.opts.keepAddresses && isUnknownSymbol(buf, sp) ? sp.pcStart : sp.symStart;
    let h = hashBytes(buf, keyStart, sp.symEnd);
    h = hashBytes(buf, sp.modStart - 1, sp.modEnd, h);
    let f: FrameIndex;
    const k = this.frameKeys.getTwo(buf, keyStart, sp.symEnd, sp.modStart - 1, sp.modEnd, h);
    if (k !== -1) {
      f = this.frameOfKey[k];
    } else {
      f = this.newFrame(buf, keyStart !== sp.symStart);
      const key = this.frameKeys.addTwo(buf, keyStart, sp.symEnd, sp.modStart - 1, sp.modEnd, h);
      if (key >= this.frameOfKey.length) {
        const grown = new Int32Array(this.frameOfKey.length * 2);
        grown.set(this.frameOfKey);
        this.frameOfKey = grown;
      }
      this.frameOfKey[key] = f;
    }
    if (this.pendingInline.length > 0) this.flushInline(buf);
    // Only user code's offsets are kept: they locate call sites (file:line) in its ELF file.
    this.lastSite = this.builder.frameKindOf(f) === FrameKind.user ? symbolOffsetOf(buf, sp) : Number.NaN;
    this.path.push(f, this.lastSite);
    return f;
  }

  private newFrame(buf: Uint8Array, keepAddress: boolean): FrameIndex {
    const sp = this.spans;
    const name = decode(buf, sp.symStart, sp.symEnd) || ' ';
    const module = decode(buf, sp.modStart, sp.modEnd);
    const address = decode(buf, sp.pcStart, sp.pcEnd);
    return this.builder.frame(
      name,
      module,
      frameKindOf(module, name, address),
      false,
      keepAddress ? address : null,
    );
  }

  /** Inlined frames take the module of the real frame that follows them at the same address. */
  private flushInline(buf: Uint8Array): void {
    const sp = this.spans;
    const address = decode(buf, sp.pcStart, sp.pcEnd);
    const module = decode(buf, sp.modStart, sp.modEnd);
    for (const p of this.pendingInline) this.pushInline(p, p.address === address ? module : 'inlined');
    this.pendingInline.length = 0;
  }

  private pushInline(p: { name: string; address: string }, module: string): void {
    const keepAddress = this.opts.keepAddresses === true && p.name === '[unknown]';
    const kind = frameKindOf(module, p.name, p.address);
    this.path.push(
      this.builder.frame(p.name, module, kind, true, keepAddress ? p.address : null),
      Number.NaN,
    );
  }

  private endSample(): void {
    if (this.keep) {
      for (const p of this.pendingInline) this.pushInline(p, 'inlined');
      if (this.isSwitch) this.endSwitch();
      else this.addProfiledSample();
    }
    this.path.clear();
    this.pendingInline.length = 0;
    this.inSample = false;
    this.keep = false;
  }

  private endSwitch(): void {
    this.builder.addSwitch({
      stack: this.path.node(this.builder, this.tid),
      timeNs: this.timeNs,
      cpu: this.cpu,
      prevTid: this.tid,
      prevPid: this.pid,
      comm: this.comm,
      cgroup: this.cgroup,
      prevState: this.switchPrevState,
      nextTid: this.switchNextTid,
    });
  }

  private addProfiledSample(): void {
    // One reused object: the builder copies its fields (no allocation per sample).
    const s = this.sample;
    s.stack = this.path.node(this.builder, this.tid);
    s.time = this.time;
    s.weight = this.weight;
    s.pid = this.pid;
    s.tid = this.tid;
    s.cpu = this.cpu;
    s.comm = this.comm;
    s.cgroup = this.cgroup;
    this.builder.addSample(s);
  }

  /**
   * perf script ends every line with a newline, so a last line without one was cut: a cut frame
   * line (even one cut inside its indentation) makes the sample in progress incomplete, and a cut
   * header cannot be trusted (its period may have lost digits). Both are dropped, with a warning.
   */
  partialLine(_buf: Uint8Array, _start: number, _end: number, lineNo: number): void {
    const meta = this.builder.meta;
    meta.truncated = true;
    if (this.inSample) {
      meta.warnings.push(
        `${this.file}: input ends in the middle of the sample that starts at line ${this.sampleLine}; that sample was dropped (was the file cut?)`,
      );
    } else {
      meta.warnings.push(
        `${this.file}: input ends in the middle of line ${lineNo}; that line was ignored (was the file cut?)`,
      );
    }
    this.path.clear();
    this.pendingInline.length = 0;
    this.inSample = false;
    this.keep = false;
  }

  finish(lines: number): Profile {
    const meta = this.builder.meta;
    if (this.inSample) this.endSample();
    if (this.headerLines === 0) {
      throw new InputError(
        this.file,
        null,
        'perf script output with at least one sample header ("comm 123 [000] 1.000000: 250000 cpu-clock:")',
        lines === 0 ? 'an empty file' : `${lines} lines without one`,
      );
    }
    meta.events = this.eventNames.map((name, i) => ({ name, samples: this.eventSamples[i] }));
    // Only context switches: no profiled event, as for a perf.data of sched_switch alone.
    meta.event = this.chosenEvent ?? this.eventNames[this.eventKeep.indexOf(2)] ?? '';
    const distinctBases = new Set(meta.events.map((e) => eventBase(e.name)));
    if (this.opts.event !== undefined) {
      meta.eventChosenBy = 'option';
      if (this.builder.sampleCount === 0) {
        throw new InputError(
          this.file,
          null,
          `samples of event "${this.opts.event}"`,
          `only ${[...distinctBases].join(', ')}`,
        );
      }
    } else if (
      distinctBases.size > (this.opts.switchEvent !== undefined && this.builder.switchCount > 0 ? 2 : 1)
    ) {
      meta.eventChosenBy = 'first';
      meta.warnings.push(
        severalEventsWarning(
          this.file,
          meta.events.filter((e) => eventBase(e.name) !== eventBase(this.opts.switchEvent ?? '')),
          meta.event,
        ),
      );
    }
    return this.builder.finish();
  }
}

export async function parsePerfScript(
  chunks: AsyncIterable<Uint8Array>,
  file: string,
  opts: PerfScriptOptions = {},
): Promise<Profile> {
  const sink = new PerfScriptSink(file, opts);
  const stats = await forEachLine(chunks, sink, opts.onProgress, opts.lineOffset ?? 0, file);
  return sink.finish(stats.lines);
}
