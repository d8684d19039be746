/**
 * Bad input through the real CLI: one line on stderr naming the file (and the line, for text)
 * and what was expected, a documented exit code, never a stack trace; a cut file still gives the
 * samples before the cut, with a warning.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { corpusFile } from './support/corpus.mjs';

const dir = mkdtempSync(join(tmpdir(), 'crosstalk-cli-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function expectOneLine(stderr: string, ...parts: string[]): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  for (const p of parts) expect(lines[0]).toContain(p);
}

describe('crosstalk analyze on bad input', () => {
  it('a missing file: exit 66, names it', async () => {
    const r = await runCli(['analyze', join(dir, 'nope.data')]);
    expect(r.code).toBe(66);
    expectOneLine(r.stderr, 'nope.data', 'no such file');
  });

  it('an empty file: exit 65, says so', async () => {
    const r = await runCli(['analyze', file('empty.txt', '')]);
    expect(r.code).toBe(65);
    expectOneLine(r.stderr, 'empty.txt', 'expected', 'an empty file');
  });

  it('binary garbage: exit 65, line 1 and what was expected', async () => {
    const bytes = new Uint8Array(4096).map((_, i) => (i * 2654435761) % 256);
    const r = await runCli(['analyze', file('garbage.bin', bytes)]);
    expect(r.code).toBe(65);
    expectOneLine(r.stderr, 'garbage.bin:1', 'perf script text', 'binary data');
  });

  it('a JSON file passed as a profile: exit 65, recognised as JSON', async () => {
    const r = await runCli(['analyze', file('report.json', '{"schemaVersion": 1}\n')]);
    expect(r.code).toBe(65);
    expectOneLine(r.stderr, 'report.json:1', 'JSON');
  });

  it('a perf.data perf cannot read: exit 65, names the file', async () => {
    const bytes = Buffer.concat([Buffer.from('PERFILE2'), Buffer.alloc(200, 0xff)]);
    const r = await runCli(['analyze', file('broken.data', bytes)]);
    expect(r.code).toBe(65);
    expectOneLine(r.stderr, 'broken.data');
  });

  it('text that is neither format: exit 65 with the first line shown', async () => {
    const r = await runCli(['analyze', file('notes.txt', 'hello world\nthis is not a profile\n')]);
    expect(r.code).toBe(65);
    expectOneLine(r.stderr, 'notes.txt:1', 'hello world');
  });

  it('a file cut mid-sample: the samples before the cut, and a warning naming the sample line', async () => {
    const text = gunzipSync(readFileSync(corpusFile('host-samples/edge-comms.perf.txt.gz')));
    const cut = text.subarray(0, Math.floor(text.length / 2));
    const r = await runCli(['analyze', '--json', file('cut.txt', cut)]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.input.truncated).toBe(true);
    expect(j.input.samples).toBeGreaterThan(1000);
    expect(j.input.warnings.join('\n')).toMatch(
      /cut\.txt: input ends in the middle of the sample that starts at line \d+/,
    );
    expect(j.limitations.map((l: { code: string }) => l.code)).toContain('truncated');
  });

  it('usage errors: exit 64', async () => {
    const r = await runCli(['analyze', '--top', 'many', file('x.txt', 'x')]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--top');
    const u = await runCli(['analyze', '--no-such-flag']);
    expect(u.code).toBe(64);
  });

  it('a run reference that matches nothing: exit 66, says where it looked', async () => {
    const r = await runCli(['analyze', 'healthy', '--store', join(dir, 'store')]);
    expect(r.code).toBe(66);
    expectOneLine(r.stderr, 'healthy', 'no such file');
  });
});
