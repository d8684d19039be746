/**
 * metadata.json of a run: small (read for every `crosstalk runs` line), rewritten atomically on
 * status changes and labels. The bulky counters (snapshots, cgroup map, syscall rates) live in
 * counters.json beside it, written once.
 */

import type { RecordingFacts } from '../collect/run-facts.ts';
import { InputError } from '../formats/errors.ts';

export const RUN_SCHEMA = 'crosstalk.run/1';
export const METADATA_FILE = 'metadata.json';
export const COUNTERS_FILE = 'counters.json';
export const PERF_DATA_FILE = 'perf.data';
export const SYSCALLS_DATA_FILE = 'syscalls.data';
/** The diagnosis `doctor` (and `watch`) writes into a run: alone, or against a baseline. */
export const REPORT_JSON = 'report.json';
export const REPORT_DIFF_JSON = 'report-diff.json';
export const REPORT_HTML = 'report.html';

/**
 * recording: perf is (or was, if the recorder died) running; see RunSummary.state.
 * complete: perf finished and wrote a whole file (possibly stopped early: recording.interrupted).
 * incomplete: perf was killed, the disk filled, or the recorder died; never treated as whole.
 */
export type RunStatus = 'recording' | 'complete' | 'incomplete';

export interface RunMetadata {
  schema: typeof RUN_SCHEMA;
  id: string;
  /** ISO 8601, UTC. */
  createdAt: string;
  /** Names such as `healthy`; a run may carry several; added later with `runs label`. */
  labels: string[];
  status: RunStatus;
  /** The crosstalk process that created the run (to tell a live recording from a dead one). */
  recorderPid: number;
  /** Filled in by the recorder; null while the run is being set up. */
  recording: RecordingFacts | null;
  /** Set when the recorder failed (a bug, an I/O error) before it could write `recording`. */
  failure?: string;
}

/** Validates the parts of metadata.json the store relies on; the rest is the recorder's. */
export function parseRunMetadata(text: string, file: string): RunMetadata {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InputError(file, null, 'JSON run metadata', 'text that is not JSON');
  }
  const m = value as Partial<RunMetadata> | null;
  if (typeof m !== 'object' || m === null || m.schema !== RUN_SCHEMA) {
    throw new InputError(file, null, `run metadata with schema "${RUN_SCHEMA}"`);
  }
  const ok =
    typeof m.id === 'string' &&
    typeof m.createdAt === 'string' &&
    Array.isArray(m.labels) &&
    m.labels.every((l) => typeof l === 'string') &&
    (m.status === 'recording' || m.status === 'complete' || m.status === 'incomplete') &&
    typeof m.recorderPid === 'number' &&
    (m.recording === null || typeof m.recording === 'object');
  if (!ok) throw new InputError(file, null, 'run metadata with id, createdAt, labels, status, recorderPid');
  return m as RunMetadata;
}
