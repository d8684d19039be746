/**
 * Imports one input made of a single huge line and prints, as JSON, the outcome, the time and
 * the peak RSS growth. Run in its own process (`node --expose-gc --import tsx`) so the memory
 * figure is the import's alone: `fuzz-big-line.ts KIND BYTES DIR`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError } from '../../src/formats/errors.ts';
import { importProfile } from '../../src/formats/input.ts';

const [kind, sizeText, dir] = process.argv.slice(2);
const size = Number(sizeText);

/** The huge line in the places each importer meets it. */
function inputOf(k: string): Uint8Array {
  const fill = (c: string) => c.repeat(Math.ceil(size / c.length)).slice(0, size);
  const header = 'app 123 [000] 1.000000: 250000 cpu-clock:\n';
  switch (k) {
    case 'perf-script-frame':
      return Buffer.from(`${header}\tffff ${fill('a')} (mod)\n\n`);
    case 'perf-script-payload':
      return Buffer.from(`${header}${fill('x ')}\n`);
    case 'folded-stack':
      return Buffer.from(`comm;${fill('frame;')}leaf 7\n`);
    case 'no-newline':
      return Buffer.from(fill('z'));
    case 'gzip-frame':
      return gzipSync(Buffer.from(`${header}\tffff ${fill('a')} (mod)\n\n`));
    default:
      throw new Error(`unknown kind ${k}`);
  }
}

const file = join(dir, `${kind}.in`);
writeFileSync(file, inputOf(kind));
globalThis.gc?.();
const rss0 = process.memoryUsage().rss;
let peak = rss0;
const timer = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 2);
const t0 = performance.now();
let outcome: Record<string, unknown>;
try {
  const p = await importProfile(file, { threads: 1 });
  outcome = { result: 'profile', samples: p.samples.length, truncated: p.meta.truncated };
} catch (e) {
  outcome =
    e instanceof InputError
      ? { result: 'input-error', file: e.file, line: e.line, message: e.message }
      : { result: 'other-error', message: String((e as Error).stack ?? e) };
}
const ms = performance.now() - t0;
clearInterval(timer);
peak = Math.max(peak, process.memoryUsage().rss);
process.stdout.write(`${JSON.stringify({ ...outcome, file, ms, peakGrowthBytes: peak - rss0 })}\n`);
