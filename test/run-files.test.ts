/**
 * The run files as the store reads them back (zod): counters.json and metadata.json. A damaged
 * file is an error that names it (and the field), never a silent "no counters"; a run without
 * counters.json has none.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/formats/errors.ts';
import { readRunCounters } from '../src/store/counters-file.ts';
import { parseRunMetadata } from '../src/store/metadata.ts';
import { runCli } from './support/cli.ts';

const root = mkdtempSync(join(tmpdir(), 'crosstalk-run-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FIXTURE = new URL('./fixtures/perf-script-inlined.txt', import.meta.url).pathname;

let n = 0;
function runDir(counters: string | null): string {
  const dir = join(root, `run-${++n}`);
  const meta = {
    schema: 'crosstalk.run/1',
    id: `run-${n}`,
    createdAt: '2026-12-04T00:00:00.000Z',
    labels: [],
    status: 'complete',
    recorderPid: 1,
    recording: null,
  };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify(meta));
  writeFileSync(join(dir, 'perf.data'), readFileSync(FIXTURE));
  if (counters !== null) writeFileSync(join(dir, 'counters.json'), counters);
  return dir;
}

const snapshot = { uptimeSeconds: 1, dentryState: null, slabinfo: null, pressure: {}, cgroups: [] };
const valid = {
  schema: 'crosstalk.counters/1',
  cgroupsBefore: { cgroups: [] },
  cgroupsAfter: null,
  kernelBefore: snapshot,
  kernelAfter: { ...snapshot, uptimeSeconds: 3 },
  syscallRates: null,
};

describe('counters.json', () => {
  it('reads a valid file, and a run without one has no counters', async () => {
    expect((await readRunCounters(runDir(JSON.stringify(valid))))?.kernelAfter?.uptimeSeconds).toBe(3);
    expect(await readRunCounters(runDir(null))).toBeNull();
  });

  it('names the file when it is not JSON', async () => {
    const dir = runDir('{"schema": "crosstalk.counters/1", ');
    await expect(readRunCounters(dir)).rejects.toThrow(InputError);
    await expect(readRunCounters(dir)).rejects.toThrow(
      `${join(dir, 'counters.json')}: expected JSON run counters`,
    );
  });

  it('names the file and the field when the shape is wrong', async () => {
    const dir = runDir(JSON.stringify({ ...valid, kernelBefore: { ...snapshot, uptimeSeconds: 'soon' } }));
    await expect(readRunCounters(dir)).rejects.toThrow(
      /counters\.json: expected run counters .*a bad kernelBefore\.uptimeSeconds/,
    );
  });

  it('makes analyze fail with exit 65 and one line naming counters.json, instead of analysing without counters', async () => {
    const dir = runDir(JSON.stringify({ ...valid, syscallRates: { cgroups: 'many' } }));
    const r = await runCli(['analyze', dir]);
    expect(r.code).toBe(65);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(join(dir, 'counters.json'));
    expect(r.stdout).toBe('');
  });
});

describe('metadata.json', () => {
  const base = {
    schema: 'crosstalk.run/1',
    id: 'x',
    createdAt: 'now',
    labels: [],
    status: 'complete',
    recorderPid: 1,
    recording: null,
  };

  it('returns the file as written, recorder facts included', () => {
    const m = parseRunMetadata(
      JSON.stringify({ ...base, recording: { host: { name: 'h' }, notes: [] } }),
      'f',
    );
    expect((m.recording as unknown as { host: { name: string } }).host.name).toBe('h');
  });

  it('names the file, and the field of the recording that is wrong', () => {
    expect(() => parseRunMetadata('{', 'dir/metadata.json')).toThrow(
      'dir/metadata.json: expected JSON run metadata',
    );
    expect(() => parseRunMetadata(JSON.stringify({ ...base, status: 'done' }), 'm.json')).toThrow(
      'm.json: expected run metadata with id, createdAt, labels, status, recorderPid',
    );
    const bad = { ...base, recording: { window: { actualSeconds: 'ten' } } };
    expect(() => parseRunMetadata(JSON.stringify(bad), 'm.json')).toThrow(
      /found a bad recording\.window\.actualSeconds/,
    );
  });
});
