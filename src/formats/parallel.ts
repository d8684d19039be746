/**
 * Parses a large uncompressed perf script file on several cores: the file is cut at sample
 * boundaries (a blank line followed by a header), each part is parsed in a worker thread, and the
 * parts are merged in file order. Memory stays bounded: each worker streams its range.
 */
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { mergeProfiles } from '../model/merge.ts';
import { metaCopy, type Profile, withMeta } from '../model/profile.ts';
import { deserializeError } from './errors.ts';
import { eventBase, severalEventsWarning } from './perf-script/parser.ts';
import type { PartMessage, PartRequest } from './worker-protocol.ts';

/** Below this size one thread is as fast: starting workers and merging costs ~100 ms. */
export const PARALLEL_MIN_BYTES = 48 * 1024 * 1024;
/** Parts are at least this large. */
const MIN_PART_BYTES = 24 * 1024 * 1024;
/** How far past a cut point to look for a sample boundary. */
const BOUNDARY_SEARCH_BYTES = 4 * 1024 * 1024;

/**
 * Below this many CPUs the default is one thread: on a 2-vCPU VM two parse threads measured no
 * faster than one (1.09 s vs 1.16 s wall for 129 MB, 155 vs 189 MB peak): parsing is bound by
 * memory bandwidth there, and a fresh worker's JIT warm-up costs what the second core gains.
 */
const DEFAULT_PARALLEL_MIN_CPUS = 4;

/** Threads used when the user does not say: one per CPU from 4 CPUs up, else one. */
export function defaultThreads(): number {
  const cpus = availableParallelism();
  return cpus >= DEFAULT_PARALLEL_MIN_CPUS ? cpus : 1;
}

export function parallelism(size: number, requested?: number): number {
  const cores = requested ?? defaultThreads();
  if (size < PARALLEL_MIN_BYTES) return 1;
  return Math.max(1, Math.min(cores, Math.floor(size / MIN_PART_BYTES)));
}

/** Byte offsets [0, b1, ..., size] at sample boundaries; fewer parts if no boundary is found. */
export async function cutPoints(file: string, size: number, parts: number): Promise<number[]> {
  const points = [0];
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(BOUNDARY_SEARCH_BYTES);
    for (let k = 1; k < parts; k++) {
      const target = Math.floor((size * k) / parts);
      if (target <= points[points.length - 1]) continue;
      const { bytesRead } = await fh.read(buf, 0, buf.length, target);
      const i = buf.subarray(0, bytesRead).indexOf('\n\n');
      if (i === -1) continue;
      // The next part starts after the blank line(s), at a header line.
      let start = target + i + 2;
      while (start - target < bytesRead && buf[start - target] === 10) start++;
      if (start < size) points.push(start);
    }
  } finally {
    await fh.close();
  }
  points.push(size);
  return points;
}

/**
 * A worker running the module next to this one: parse-worker.js in the bundle; parse-worker.ts in
 * the sources (tests), loaded through tsx's register API.
 */
export function startWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./parse-worker.js', import.meta.url), { workerData });
  const ts = new URL('./parse-worker.ts', import.meta.url).href;
  const boot = `(async () => { const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(ts)}); })();`;
  return new Worker(boot, { eval: true, workerData });
}

export async function parsePerfScriptParallel(
  file: string,
  source: string,
  size: number,
  points: number[],
  options: PartRequest['options'],
  onProgress?: (fraction: number) => void,
): Promise<Profile> {
  const parts = points.length - 1;
  const lineCounts: (number | undefined)[] = Array.from({ length: parts }, () => undefined);
  const progress = new Float64Array(parts);
  const workers: Worker[] = [];
  const maybeSendOffsets = () => {
    if (lineCounts.some((c) => c === undefined)) return;
    let offset = 0;
    for (let k = 0; k < parts; k++) {
      workers[k].postMessage({ offset });
      offset += lineCounts[k]!;
    }
  };
  const results = await Promise.all(
    Array.from({ length: parts }, (_, k) => {
      const request: PartRequest = { file, source, start: points[k], end: points[k + 1], options };
      const w = startWorker({ kind: 'crosstalk-parse-part', request });
      workers.push(w);
      return new Promise<Profile>((resolve, reject) => {
        w.on('message', (m: PartMessage) => {
          if (m.type === 'lines') {
            lineCounts[k] = m.count;
            maybeSendOffsets();
          } else if (m.type === 'progress') {
            progress[k] = m.bytes;
            onProgress?.(progress.reduce((a, b) => a + b, 0) / size);
          } else if (m.type === 'done') resolve(m.profile);
          else reject(deserializeError(m.error, source));
        });
        w.on('error', reject);
      });
    }),
  ).finally(() => Promise.all(workers.map((w) => w.terminate())));
  return withEventChoice(mergeProfiles(results, source), source, options);
}

/** Each part saw only its own events; the whole file's choice and warning are decided here. */
function withEventChoice(p: Profile, source: string, options: PartRequest['options']): Profile {
  const m = metaCopy(p);
  if (options.event !== undefined) {
    m.eventChosenBy = 'option';
    return withMeta(p, m);
  }
  m.warnings = m.warnings.filter((w) => !/ events in the input \(/.test(w));
  // Context switches kept beside the profile are not a choice of event (as in the parser's finish).
  const switchBase = (p.switches?.length ?? 0) > 0 ? eventBase(options.switchEvent ?? '') : null;
  const profiled = m.events.filter((e) => eventBase(e.name) !== switchBase);
  const bases = new Set(profiled.map((e) => eventBase(e.name)));
  m.eventChosenBy = bases.size > 1 ? 'first' : 'only';
  if (bases.size > 1) m.warnings.push(severalEventsWarning(source, profiled, m.event));
  return withMeta(p, m);
}
