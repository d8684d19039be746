/**
 * Process bookkeeping for the interruption and concurrency tests: the built CLI started as its own
 * process group (as a shell starts a job), every descendant it ever had (seen by polling /proc),
 * and whether any of them outlived it. Processes are identified by pid and start time, so a pid
 * reused later is not mistaken for a survivor.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { processStartTicks } from '../../src/lab/run-owner.ts';
import { BIN } from './cli.ts';

export interface Proc {
  pid: number;
  startTicks: number;
  comm: string;
}

interface StatLine {
  ppid: number;
  startTicks: number;
  comm: string;
}

function statOf(pid: number): StatLine | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    ppid: Number(fields[1]),
    startTicks: Number(fields[22 - 3]),
  };
}

/** Descendants of `root` now (children first seen through their parents). */
export function descendantsOf(root: number): Proc[] {
  const byParent = new Map<number, { pid: number; stat: StatLine }[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = statOf(Number(name));
    if (stat === null) continue;
    const list = byParent.get(stat.ppid) ?? [];
    list.push({ pid: Number(name), stat });
    byParent.set(stat.ppid, list);
  }
  const out: Proc[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    for (const c of byParent.get(p) ?? []) {
      out.push({ pid: c.pid, startTicks: c.stat.startTicks, comm: c.stat.comm });
      queue.push(c.pid);
    }
  }
  return out;
}

/** Still running (a zombie has finished). */
export function isRunning(p: Proc): boolean {
  return processStartTicks(p.pid) === p.startTicks;
}

export interface CliProcess {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every descendant seen so far (polled every 50 ms until the CLI exits). */
  seen: () => Proc[];
  /** Sends `signal` to the CLI alone (`kill PID`) or to its process group (Ctrl-C in a terminal). */
  signal(signal: NodeJS.Signals, group: boolean): void;
}

/** Starts the built CLI as a process group leader, watching its descendants. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  const pid = child.pid as number;
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b;
  });
  child.stderr?.on('data', (b: Buffer) => {
    err += b;
  });
  const seen = new Map<string, Proc>();
  const poll = setInterval(() => {
    for (const p of descendantsOf(pid)) seen.set(`${p.pid}:${p.startTicks}`, p);
  }, 50);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    exit,
    seen: () => [...seen.values()],
    signal(sig, group) {
      try {
        process.kill(group ? -pid : pid, sig);
      } catch {
        // Already gone.
      }
    },
  };
}

/** Waits up to `ms` for every process in `procs` to end; returns the ones still running. */
export async function survivors(procs: Proc[], ms: number): Promise<Proc[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = procs.filter(isRunning);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A small seeded generator (mulberry32), so a failing interruption schedule can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
