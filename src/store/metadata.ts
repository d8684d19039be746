/**
 * metadata.json of a run: small (read for every `crosstalk runs` line), rewritten atomically on
 * status changes and labels. The bulky counters (snapshots, cgroup map, syscall rates) live in
 * counters.json beside it, written once.
 */

import { z } from 'zod';
import { InputError } from '../formats/errors.ts';
import { parseJsonText } from './json-file.ts';

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

/**
 * What crosstalk reads back from a recording's facts (collect/run-facts.ts RecordingFacts writes
 * more; the rest is kept as written and shown by `runs show`). Optional: older runs and runs that
 * failed early lack some.
 */
const storedRecording = z.object({
  interrupted: z.boolean().optional(),
  incompleteReason: z.string().nullable().optional(),
  notes: z.array(z.string()).optional(),
  options: z
    .object({
      callGraph: z.string().optional(),
      frequency: z.number().optional(),
      offCpu: z.boolean().optional(),
    })
    .optional(),
  window: z.object({ actualSeconds: z.number().nullable().optional() }).optional(),
  perf: z
    .object({
      check: z
        .discriminatedUnion('kind', [
          z.object({ kind: z.literal('read'), samples: z.number() }),
          z.object({ kind: z.literal('unreadable'), reason: z.string().optional() }),
        ])
        .nullable()
        .optional(),
    })
    .optional(),
});
export type StoredRecording = z.infer<typeof storedRecording>;

const runMetadata = z.object({
  schema: z.literal(RUN_SCHEMA),
  id: z.string(),
  /** ISO 8601, UTC. */
  createdAt: z.string(),
  /** Names such as `healthy`; a run may carry several; added later with `runs label`. */
  labels: z.array(z.string()),
  status: z.enum(['recording', 'complete', 'incomplete']),
  /** The crosstalk process that created the run (to tell a live recording from a dead one). */
  recorderPid: z.number(),
  /** Filled in by the recorder; null while the run is being set up. */
  recording: storedRecording.nullable(),
  /** Set when the recorder failed (a bug, an I/O error) before it could write `recording`. */
  failure: z.string().optional(),
});

export type RunMetadata = z.infer<typeof runMetadata>;

/**
 * Validates metadata.json (zod): an error names the file. The value is returned as written, so
 * `runs show` prints the recorder's facts whole.
 */
export function parseRunMetadata(text: string, file: string): RunMetadata {
  const value = parseJsonText(text, file, 'JSON run metadata');
  if (typeof value !== 'object' || value === null || (value as { schema?: unknown }).schema !== RUN_SCHEMA) {
    throw new InputError(file, null, `run metadata with schema "${RUN_SCHEMA}"`);
  }
  const checked = runMetadata.safeParse(value);
  if (!checked.success) {
    // The recorder's facts are named by field: a hand-edited or damaged file says where.
    const where = checked.error.issues[0]?.path.join('.') ?? '';
    const found = where.startsWith('recording') ? `a bad ${where}` : undefined;
    throw new InputError(file, null, 'run metadata with id, createdAt, labels, status, recorderPid', found);
  }
  return value as RunMetadata;
}
