/** Runs the built CLI (bin/crosstalk.js) as a user would, capturing output and exit code. */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/crosstalk.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * A short `crosstalk record --off-cpu` (2 s at 499 Hz, no syscall rates or latency tracing) into
 * the empty store `store`, with `extra` flags; returns the run directory, or throws with
 * crosstalk's stderr.
 */
export async function recordShortRun(store: string, extra: string[] = []): Promise<string> {
  const rec = await runCli(
    [
      'record',
      '--duration',
      '2',
      '--frequency',
      '499',
      '--off-cpu',
      '--no-syscall-rates',
      '--no-syscall-latency',
      ...extra,
      '--store',
      store,
    ],
    { timeoutMs: 120_000 },
  );
  if (rec.code !== 0) throw new Error(`crosstalk record ${extra.join(' ')} failed: ${rec.stderr}`);
  return join(store, readdirSync(store)[0]);
}
