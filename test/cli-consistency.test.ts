/**
 * One consistent CLI: every command that reads a profile takes a run (id, prefix, label), a
 * wrong argument fails before anything is recorded, an ambiguous label says which run it used,
 * and numbers say their unit. Runs here are made with the store's own API, holding real perf
 * script text (the corpus's edge-comms recording) as their perf.data: crosstalk sniffs content,
 * not names.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../src/store/store.ts';
import { runCli } from './support/cli.ts';
import { corpusFile } from './support/corpus.mjs';

const dir = mkdtempSync(join(tmpdir(), 'crosstalk-cli-consistency-'));
const root = join(dir, 'runs');
const text = join(dir, 'edge.txt');
const ids: string[] = [];
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  writeFileSync(text, gunzipSync(readFileSync(corpusFile('host-samples/edge-comms.perf.txt.gz'))));
  const store = new RunStore(root);
  for (const when of ['2026-12-01T10:00:00Z', '2026-12-02T10:00:00Z']) {
    const run = await store.createRun(new Date(when), ['healthy']);
    copyFileSync(text, join(run.dir, 'perf.data'));
    await store.updateMetadata(run.dir, (m) => ({
      ...m,
      status: 'complete',
      recording: { interrupted: false } as never,
    }));
    ids.push(run.id);
  }
});

describe('collapse takes a run like every other command', () => {
  it('by id, giving the same folded stacks as the file', async () => {
    const byRun = await runCli(['collapse', ids[0], '--store', root]);
    expect(byRun.stderr).toBe('');
    expect(byRun.code).toBe(0);
    const byFile = await runCli(['collapse', text]);
    expect(byRun.stdout).toBe(byFile.stdout);
    expect(byRun.stdout.split('\n').length).toBeGreaterThan(10);
  });

  it('--counts counts samples instead of summing periods (ns for cpu-clock)', async () => {
    const sum = (out: string) =>
      out
        .trim()
        .split('\n')
        .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const counts = await runCli(['collapse', text, '--counts']);
    const weights = await runCli(['collapse', text]);
    expect(counts.code).toBe(0);
    // edge-comms: 4118 samples, each of period 250000 (cpu-clock ns); samples without frames are left out.
    expect(sum(counts.stdout)).toBeLessThanOrEqual(4118);
    expect(sum(counts.stdout)).toBeGreaterThan(4000);
    expect(sum(weights.stdout)).toBe(sum(counts.stdout) * 250000);
    const exp = await runCli(['export', text, '--format', 'folded', '--counts']);
    expect(sum(exp.stdout)).toBe(sum(counts.stdout));
  });

  it('export --counts with a format that carries both units is a usage error', async () => {
    const r = await runCli(['export', text, '--format', 'speedscope', '--counts']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--counts applies to --format folded');
  });
});

describe('labels on several runs', () => {
  it('resolve to the newest and say which one was used', async () => {
    const r = await runCli(['collapse', 'healthy', '--store', root]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe(`crosstalk: label "healthy" is on 2 runs; using the newest, ${ids[1]}`);
    const one = await runCli(['collapse', ids[1], '--store', root]);
    expect(one.stderr).toBe('');
  });
});

describe('arguments are checked before recording', () => {
  it('doctor --baseline with a run that does not exist fails at once and records nothing', async () => {
    const empty = join(dir, 'empty-store');
    const r = await runCli(['doctor', '--baseline', 'nosuch', '--duration', '1', '--store', empty]);
    expect(r.code).toBe(66);
    expect(r.stderr).toContain('nosuch');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    let made: string[] = [];
    try {
      made = readdirSync(empty).filter((f) => /^\d{8}-/.test(f));
    } catch {
      made = [];
    }
    expect(made).toEqual([]);
  });

  it('--duration 0 says what is accepted', async () => {
    const r = await runCli(['record', '--duration', '0']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--duration: expected seconds above 0 and at most 86400');
  });
});

describe('help says what --json prints', () => {
  it('doctor --help names both schemas', async () => {
    const r = await runCli(['doctor', '--help']);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(
      'schema/analyze.schema.json, or with --baseline schema/diff.schema.json',
    );
  });
});

describe('record counts what analyze counts', () => {
  it('names the profiled samples and the context switches apart, and leaves out the dummy event', async () => {
    const { samplesText } = await import('../src/cli/record.ts');
    const check = {
      samples: 15_864,
      byEvent: [
        { event: 'cpu-clock/freq=99/', samples: 428 },
        { event: 'sched:sched_switch', samples: 15_436 },
        { event: 'dummy:HG', samples: 0 },
      ],
    };
    expect(samplesText(check)).toBe('428 samples, 15,436 context switches');
    expect(samplesText({ samples: 132 })).toBe('132 samples');
  });
});
