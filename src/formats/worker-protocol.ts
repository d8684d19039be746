/**
 * What the main thread and the parse workers (parse-worker.ts) send each other: a byte range of a
 * perf script file to parse (parallel.ts), or whole inputs to import (import-many.ts), and the
 * finished profiles, whose typed arrays are moved, not copied.
 */
import type { CallGraphMode, Profile } from '../model/profile.ts';
import type { SerializedError } from './errors.ts';
import type { PerfScriptOptions } from './perf-script/parser.ts';

/** Parse lines [start, end) of `file`. */
export interface PartRequest {
  file: string;
  source: string;
  start: number;
  /** Exclusive. */
  end: number;
  options: Pick<PerfScriptOptions, 'event' | 'defaultEvent' | 'keepAddresses' | 'callGraph' | 'switchEvent'>;
}

export type PartMessage =
  | { type: 'lines'; count: number }
  | { type: 'progress'; bytes: number }
  | { type: 'done'; profile: Profile }
  | { type: 'error'; error: SerializedError };

export const FILE_JOB = 'crosstalk-import-file';

/** Options a worker can receive (functions cannot cross threads): input.ts ImportOptions' plain ones. */
export interface FileJobOptions {
  event?: string;
  keepAddresses?: boolean;
  callGraph?: CallGraphMode;
}

export interface FileJob {
  path: string;
  options: FileJobOptions;
}

export type FileJobMessage =
  | { type: 'progress'; fraction: number }
  | { type: 'done'; profile: Profile }
  | { type: 'error'; error: SerializedError };

/** The typed arrays of a finished profile, moved (not copied) to the main thread. */
export function transferListOf(profile: Profile): ArrayBuffer[] {
  return [
    profile.frames.name,
    profile.frames.module,
    profile.frames.kind,
    profile.frames.inlined,
    profile.frames.address,
    profile.stacks.prefix,
    profile.stacks.frame,
    profile.stacks.depth,
    profile.samples.stack,
    profile.samples.time,
    profile.samples.weight,
    profile.samples.pid,
    profile.samples.tid,
    profile.samples.cpu,
    profile.samples.comm,
    profile.samples.cgroup,
    profile.samples.host,
    ...switchColumns(profile),
  ].map((a) => a.buffer as ArrayBuffer);
}

function switchColumns(profile: Profile): ArrayBufferView[] {
  const sw = profile.switches;
  if (sw === undefined) return [];
  return [
    sw.stack,
    sw.timeNs,
    sw.cpu,
    sw.prevTid,
    sw.prevPid,
    sw.comm,
    sw.cgroup,
    sw.prevState,
    sw.nextTid,
    sw.host,
  ];
}
