/**
 * perf.data importer. perf 6.1 cannot print a sample's cgroup (`perf script -F cgroup` is
 * rejected), so the import runs in two parts: reader.ts reads the file natively for each
 * sample's (tid, time, cgroup id), the cgroup paths and the recording facts; the installed
 * `perf script` prints the stacks as text, which the perf script parser reads while each text
 * sample is joined to its cgroup by (tid, time in ns).
 */
import { metaCopy, type Profile, type ProfileMeta, withMeta } from '../../model/profile.ts';
import { InputError, ToolError } from '../errors.ts';
import { eventBase, parsePerfScript } from '../perf-script/parser.ts';
import {
  decodeNative,
  type NativeStats,
  nativeUnsupported,
  SWITCH_EVENT,
  switchFormatFor,
} from './native.ts';
import {
  firstStderrLine,
  type PerfScriptRun,
  perfMissingError,
  perfScriptFields,
  startPerfScript,
} from './perf-script-process.ts';
import { type PerfDataAttrSummary, type PerfDataSummary, readPerfData } from './reader.ts';
import { type RepairedCopy, writeRepairedCopy } from './repair.ts';
import type { CacheRoot } from './symbol-sources.ts';

export interface PerfDataImportOptions {
  /** Keep only samples of this event (`cpu-clock` or `cpu-clock:ppp`). Default: the first event perf script prints. */
  event?: string;
  /** Keep addresses of `[unknown]` frames. Default false. */
  keepAddresses?: boolean;
  /** Fraction (0..1) of the work done: the native read is the first tenth, perf script the rest. */
  onProgress?: (fraction: number) => void;
  /** The perf binary. Default `perf` from PATH. */
  perfPath?: string;
  /**
   * Ask perf script for inlined frames. Default: yes, except for DWARF recordings. perf 6.1 as
   * packaged by Debian (no libbfd) looks inline frames up through one `addr2line` process per
   * binary, which took seconds per large binary here: a 1 s DWARF recording with node running
   * took 9.2 s with inline frames and 0.9 s without (and over 120 s with vitest's workers on
   * the host); frame-pointer recordings of the same host took 1.1 s and 0.7 s.
   */
  inline?: boolean;
  /**
   * Who turns records into stacks: 'native' (decoder in this folder, no perf needed),
   * 'perf-script', or 'auto' (default): native unless the recording needs perf (DWARF, LBR,
   * context switches whose tracepoint format the file lacks or that do not follow the print fmt
   * tracepoint-format.ts reads), which is then said in one warning line.
   */
  decoder?: 'auto' | 'native' | 'perf-script';
  /** Extra build-id caches searched first (an extracted `perf archive`, a run's build-id dir). */
  cacheRoots?: CacheRoot[];
  /**
   * Every sample record must come out of perf script exactly once, with no line perf script
   * printed left unparsed (a symbol or process name holding newlines shifts or forges records):
   * anything else is an InputError instead of a warning. `doctor` asks for this on its own
   * recordings. More samples printed than the file holds is an error either way.
   */
  strictSampleCount?: boolean;
}

export { SWITCH_EVENT };

const PERF_TYPE_TRACEPOINT = 2;

/** Share of the progress bar given to the native read; perf script takes the rest (it is ~10x slower). */
const READ_SHARE = 0.1;

export async function importPerfData(file: string, opts: PerfDataImportOptions = {}): Promise<Profile> {
  const progress = opts.onProgress;
  const summary = await readPerfData(file, { onProgress: (f) => progress?.(f * READ_SHARE) });
  if (summary.samples === 0) {
    const why = summary.truncated ? `none in the readable part (${summary.warnings.join('; ')})` : 'none';
    throw new InputError(file, null, 'a perf.data file with samples', why);
  }
  checkEvent(file, summary, opts.event);
  const decoder = opts.decoder ?? 'auto';
  const switches = decoder === 'perf-script' ? null : await switchFormatFor(file, summary, opts.event);
  const why = decoder === 'perf-script' ? 'asked for' : nativeUnsupported(summary, switches);
  if (why === null || decoder === 'native') return importNative(file, summary, opts, switches);
  let copy: RepairedCopy | null = null;
  try {
    if (summary.truncated) copy = await writeRepairedCopy(file, summary.dataOffset, summary.validDataEnd);
    const join = new CgroupJoin(summary);
    const parsed = await runAndParse(file, copy?.path ?? file, summary, join, opts).catch((e: unknown) => {
      // A cut file (perf killed, disk full) whose readable part perf still cannot decode is bad
      // input, said with why the file was cut, not a failure of perf.
      if (copy === null || !(e instanceof ToolError)) throw e;
      throw new InputError(
        file,
        null,
        'a perf.data file whose readable part perf script can decode',
        `${summary.warnings.join('; ')}; perf script could not decode what was written (${e.message})`,
      );
    });
    checkSampleCount(file, parsed.profile, summary, opts.strictSampleCount === true);
    const meta = filledMeta(parsed.profile, summary, join);
    if (copy !== null && copy.tracepointsLeftOut > 0) {
      meta.warnings.push(
        `${file}: tracepoint events (context switches for off-CPU time) are left out: perf writes the tracing data they need at the end of the file, which this one lacks`,
      );
    }
    const said = firstStderrLine(parsed.perfStderr);
    if (said !== '') meta.warnings.push(`${file}: perf script said: ${said}`);
    meta.recording.decoder = 'perf script';
    meta.callerSites = 'symbol-offset';
    if (decoder === 'auto') meta.warnings.push(`${file}: stacks decoded by perf script: ${why}`);
    progress?.(1);
    return withMeta(parsed.profile, meta);
  } finally {
    await copy?.remove();
  }
}

async function importNative(
  file: string,
  summary: PerfDataSummary,
  opts: PerfDataImportOptions,
  switches: Awaited<ReturnType<typeof switchFormatFor>>,
): Promise<Profile> {
  const { profile, stats } = await decodeNative(file, summary, {
    event: opts.event,
    keepAddresses: opts.keepAddresses,
    onProgress: opts.onProgress,
    cacheRoots: opts.cacheRoots,
    switchFormat: typeof switches === 'string' ? undefined : (switches ?? undefined),
  });
  const meta = filledMeta(profile, summary, new CgroupJoin(summary));
  nativeMeta(meta, file, stats);
  if (typeof switches === 'string') meta.warnings.push(`${file}: context switches left out: ${switches}`);
  return withMeta(profile, meta);
}

/** Facts and warnings of the native decoder: which kernel table, what stayed unresolved. */
function nativeMeta(meta: ProfileMeta, file: string, stats: NativeStats): void {
  meta.recording.decoder = 'native';
  meta.callerSites = 'module-address';
  meta.recording.kernelSymbols = stats.kernelSymbols;
  meta.recording.demangler = stats.demangler;
  if (stats.kernelSymbols.startsWith('none:')) {
    meta.warnings.push(`${file}: kernel frames are [unknown]: ${stats.kernelSymbols.slice(6)}`);
  }
  if (stats.unresolvedFrames > 0) {
    const files = stats.dsosMissing.slice(0, 5).map((d) => `${d.name} (${d.why})`);
    const more = stats.dsosMissing.length > 5 ? `, and ${stats.dsosMissing.length - 5} more` : '';
    meta.warnings.push(
      `${file}: ${stats.unresolvedFrames} frames have no symbol ([unknown])${files.length > 0 ? `; files without symbols: ${files.join(', ')}${more}` : ''}`,
    );
  }
}

/** Counts the text samples whose cgroup could not be found, by reason. */
class CgroupJoin {
  noThread = 0;
  noPath = 0;
  readonly enabled: boolean;

  constructor(private readonly summary: PerfDataSummary) {
    this.enabled = summary.attrs.some((a) => a.hasCgroup && a.samples > 0);
  }

  readonly cgroupOf = (tid: number, timeNs: number): string | undefined => {
    const id = this.summary.cgroupIdOf(tid, timeNs);
    if (id === undefined) {
      this.noThread++;
      return undefined;
    }
    const path = this.summary.cgroups.get(id);
    if (path === undefined) this.noPath++;
    return path;
  };
}

async function runAndParse(
  file: string,
  input: string,
  summary: PerfDataSummary,
  join: CgroupJoin,
  opts: PerfDataImportOptions,
): Promise<{ profile: Profile; perfStderr: string }> {
  const perfPath = opts.perfPath ?? 'perf';
  const sampled = summary.attrs.filter((a) => a.samples > 0);
  const fields = perfScriptFields(sampled.map((a) => a.sampleType));
  const inline = opts.inline ?? !sampled.some((a) => a.callGraph === 'dwarf');
  const run = startPerfScript(perfPath, input, fields, inline, file);
  const tap = new StdoutTap(summary, opts.onProgress);
  let profile: Profile | null = null;
  let parseError: unknown = null;
  try {
    const switches = sampled.find((a) => a.name === SWITCH_EVENT && a.name !== opts.event);
    // The profiled event: the first sampled event that is not a tracepoint (a recording with
    // context switches beside cpu-clock means cpu-clock), unless the user chose one.
    const main = sampled.find((a) => a.type !== PERF_TYPE_TRACEPOINT) ?? sampled[0];
    profile = await parsePerfScript(tap.pass(run.chunks), file, {
      event: opts.event,
      defaultEvent: main.name,
      switchEvent: switches ? SWITCH_EVENT : undefined,
      keepAddresses: opts.keepAddresses,
      callGraph: main.callGraph,
      cgroupOf: join.enabled ? join.cgroupOf : undefined,
    });
  } catch (e) {
    parseError = e;
    run.kill();
  }
  const exit = await run.exited;
  if (exit.spawnError !== null) throw perfMissingError(perfPath, exit.spawnError);
  if (parseError === null && exit.code !== 0) throw perfFailed(file, run, exit.code, exit.signal);
  if (parseError !== null) {
    if (exit.code !== 0 && exit.code !== null) throw perfFailed(file, run, exit.code, exit.signal);
    throw explainParseError(parseError, file, summary, run, tap);
  }
  return { profile: profile as Profile, perfStderr: run.stderr() };
}

function perfFailed(file: string, run: PerfScriptRun, code: number | null, signal: string | null): Error {
  const line = firstStderrLine(run.stderr());
  if (/incompatible file format|not a perf-compatible file|file format not supported/i.test(line)) {
    return new InputError(file, null, 'a perf.data file that the installed perf can read', line);
  }
  const how = code !== null ? `exit status ${code}` : `signal ${signal}`;
  return new ToolError('perf', `perf script failed on ${file} (${how})${line ? `: ${line}` : ''}`);
}

/**
 * perf printing nothing for a file that holds samples is perf's failure, not an empty profile; and
 * text the parser rejects came from perf, not from the user.
 */
function explainParseError(
  e: unknown,
  file: string,
  s: PerfDataSummary,
  run: PerfScriptRun,
  tap: StdoutTap,
): unknown {
  if (!(e instanceof InputError)) return e;
  const line = firstStderrLine(run.stderr());
  const said = line ? `; perf said: ${line}` : '';
  if (tap.bytes === 0)
    return new ToolError(
      'perf',
      `perf script printed nothing for ${file}, which holds ${s.samples} samples${said}`,
    );
  return new ToolError('perf', `perf script output for ${file} was not understood (${e.message})${said}`);
}

/**
 * Passes perf's stdout through, counting bytes, and reports progress by samples seen: a blank
 * line ends each sample with a call chain, a newline each sample without one.
 */
class StdoutTap {
  bytes = 0;
  private seen = 0;
  private reported = 0;
  private readonly separator: Buffer;

  constructor(
    private readonly s: PerfDataSummary,
    private readonly onProgress?: (fraction: number) => void,
  ) {
    const chains = s.attrs.some((a) => a.samples > 0 && a.callGraph !== 'none');
    this.separator = Buffer.from(chains ? '\n\n' : '\n');
  }

  async *pass(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      this.bytes += chunk.byteLength;
      if (this.onProgress !== undefined) this.count(chunk);
      yield chunk;
    }
  }

  private count(chunk: Uint8Array): void {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const sep = this.separator;
    for (let i = buf.indexOf(sep); i !== -1; i = buf.indexOf(sep, i + sep.length)) this.seen++;
    const f = READ_SHARE + (1 - READ_SHARE) * Math.min(0.99, this.seen / this.s.samples);
    if (f - this.reported >= 0.005) {
      this.reported = f;
      this.onProgress?.(f);
    }
  }
}

/**
 * perf script prints symbol and process names raw, so a name holding a newline and text shaped
 * like a sample header starts a record of the attacker's choosing. The perf.data file's own
 * record count is the check: a forged header makes perf script's count larger than the file's.
 * A name that also breaks real headers (a comm ending in a newline) can make up for that, but
 * leaves lines no header or frame explains; strict mode refuses those too.
 */
function checkSampleCount(file: string, profile: Profile, s: PerfDataSummary, strict: boolean): void {
  const printed = profile.meta.events.reduce((n, e) => n + e.samples, 0);
  const forged = (why: string) =>
    new InputError(
      file,
      null,
      'perf script output with one record per sample in the file (a symbol or process name may hold text shaped like samples)',
      why,
    );
  if (printed > s.samples)
    throw forged(`perf script printed ${printed} samples; the file holds ${s.samples}`);
  if (!strict) return;
  const unparsed = Object.entries(profile.meta.oddities).filter(([kind]) => kind.startsWith('unparsed'));
  if (unparsed.length > 0) {
    const [kind, o] = unparsed[0];
    throw forged(
      `${o.count} ${kind}${o.count === 1 ? '' : 's'} in perf script's output (first at its line ${o.firstLine})`,
    );
  }
  if (printed !== s.samples && !s.truncated)
    throw forged(`perf script printed ${printed} samples; the file holds ${s.samples}`);
}

/** Fails before running perf when the chosen event has no samples in the file. */
function checkEvent(file: string, s: PerfDataSummary, event: string | undefined): void {
  if (event === undefined) return;
  const sampled = s.attrs.filter((a) => a.samples > 0);
  if (sampled.some((a) => a.name === event || eventBase(a.name) === eventBase(event))) return;
  const have = sampled.map((a) => `${a.name} (${a.samples})`).join(', ');
  throw new InputError(file, null, `samples of event "${event}"`, `only ${have}`);
}

/** The attr of the event the parser kept: by full name, then base name, then the only one sampled. */
function chosenAttr(profile: Profile, s: PerfDataSummary): PerfDataAttrSummary | undefined {
  const ev = profile.meta.event;
  const sampled = s.attrs.filter((a) => a.samples > 0);
  return (
    s.attrs.find((a) => a.name === ev) ??
    s.attrs.find((a) => eventBase(a.name) === eventBase(ev)) ??
    (sampled.length === 1 ? sampled[0] : undefined)
  );
}

/** The meta of the parsed perf script output, completed with what perf.data itself says. */
function filledMeta(profile: Profile, s: PerfDataSummary, join: CgroupJoin): ProfileMeta {
  const meta = metaCopy(profile);
  const file = s.file;
  const attr = chosenAttr(profile, s);
  meta.format = 'perf-data';
  meta.callGraph = attr?.callGraph ?? 'unknown';
  meta.hasCgroups = attr?.hasCgroup ?? false;
  meta.truncated ||= s.truncated;
  for (const w of s.warnings) meta.warnings.push(`${file}: ${w}`);
  Object.assign(meta.recording, recordingFacts(s, attr));
  const ids = (s.features.buildIds ?? []).filter((b) => !b.kernel && b.filename.startsWith('/'));
  if (ids.length > 0) meta.buildIds = Object.fromEntries(ids.map((b) => [b.filename, b.buildId]));
  const printed = meta.events.find((e) => e.name === meta.event)?.samples ?? profile.samples.length;
  if (attr !== undefined && printed !== attr.samples) {
    meta.warnings.push(
      `${file}: perf script printed ${printed} samples of ${meta.event}; the file holds ${attr.samples}`,
    );
  }
  if (s.lost + s.lostSamples > 0) {
    meta.warnings.push(
      `${file}: the kernel dropped ${s.lostSamples} samples and ${s.lost} events while recording (perf could not keep up); shares may be skewed`,
    );
  }
  if (attr !== undefined && !attr.hasCgroup) {
    meta.warnings.push(`${file}: recorded without --all-cgroups: samples carry no cgroup`);
  }
  if (meta.hasCgroups && join.noThread + join.noPath > 0) {
    meta.warnings.push(cgroupMissWarning(file, profile.samples.length, join));
  }
  return meta;
}

function cgroupMissWarning(file: string, total: number, join: CgroupJoin): string {
  const parts: string[] = [];
  if (join.noThread > 0) parts.push(`${join.noThread} matched no sample of their thread in the file`);
  if (join.noPath > 0) parts.push(`${join.noPath} have a cgroup id with no PERF_RECORD_CGROUP path`);
  return `${file}: ${join.noThread + join.noPath} of ${total} samples have no cgroup (${parts.join('; ')})`;
}

function recordingFacts(
  s: PerfDataSummary,
  attr: PerfDataAttrSummary | undefined,
): Record<string, string | number> {
  const f = s.features;
  const out: Record<string, string | number> = {};
  const put = (k: string, v: string | number | null | undefined) => {
    if (v !== undefined && v !== null && v !== '') out[k] = v;
  };
  put('hostname', f.hostname);
  put('kernel', f.osrelease);
  put('perfVersion', f.perfVersion);
  put('arch', f.arch);
  put('nrcpus', f.nrcpusOnline);
  put('cpudesc', f.cpudesc);
  put('cmdline', f.cmdline);
  put('frequencyHz', attr?.frequency);
  put('period', attr?.period);
  put('clockid', attr?.clockid);
  // Samples of the profiled event in the file; equals the profile's sample count unless perf script dropped some.
  put('samplesInFile', attr?.samples ?? s.samples);
  put('lostSamples', s.lostSamples);
  put('lostEvents', s.lost);
  put('cgroups', s.cgroups.size);
  put('multiCgroupThreads', s.multiCgroupThreads);
  return out;
}
