/**
 * Worker thread body for parallel parsing (parallel.ts): parses one byte range of a perf script
 * text file. It first counts its lines and waits for its line offset, so the line numbers it
 * reports are those of the whole file. The same worker imports one whole input for
 * import-many.ts (FILE_JOB), so the bundle needs no second worker file.
 */
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from './errors.ts';
import { importProfile } from './input.ts';
import { parsePerfScript } from './perf-script/parser.ts';
import {
  FILE_JOB,
  type FileJob,
  type FileJobMessage,
  type PartMessage,
  type PartRequest,
  transferListOf,
} from './worker-protocol.ts';

const CHUNK = 1 << 20;

async function countLines(file: string, start: number, end: number): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(file, {
    start,
    end: end - 1,
    highWaterMark: CHUNK,
  }) as AsyncIterable<Buffer>) {
    let pos = chunk.indexOf(10);
    while (pos !== -1) {
      n++;
      pos = chunk.indexOf(10, pos + 1);
    }
  }
  return n;
}

async function run(req: PartRequest): Promise<void> {
  const port = parentPort!;
  port.postMessage({
    type: 'lines',
    count: await countLines(req.file, req.start, req.end),
  } satisfies PartMessage);
  const offset = await new Promise<number>((resolve) =>
    port.once('message', (m: { offset: number }) => resolve(m.offset)),
  );
  let last = 0;
  const profile = await parsePerfScript(
    createReadStream(req.file, { start: req.start, end: req.end - 1, highWaterMark: CHUNK }),
    req.source,
    {
      ...req.options,
      lineOffset: offset,
      onProgress: (bytes) => {
        if (bytes - last >= 8 * CHUNK) {
          last = bytes;
          port.postMessage({ type: 'progress', bytes } satisfies PartMessage);
        }
      },
    },
  );
  port.postMessage({ type: 'done', profile } satisfies PartMessage, transferListOf(profile));
}

if (parentPort && workerData?.kind === 'crosstalk-parse-part') {
  run(workerData.request as PartRequest).catch((e: unknown) => {
    parentPort!.postMessage({ type: 'error', error: serializeError(e) } satisfies PartMessage);
  });
}

/** Worker side: imports each input it is sent, whole, on this thread; posts each profile back. */
function serveFileJobs(): void {
  const port = parentPort!;
  port.on('message', (job: FileJob | null) => {
    if (job === null) port.close();
    else void runFileJob(job);
  });
}

async function runFileJob(job: FileJob): Promise<void> {
  const port = parentPort!;
  let last = 0;
  try {
    const profile = await importProfile(job.path, {
      ...job.options,
      threads: 1,
      onProgress: (fraction) => {
        if (fraction - last >= 0.05) {
          last = fraction;
          port.postMessage({ type: 'progress', fraction } satisfies FileJobMessage);
        }
      },
    });
    port.postMessage({ type: 'done', profile } satisfies FileJobMessage, transferListOf(profile));
  } catch (e) {
    port.postMessage({ type: 'error', error: serializeError(e) } satisfies FileJobMessage);
  }
}

if (parentPort && workerData?.kind === FILE_JOB) serveFileJobs();
