/**
 * Runs the installed `perf script` on a perf.data file and exposes its stdout as byte chunks,
 * its stderr (bounded) and its exit. No shell: arguments go to spawn as an array.
 */
import { spawn } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { ToolError } from '../errors.ts';
import { SampleType } from './sample-layout.ts';

export interface PerfScriptRun {
  chunks: AsyncIterable<Uint8Array>;
  /** Resolves when perf has exited (or could not be started). */
  exited: Promise<PerfExit>;
  /** The first lines perf wrote to stderr (at most STDERR_BYTES). */
  stderr(): string;
  /** Stops perf when the caller gives up on its output. */
  kill(): void;
}

export interface PerfExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError: NodeJS.ErrnoException | null;
}

const STDERR_BYTES = 64 * 1024;
/** Output queued while the parser is busy; perf is paused beyond this. */
const QUEUE_BYTES = 16 << 20;

/**
 * `-F` fields for samples of these types. perf script refuses a field whose sample_type bit is
 * missing ("Samples for 'cpu-clock:ppp' event do not have CPU attribute set. Cannot print 'cpu'
 * field."), which per-task recordings (no -a) hit for cpu.
 */
export function perfScriptFields(sampleTypes: number[]): string {
  const common = sampleTypes.reduce((t, s) => t & s, ~0);
  const has = (bit: number) => (common & bit) !== 0;
  const fields = ['comm'];
  if (has(SampleType.TID)) fields.push('pid', 'tid');
  if (has(SampleType.CPU)) fields.push('cpu');
  if (has(SampleType.TIME)) fields.push('time');
  if (has(SampleType.PERIOD)) fields.push('period');
  fields.push('event');
  // Tracepoint payloads (sched_switch's prev_state and next_pid); perf ignores `trace` for the
  // other events, and says so on stderr (firstStderrLine skips those notes).
  if (sampleTypes.some((t) => (t & SampleType.RAW) !== 0)) fields.push('trace');
  // symoff: `sym+0x1f`, the offset that locates a call site's file:line (call-site-lines.ts).
  if (has(SampleType.IP)) fields.push('ip', 'sym', 'symoff', 'dso');
  return fields.join(',');
}

/**
 * Starts `perf script -f -i FILE -F FIELDS --ns`. `-f` lets root read a perf.data owned by another
 * user (perf otherwise refuses: "file ... not owned by current user or root"); `--ns` prints
 * times as SECS.NNNNNNNNN, exact to the nanosecond, which the cgroup join by (tid, time) needs.
 * `inline: false` adds `--no-inline` (see PerfDataImportOptions.inline for why DWARF needs it).
 */
/**
 * The build-id cache a recording kept beside its perf.data (`RUN/build-id`, collect/symbol-cache.ts),
 * or null. Used only when it is a real directory owned by root or by this user: perf reads
 * binaries from it, so one planted by another local user is not trusted.
 */
export function runBuildIdDir(perfData: string): string | null {
  const dir = join(dirname(perfData), 'build-id');
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory() || (st.uid !== 0 && st.uid !== process.getuid?.())) return null;
    return dir;
  } catch {
    return null;
  }
}

export function startPerfScript(
  perfPath: string,
  input: string,
  fields: string,
  inline: boolean,
  shownAs: string,
): PerfScriptRun {
  const args = ['script', '-f', '-i', input, '-F', fields, '--ns'];
  if (!inline) args.push('--no-inline');
  const cache = runBuildIdDir(shownAs);
  if (cache !== null) args.unshift('--buildid-dir', cache);
  const child = spawn(perfPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (err.length < STDERR_BYTES) err += s.slice(0, STDERR_BYTES - err.length);
  });
  // crosstalk exiting mid-import (a signal, an error elsewhere) must not leave perf script running.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise<PerfExit>((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) => resolve({ code: null, signal: null, spawnError: e }));
    child.once('close', (code, signal) => resolve({ code, signal, spawnError: null }));
  }).finally(() => process.off('exit', killOnExit));
  return {
    chunks: drain(child.stdout),
    exited,
    // A repaired temporary copy is named as the user's file in perf's messages.
    stderr: () => (input === shownAs ? err : err.replaceAll(input, shownAs)),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/** The first informative stderr line; perf's "Warning:" headers are joined with the next line. */
export function firstStderrLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^'\w+' not valid for [\w-]+ events\. Ignoring\.$/.test(l));
  if (lines.length === 0) return '';
  if (lines[0].endsWith(':') && lines.length > 1) return `${lines[0]} ${lines[1]}`;
  return lines[0];
}

/** perf could not be started at all. */
export function perfMissingError(perfPath: string, e: NodeJS.ErrnoException): ToolError {
  const why =
    e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'not executable' : (e.code ?? e.message);
  return new ToolError('perf', `cannot run ${perfPath} (${why}); perf is needed to read perf.data files`);
}

/**
 * Reads `stream` in flowing mode and yields everything queued since the last yield as one chunk.
 * perf writes 4 KB at a time; consumed one `for await` step per write, the per-chunk cost alone
 * took 0.8 s of a 1.9 s parse of 183 MB here. Draining eagerly also empties the 64 KB pipe as
 * soon as the event loop is free, so perf waits less on the parser.
 */
export async function* drain(stream: Readable): AsyncGenerator<Uint8Array> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  stream.on('data', (b: Buffer) => {
    queue.push(b);
    queued += b.length;
    if (queued > QUEUE_BYTES) stream.pause();
    notify();
  });
  stream.once('end', () => {
    ended = true;
    notify();
  });
  stream.once('error', (e: Error) => {
    failure = e;
    notify();
  });
  try {
    for (;;) {
      if (queue.length > 0) {
        const out = queue.length === 1 ? queue[0] : Buffer.concat(queue, queued);
        queue.length = 0;
        queued = 0;
        if (stream.isPaused()) stream.resume();
        yield out;
        continue;
      }
      if (failure !== null) throw failure;
      if (ended) return;
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  } finally {
    stream.destroy();
  }
}
