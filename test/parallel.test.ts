/** Parallel parsing of one perf script file gives exactly the serial result. */
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { collapseProfile } from '../src/formats/collapse.ts';
import { importProfile } from '../src/formats/input.ts';
import { cutPoints, parsePerfScriptParallel } from '../src/formats/parallel.ts';
import { headFacts, parsePerfScript } from '../src/formats/perf-script/parser.ts';
import { corpusFile } from './support/corpus.mjs';

const corpus = (name: string) => corpusFile(`host-samples/${name}`);
const dir = mkdtempSync(join(tmpdir(), 'crosstalk-parallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function unzipTo(name: string): string {
  const out = join(dir, name.replace(/\.gz$/, ''));
  writeFileSync(out, gunzipSync(readFileSync(corpus(name))));
  return out;
}

async function serial(file: string) {
  return parsePerfScript(createReadStream(file), file);
}

describe('parallel perf script parsing', () => {
  it('busy-host (130 MB) on 2 threads equals the single-threaded parse', async () => {
    const file = unzipTo('busy-host.perf.txt.gz');
    const one = await importProfile(file, { threads: 1 });
    const two = await importProfile(file, { threads: 2 });
    expect(two.samples.length).toBe(205106);
    expect(two.samples.length).toBe(one.samples.length);
    expect(two.meta.events).toEqual(one.meta.events);
    expect(collapseProfile(two, { tid: true })).toEqual(collapseProfile(one, { tid: true }));
    expect(Array.from(two.samples.time)).toEqual(Array.from(one.samples.time));
  });

  it('reports line numbers of the whole file from every part', async () => {
    const text = readFileSync(unzipTo('edge-comms.perf.txt.gz'), 'latin1');
    const lines = text.split('\n');
    // A line no parser can read, placed late in the file (in the last part).
    const at = lines.length - 40;
    while (lines[at - 1] !== '') lines.splice(at, 0);
    lines.splice(at, 0, 'this is not a perf script line', '');
    const file = join(dir, 'odd.txt');
    writeFileSync(file, lines.join('\n'), 'latin1');
    const size = statSync(file).size;
    const points = await cutPoints(file, size, 3);
    expect(points.length).toBe(4);
    const head = readFileSync(file).subarray(0, 65536);
    const par = await parsePerfScriptParallel(file, file, size, points, {
      defaultEvent: headFacts(head).event ?? undefined,
    });
    const ser = await serial(file);
    expect(par.meta.oddities).toEqual(ser.meta.oddities);
    expect(Object.values(par.meta.oddities)[0].firstLine).toBe(at + 1);
    expect(collapseProfile(par, {})).toEqual(collapseProfile(ser, {}));
  });

  it('decides the event for the whole file: first event, one warning', async () => {
    const file = unzipTo('mixed-events.perf.txt.gz');
    const size = statSync(file).size;
    const points = await cutPoints(file, size, 4);
    const head = readFileSync(file).subarray(0, 65536);
    const par = await parsePerfScriptParallel(file, file, size, points, {
      defaultEvent: headFacts(head).event ?? undefined,
    });
    const ser = await serial(file);
    expect(par.meta.event).toBe(ser.meta.event);
    expect(par.meta.eventChosenBy).toBe('first');
    expect(par.meta.events.map((e) => e.samples).sort()).toEqual(
      ser.meta.events.map((e) => e.samples).sort(),
    );
    expect(par.meta.warnings.filter((w) => w.includes('events in the input'))).toHaveLength(1);
    expect(par.samples.length).toBe(ser.samples.length);
  });
});
