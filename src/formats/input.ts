/**
 * Opens an input the user named, recognises its format from its first bytes, and runs the
 * matching importer: perf.data (via the installed perf), perf script text (plain or gzip),
 * folded stacks, pprof (plain or gzip). A run directory (from `crosstalk record`) means its perf.data.
 */
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip, gunzipSync } from 'node:zlib';
import { type CallGraphMode, type Profile, withWarnings } from '../model/profile.ts';
import { InputError, UnreadableInputError, UnrecognizedFormatError } from './errors.ts';
import { parseFolded, sniffFolded } from './folded.ts';
import { lineTooLong, MAX_LINE_BYTES } from './lines.ts';
import { cutPoints, parallelism, parsePerfScriptParallel } from './parallel.ts';
import { importPerfData, SWITCH_EVENT } from './perf-data/import.ts';
import { sniffPerfData } from './perf-data/reader.ts';
import { eventBase, headFacts, parsePerfScript, sniffPerfScript } from './perf-script/parser.ts';
import { parsePprof, sniffPprof } from './pprof-import.ts';

export interface ImportOptions {
  /** Event to keep (default: the first in the input). */
  event?: string;
  /** Keep addresses of unknown frames (collapse --addrs). Default false. */
  keepAddresses?: boolean;
  /** How text input was unwound, when the user knows better than the input. */
  callGraph?: CallGraphMode;
  /** Fraction of the input read so far, 0..1. */
  onProgress?: (fraction: number) => void;
  /** Worker threads for large uncompressed text. Default: the number of CPUs available. */
  threads?: number;
  /**
   * perf script text: keep context switches (sched:sched_switch) beside the profiled event for
   * off-CPU time, as the perf.data import does, instead of counting them as an event of their own.
   * Default true; `collapse` says false, to pick the first event as inferno-collapse-perf does.
   * `--event sched:sched_switch` profiles the switches themselves either way.
   */
  switches?: boolean;
}

const HEAD_BYTES = 64 * 1024;
const CHUNK_BYTES = 1 << 20;

export async function importProfile(path: string, opts: ImportOptions = {}): Promise<Profile> {
  const file = await resolveInputFile(path);
  const size = (await stat(file)).size;
  const raw = await readHead(file, HEAD_BYTES);
  if (raw.length === 0)
    throw new InputError(
      path,
      null,
      'a perf.data, perf script text, folded stacks or pprof file',
      'an empty file',
    );
  if (sniffPerfData(raw) === 'yes') {
    return importPerfData(file, {
      event: opts.event,
      keepAddresses: opts.keepAddresses,
      onProgress: opts.onProgress,
    });
  }
  const gz = raw[0] === 0x1f && raw[1] === 0x8b;
  if (!gz && sniffPprof(raw, raw.length === size) === 'yes') return importPprofFile(file, path, false, opts);
  const source = gz ? gunzipChunks(file, size, opts.onProgress) : plainChunks(file, size, opts.onProgress);
  const { head, complete, chunks } = await peek(source.chunks, HEAD_BYTES, textUndecided);
  if (head.length === 0)
    throw new InputError(path, null, 'perf script text or folded stacks inside the gzip file', 'no data');
  if (
    !complete &&
    head.length >= MAX_LINE_BYTES &&
    textUndecided(head.subarray(0, MAX_LINE_BYTES - 1), false)
  )
    throw lineTooLong(path, countLines(head));
  if (gz && sniffPprof(head, complete) === 'yes') {
    await source.cancel();
    return importPprofFile(file, path, true, opts);
  }
  let profile: Profile;
  const isPerfScript = sniffPerfScript(head, complete) === 'yes';
  const switchEvent = switchEventFor(opts);
  const threads = parallelism(size, opts.threads);
  if (isPerfScript && !gz && threads > 1) {
    const facts = headFacts(head, switchEvent);
    // Parts must all keep the same event: without one in the head, each part would pick its own.
    const points =
      facts.event !== null || opts.event !== undefined ? await cutPoints(file, size, threads) : [];
    if (points.length > 2) {
      await source.cancel();
      return parsePerfScriptParallel(
        file,
        path,
        size,
        points,
        {
          event: opts.event,
          defaultEvent: facts.event ?? undefined,
          keepAddresses: opts.keepAddresses,
          callGraph: opts.callGraph ?? facts.callGraph ?? undefined,
          switchEvent,
        },
        opts.onProgress,
      );
    }
  }
  if (isPerfScript) {
    profile = await parsePerfScript(chunks, path, {
      event: opts.event,
      keepAddresses: opts.keepAddresses,
      callGraph: opts.callGraph,
      switchEvent,
    });
  } else if (sniffFolded(head, complete) === 'yes') {
    profile = await parseFolded(chunks, path);
  } else {
    throw new UnrecognizedFormatError(
      path,
      firstLineNumber(head),
      'perf.data, perf script text ("comm pid [cpu] time: period event:" headers), folded stacks ("a;b;c 12") or pprof',
      describe(head, gz),
    );
  }
  if (source.cutShort !== null) {
    const warning = `${path}: ${source.cutShort()}; the result covers the data before that point`;
    return withWarnings(profile, [warning], true);
  }
  return profile;
}

/** The context-switch event kept beside the profile of perf script text, if any. */
function switchEventFor(opts: ImportOptions): string | undefined {
  if (opts.switches === false) return undefined;
  if (opts.event !== undefined && eventBase(opts.event) === eventBase(SWITCH_EVENT)) return undefined;
  return SWITCH_EVENT;
}

/** pprof is read whole: the protobuf cannot be decoded in a stream. */
async function importPprofFile(
  file: string,
  path: string,
  gz: boolean,
  opts: ImportOptions,
): Promise<Profile> {
  let bytes: Uint8Array = await readFile(file);
  opts.onProgress?.(0.5);
  if (gz) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new InputError(path, null, 'a complete gzip file', `corrupt gzip data (${(e as Error).message})`);
    }
  }
  const profile = parsePprof(bytes, path, { keepAddresses: opts.keepAddresses });
  opts.onProgress?.(1);
  return profile;
}

/** A run directory stands for its perf.data. */
async function resolveInputFile(path: string): Promise<string> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UnreadableInputError(path, code === 'ENOENT' ? 'no such file' : `cannot read (${code})`);
  }
  if (st.isDirectory()) {
    const inner = join(path, 'perf.data');
    try {
      await stat(inner);
      return inner;
    } catch {
      throw new UnreadableInputError(path, 'is a directory without a perf.data (not a crosstalk run)');
    }
  }
  return path;
}

async function readHead(file: string, n: number): Promise<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(file, 'r');
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } catch (e) {
    throw new UnreadableInputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
  } finally {
    await fh?.close();
  }
}

interface ChunkSource {
  chunks: AsyncIterable<Uint8Array>;
  /** Stops reading (the input is read another way). */
  cancel(): Promise<void>;
  /** Set when the input ended early (corrupt or cut gzip); returns the description. */
  cutShort: (() => string) | null;
}

function plainChunks(file: string, size: number, onProgress?: (f: number) => void): ChunkSource {
  const stream = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  async function* gen() {
    let read = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      read += chunk.length;
      onProgress?.(size > 0 ? read / size : 1);
      yield chunk;
    }
  }
  return {
    chunks: gen(),
    cutShort: null,
    cancel: async () => {
      stream.destroy();
    },
  };
}

function gunzipChunks(file: string, size: number, onProgress?: (f: number) => void): ChunkSource {
  const raw = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  let read = 0;
  raw.on('data', (c: string | Buffer) => {
    read += c.length;
    onProgress?.(size > 0 ? read / size : 1);
  });
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  raw.pipe(gunzip);
  const source: ChunkSource = {
    chunks: gen(),
    cutShort: null,
    cancel: async () => {
      raw.destroy();
      gunzip.destroy();
    },
  };
  async function* gen() {
    try {
      for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
    } catch (e) {
      const msg = (e as Error).message;
      source.cutShort = () => `gzip data ends early or is corrupt at compressed byte ${read} (${msg})`;
    }
  }
  return source;
}

/**
 * Neither text sniffer can decide yet: the first line that is not a comment is longer than the
 * head (a deep folded stack). Reading on is bounded by the importers' line limit.
 */
function textUndecided(head: Uint8Array, complete: boolean): boolean {
  return (
    head.length < MAX_LINE_BYTES &&
    sniffPerfScript(head, complete) === 'need-more' &&
    sniffFolded(head, complete) === 'need-more'
  );
}

/**
 * Reads at least `n` bytes (or all) for sniffing, more while `undecided` says so, and returns an
 * iterable that replays them.
 */
async function peek(
  it: AsyncIterable<Uint8Array>,
  n: number,
  undecided: (head: Uint8Array, complete: boolean) => boolean,
): Promise<{ head: Uint8Array; complete: boolean; chunks: AsyncIterable<Uint8Array> }> {
  const iter = it[Symbol.asyncIterator]();
  const taken: Uint8Array[] = [];
  let len = 0;
  let complete = false;
  let head: Uint8Array = new Uint8Array(0);
  for (;;) {
    while (len < n) {
      const r = await iter.next();
      if (r.done) {
        complete = true;
        break;
      }
      taken.push(r.value);
      len += r.value.length;
    }
    head = Buffer.concat(taken);
    if (complete || !undecided(head, complete)) break;
    n = len + 1;
  }
  async function* replay() {
    for (const t of taken) yield t;
    for (;;) {
      const r = await iter.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, complete, chunks: replay() };
}

/** Number of the line `head` ends in. */
function countLines(head: Uint8Array): number {
  let n = 1;
  for (let i = head.indexOf(0x0a); i !== -1; i = head.indexOf(0x0a, i + 1)) n++;
  return n;
}

function firstLineNumber(head: Uint8Array): number | null {
  return head.length > 0 ? 1 : null;
}

/** What the bytes look like, for the error message. */
function describe(head: Uint8Array, gz: boolean): string {
  const sample = head.subarray(0, 4096);
  const nul = sample.indexOf(0);
  if (nul !== -1) {
    return gz
      ? 'binary data inside the gzip file that is not a pprof profile'
      : `binary data (a NUL byte at offset ${nul})`;
  }
  const text = Buffer.from(sample).toString('utf8').trimStart();
  if (text.startsWith('{') || text.startsWith('['))
    return 'JSON (a speedscope, Chrome trace or crosstalk --json file?)';
  const first = text.split('\n', 1)[0].slice(0, 60);
  return `a first line that is neither: ${JSON.stringify(first)}`;
}
