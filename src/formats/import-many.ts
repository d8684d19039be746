/**
 * Imports several inputs (one per host, say) on several cores: `threads` lanes, this thread and
 * worker threads (parse-worker.ts runs their jobs), each import whole inputs one after another,
 * so memory stays bounded by that many inputs being parsed plus the finished profiles. A lane
 * keeps its thread for all its inputs: a fresh thread parses its first ~30 MB about 2-3x slower
 * (cold JIT), which would eat the gain. One input alone goes through importProfile, which
 * splits a large text file itself.
 */
import { stat } from 'node:fs/promises';
import type { Profile } from '../model/profile.ts';
import { deserializeError } from './errors.ts';
import { type ImportOptions, importProfile } from './input.ts';
import { defaultThreads, PARALLEL_MIN_BYTES, startWorker } from './parallel.ts';
import { FILE_JOB, type FileJob, type FileJobMessage, type FileJobOptions } from './worker-protocol.ts';

/**
 * The profiles of `paths`, in the same order. `opts.threads` bounds the lanes (default: the CPUs
 * available); 1, or inputs smaller than PARALLEL_MIN_BYTES together, import one input after
 * another on this thread (starting a worker costs more than it saves there).
 */
export async function importMany(paths: string[], opts: ImportOptions = {}): Promise<Profile[]> {
  if (paths.length === 1) return [await importProfile(paths[0], opts)];
  const small = (await totalBytes(paths)) < PARALLEL_MIN_BYTES;
  const threads = small ? 1 : Math.max(1, opts.threads ?? defaultThreads());
  const progress = new Float64Array(paths.length);
  const report = (k: number, f: number) => {
    progress[k] = f;
    opts.onProgress?.(progress.reduce((a, b) => a + b, 0) / paths.length);
  };
  const jobOptions: FileJobOptions = {
    event: opts.event,
    keepAddresses: opts.keepAddresses,
    callGraph: opts.callGraph,
  };
  const out: Profile[] = new Array(paths.length);
  let next = 0;
  const lane = async (onThisThread: boolean) => {
    const worker = onThisThread ? null : new ImportWorker();
    try {
      while (next < paths.length) {
        const k = next++;
        const onProgress = (f: number) => report(k, f);
        out[k] = worker
          ? await worker.import({ path: paths[k], options: jobOptions }, onProgress)
          : await importProfile(paths[k], { ...jobOptions, threads: 1, onProgress });
      }
    } finally {
      await worker?.close();
    }
  };
  await Promise.all(Array.from({ length: Math.min(threads, paths.length) }, (_, i) => lane(i === 0)));
  return out;
}

/** Bytes of the inputs that exist (a missing one fails later, with its own error). */
async function totalBytes(paths: string[]): Promise<number> {
  const sizes = await Promise.all(
    paths.map((p) =>
      stat(p).then(
        (s) => (s.isFile() ? s.size : 0),
        () => 0,
      ),
    ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

/** One worker thread importing the inputs it is given, one at a time. */
class ImportWorker {
  private readonly w = startWorker({ kind: FILE_JOB });
  private pending: {
    resolve: (p: Profile) => void;
    reject: (e: Error) => void;
    onProgress: (f: number) => void;
  } | null = null;

  constructor() {
    this.w.on('message', (m: FileJobMessage) => {
      const p = this.pending;
      if (p === null) return;
      if (m.type === 'progress') p.onProgress(m.fraction);
      else {
        this.pending = null;
        if (m.type === 'done') p.resolve(m.profile);
        else p.reject(deserializeError(m.error));
      }
    });
    const fail = (e: Error) => {
      this.pending?.reject(e);
      this.pending = null;
    };
    this.w.on('error', fail);
    this.w.on('exit', (code) => fail(new Error(`import worker exited with code ${code}`)));
  }

  import(job: FileJob, onProgress: (f: number) => void): Promise<Profile> {
    return new Promise<Profile>((resolve, reject) => {
      this.pending = { resolve, reject, onProgress };
      this.w.postMessage(job);
    });
  }

  /**
   * Lets the worker end by itself: terminate() while V8 still compiles in the background can
   * abort the whole process (a Node assertion in NodePlatform::ForIsolate, seen here).
   */
  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.w.once('exit', resolve));
    this.w.postMessage(null);
    await exited;
  }
}
