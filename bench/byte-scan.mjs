// Baseline for the parse benchmark: a bare Node loop that touches every byte of the file once
// (counts newlines byte by byte), read in the same 1 MiB chunks the importer uses.
import { createReadStream } from 'node:fs';

const t0 = performance.now();
let lines = 0;
for await (const chunk of createReadStream(process.argv[2], { highWaterMark: 1 << 20 })) {
  for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
}
process.stdout.write(
  `${JSON.stringify({ lines, totalMs: performance.now() - t0, maxRssKb: process.resourceUsage().maxRSS })}\n`,
);
