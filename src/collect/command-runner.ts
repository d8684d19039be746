/**
 * Runs an external command without a shell, in its own process group, with a deadline and capped
 * output: the one way crosstalk's collectors start engine CLIs, perf helpers and probes.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/** Output beyond this is cut: 32 MiB holds ~50k `docker ps` lines, far past any real host. */
export const MAX_STDOUT = 32 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;

export type CommandResult =
  /** The binary is not on PATH (spawn said ENOENT). */
  | { kind: 'absent' }
  /** No exit within the deadline; the process group was killed. */
  | { kind: 'timeout' }
  /** Could not start for another reason (EACCES, a directory on PATH...). */
  | { kind: 'failed'; reason: string }
  | { kind: 'exited'; code: number | null; stdout: string; stderr: string; truncated: boolean };

export type CommandRunner = (
  command: string,
  args: readonly string[],
  opts: { timeoutMs: number; env: NodeJS.ProcessEnv },
) => Promise<CommandResult>;

/**
 * Runs `command args` without a shell, in its own process group so a deadline kills whatever it
 * started too. Resolves (never rejects) on exit, on the deadline, or when the binary is missing.
 */
export const spawnCommand: CommandRunner = (command, args, opts) =>
  new Promise((resolve) => {
    const stdout = new CappedOutput(MAX_STDOUT);
    const stderr = new CappedOutput(MAX_STDERR);
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (r: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env, detached: true });
    } catch (e) {
      // Arguments or environment the OS refuses (e.g. a NUL byte): not something to retry.
      finish({ kind: 'failed', reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    const killGroup = () => killProcessGroup(child.pid);
    timer = setTimeout(() => {
      killGroup();
      child.stdout.destroy();
      child.stderr.destroy();
      finish({ kind: 'timeout' });
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      if (!stdout.push(b)) killGroup();
    });
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    child.on('error', (e: NodeJS.ErrnoException) =>
      finish(e.code === 'ENOENT' ? { kind: 'absent' } : { kind: 'failed', reason: e.code ?? e.message }),
    );
    child.on('close', (code) =>
      finish({
        kind: 'exited',
        code,
        stdout: stdout.text(),
        stderr: stderr.text(),
        truncated: stdout.truncated,
      }),
    );
  });

function killProcessGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group has already exited.
  }
}

/** Collects a stream's bytes up to a limit; push() says false once the limit is passed. */
class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}

  push(b: Buffer): boolean {
    if (this.truncated) return false;
    const room = this.limit - this.size;
    this.chunks.push(b.length > room ? b.subarray(0, room) : b);
    this.size += Math.min(b.length, room);
    if (b.length > room) this.truncated = true;
    return !this.truncated;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
