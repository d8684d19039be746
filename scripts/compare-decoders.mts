// Compares the native perf.data decoder with perf script on one file: `npx tsx scripts/compare-decoders.mts FILE [EVENT]`.
import { compareDecoders } from '../test/support/decoder-conformance.ts';

const r = await compareDecoders(process.argv[2], process.argv[3]);
const { differences, ...rest } = r;
console.log(JSON.stringify(rest, null, 1));
for (const d of differences.slice(0, 25))
  console.log(d.where, d.samples, d.weight, d.kernel ? 'K' : '', '|', d.native, '|', d.perf);
