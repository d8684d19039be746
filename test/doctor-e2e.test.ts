/**
 * `crosstalk doctor` end to end as root: a whole run, analysed, with the report written into the
 * run and the exit code by the worst finding; and Ctrl-C during the recording: perf stops
 * cleanly, the run is kept, and the analysis runs on what was recorded.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from './support/cli.ts';

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (perf record -a)';
  if (spawnSync('perf', ['--version']).status !== 0) return 'perf is not installed';
  return null;
}
const reason = skipReason();
const severityCodes = [0, 10, 11, 12];

describe.skipIf(reason !== null)(`crosstalk doctor${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const store = mkdtempSync(join(tmpdir(), 'crosstalk-doctor-'));
  afterAll(() => rmSync(store, { recursive: true, force: true }));

  it('records, analyses, writes report.json and report.html into the run, exits by severity', async () => {
    const r = await runCli(['doctor', '--duration', '2', '--store', store, '--json'], { timeoutMs: 120_000 });
    expect(severityCodes, r.stderr).toContain(r.code);
    const doc = JSON.parse(r.stdout);
    expect(doc.schemaVersion).toBe(1);
    expect(doc.input.format).toBe('perf-data');
    const runs = await runCli(['runs', 'list', '--json', '--store', store]);
    const [run] = JSON.parse(runs.stdout);
    expect(run.state).toBe('complete');
    expect(existsSync(join(run.dir, 'report.json'))).toBe(true);
    expect(readFileSync(join(run.dir, 'report.html'), 'utf8')).toContain('<!doctype html>');
  });

  it('Ctrl-C during the recording keeps the run and still analyses it', async () => {
    const child = spawn(process.execPath, [BIN, 'doctor', '--duration', '30', '--store', store], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // Wait until perf runs (the preflight probe and snapshots come first), then interrupt once.
    await new Promise((r) => setTimeout(r, 6000));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(severityCodes, stderr).toContain(code);
    expect(stdout).toMatch(/recorded \(interrupted after \d+\.\d s/);
    expect(stdout).toContain('crosstalk analyze:');
    expect(stdout).toMatch(/report: .*report\.html/);
    const runs = JSON.parse((await runCli(['runs', 'list', '--json', '--store', store])).stdout);
    expect(runs.some((r: { state: string }) => r.state === 'interrupted')).toBe(true);
  });
});
