/**
 * One system-wide `perf record` process, started with its events disabled and enabled over a
 * control pipe (`-D -1 --control fd:3,4`, perf >= 5.11), so the window starts when perf has
 * finished its setup (on a busy host, synthesizing every process's mappings takes seconds) and
 * two perf processes (profile and syscall counter) cover the same window. It is stopped with
 * SIGINT, on which perf writes its header and exits; SIGKILL is for a user who insists.
 *
 * perf runs in its own process group so the terminal's Ctrl-C reaches only crosstalk, which decides
 * what perf gets. Its workload is `sleep <limit>`: should crosstalk die without stopping it, perf
 * ends by itself when the sleep does instead of filling the disk.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface PerfRecordingOptions {
  perfPath: string;
  /** Event and sampling arguments, e.g. ['-F', '99', '-g']. */
  eventArgs: string[];
  output: string;
  /** Upper bound on the recording, seconds (perf's own workload). */
  limitSeconds: number;
  env?: NodeJS.ProcessEnv;
}

export interface PerfExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From `[ perf record: Captured and wrote 0.070 MB perf.data (132 samples) ]`. */
  samples: number | null;
  megabytes: number | null;
  /** perf said it could not write: no space left on the device. */
  diskFull: boolean;
  /** perf's stderr, noise removed, distinct lines, each at most 200 characters, at most 20. */
  summary: string[];
}

/** Lines perf prints on every run; they say nothing about this one. */
const NOISE = [/^Events (enabled|disabled)$/, /^\[ perf record: Woken up \d+ times? to write data \]$/, /^$/];
const MAX_SUMMARY_LINES = 20;
const MAX_LINE = 200;
/** Bytes of perf's stderr kept; it is only summarized. */
const MAX_STDERR = 256 * 1024;

export function perfRecordArgs(opts: PerfRecordingOptions): string[] {
  return [
    'record',
    '-D',
    '-1',
    '--control',
    'fd:3,4',
    '-a',
    '--all-cgroups',
    // No ~/.debug build-id cache: copying every binary the host ran is slow and fills $HOME.
    '-N',
    ...opts.eventArgs,
    '-o',
    opts.output,
    '--',
    'sleep',
    String(Math.ceil(opts.limitSeconds)),
  ];
}

export class PerfRecording {
  readonly pid: number | undefined;
  readonly exited: Promise<PerfExit>;
  private readonly child: ChildProcess;
  private stderr = '';
  private acked: (() => void) | undefined;
  private exitInfo: PerfExit | undefined;

  constructor(readonly opts: PerfRecordingOptions) {
    this.child = spawn(opts.perfPath, perfRecordArgs(opts), {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
    });
    this.pid = this.child.pid;
    (this.child.stderr as Readable).on('data', (b: Buffer) => {
      if (this.stderr.length < MAX_STDERR) this.stderr += b.toString('utf8');
    });
    (this.child.stdio[4] as Readable).on('data', (b: Buffer) => {
      if (b.includes('ack')) this.acked?.();
    });
    // Writes to the control pipe after perf exited fail with EPIPE: the exit says more.
    (this.child.stdio[3] as Writable).on('error', () => {});
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        this.exitInfo ??= summarizePerfExit(code, signal, this.stderr);
        resolve(this.exitInfo);
      };
      this.child.on('error', (e: NodeJS.ErrnoException) => {
        this.stderr += `\ncannot run ${opts.perfPath}: ${e.code ?? e.message}`;
        done(null, null);
      });
      // perf's workload (sleep) inherits its pipes: if perf dies first, 'close' would wait for the
      // sleep. End the rest of perf's process group as soon as perf itself has exited.
      this.child.on('exit', () => {
        process.off('exit', this.onCrosstalkExit);
        killGroup(this.pid);
      });
      this.child.on('close', done);
    });
    process.on('exit', this.onCrosstalkExit);
  }

  /**
   * crosstalk exiting while perf records (process.exit after a second signal, a fatal error):
   * perf runs in its own process group and would go on until its time limit, so end it with us.
   */
  private readonly onCrosstalkExit = (): void => killGroup(this.pid);

  /** Enables the events; resolves when perf acknowledged, rejects if perf exits or times out first. */
  async enable(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const ack = new Promise<void>((resolve) => {
      this.acked = resolve;
    });
    const failed = this.exited.then((e) => {
      throw new PerfStartError(e);
    });
    const late = new Promise<never>((_r, reject) => {
      timer = setTimeout(() => reject(new PerfStartError(null, timeoutMs)), timeoutMs);
    });
    (this.child.stdio[3] as Writable).write('enable\n');
    try {
      await Promise.race([ack, failed, late]);
    } finally {
      clearTimeout(timer);
      failed.catch(() => {});
    }
  }

  /** perf has exited and its exit status is in `exited`. */
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** Asks perf to finish: it stops sampling, writes its header and exits. */
  stop(): void {
    this.signal('SIGINT');
  }

  /** Ends perf at once; its file is left without a valid header. */
  kill(): void {
    this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.pid === undefined || this.exitInfo !== undefined) return;
    try {
      process.kill(sig === 'SIGKILL' ? -this.pid : this.pid, sig);
    } catch {
      // Already gone.
    }
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already empty.
  }
}

/** perf exited (or failed to start) before acknowledging, or did not answer in time. */
export class PerfStartError extends Error {
  override name = 'PerfStartError';
  constructor(
    readonly exit: PerfExit | null,
    timeoutMs?: number,
  ) {
    super(
      exit === null
        ? `perf did not start recording within ${timeoutMs} ms`
        : `perf record exited before recording (${exitText(exit)})${exit.summary.length ? `: ${exit.summary[0]}` : ''}`,
    );
  }
}

export function exitText(e: PerfExit): string {
  return e.signal !== null ? `killed by ${e.signal}` : `exit status ${e.code}`;
}

export function summarizePerfExit(
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
): PerfExit {
  const captured = /Captured and wrote ([\d.]+) MB .*?\((\d+) samples\)/.exec(stderr);
  const summary: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    if (NOISE.some((re) => re.test(line)) || summary.includes(line)) continue;
    if (summary.length < MAX_SUMMARY_LINES)
      summary.push(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line);
  }
  return {
    code,
    signal,
    samples: captured ? Number(captured[2]) : null,
    megabytes: captured ? Number(captured[1]) : null,
    diskFull: /No space left on device/.test(stderr),
    summary,
  };
}
