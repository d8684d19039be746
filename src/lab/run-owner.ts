/**
 * Who owns a lab run. A run's name carries its owner's pid and the owner's start time in clock
 * ticks since boot (field 22 of /proc/<pid>/stat): a pid alone can be reused after a crash, the
 * pair cannot. So any later lab process can tell a live concurrent run from a killed one by the
 * name alone, even when the state file under /run is gone.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface RunOwner {
  pid: number;
  /** Start time of the process in clock ticks since boot. */
  startTicks: number;
}

/**
 * Start time from /proc/<pid>/stat. comm (field 2) may contain spaces and parentheses, so the
 * fields are counted from the last `)`:
 *   1234 (node) S 1 1234 1234 0 -1 4194560 ... 21 0 8 0 20 0 11 0 <starttime> ...
 */
export function processStartTicks(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const afterComm = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // afterComm[0] is field 3 (state); a zombie has finished running, whoever reaps it.
  if (afterComm[0] === 'Z' || afterComm[0] === 'X') return null;
  const ticks = Number(afterComm[22 - 3]);
  return Number.isFinite(ticks) ? ticks : null;
}

export function currentOwner(): RunOwner {
  const startTicks = processStartTicks(process.pid);
  if (startTicks === null) throw new Error('cannot read /proc/self/stat');
  return { pid: process.pid, startTicks };
}

export function newRunName(owner: RunOwner = currentOwner()): string {
  return `run-${owner.pid}-${owner.startTicks.toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Owner encoded in a run name, or null for a name the lab did not make. */
export function ownerOfRun(runName: string): RunOwner | null {
  const m = /^run-([0-9]+)-([0-9a-z]+)-[0-9a-z]+$/.exec(runName);
  if (m === null) return null;
  return { pid: Number(m[1]), startTicks: Number.parseInt(m[2], 36) };
}

export function isOwnerAlive(owner: RunOwner): boolean {
  return processStartTicks(owner.pid) === owner.startTicks;
}
