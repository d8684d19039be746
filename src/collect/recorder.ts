/**
 * recordRun: one recording of the whole host, kept as a run in the store.
 *
 *   preflight -> new run directory -> snapshot before (cgroup map, kernel state) -> perf record
 *   (profile) and perf record (syscall counter) enabled together -> window -> stop -> snapshot
 *   after -> syscall rates -> read perf.data back -> counters.json, metadata.json (complete or
 *   incomplete, with the reason).
 *
 * Interruptions: `stop` (first SIGINT/SIGTERM) ends the window early; perf finishes its file and
 * the run is complete and marked interrupted. `abort` (second SIGINT) kills perf; the run is kept,
 * marked incomplete. perf dying on its own (killed, disk full) also leaves an incomplete run: a
 * file perf did not finish is never treated as whole.
 */
import { readFileSync, rmSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_MODE, writeFileAtomic, writeFileAtomicSync } from '../safety/atomic-file.ts';
import { COUNTERS_SCHEMA, type StoredCounters } from '../store/counters-file.ts';
import {
  COUNTERS_FILE,
  METADATA_FILE,
  parseRunMetadata,
  type RunMetadata,
  type RunStatus,
} from '../store/metadata.ts';
import { invalidLabel, LABEL, type RunStore } from '../store/store.ts';
import type { SourceNote } from './container-names.ts';
import { decideOffCpu } from './off-cpu-policy.ts';
import { formatProblem, type PreflightProblem, type PreflightReport, preflight } from './preflight.ts';
import { RECORD_DEFAULTS, type RecordOptions, type Settings } from './record-options.ts';
import { Session } from './recording-session.ts';
import type { RecordingFacts, RunCounters } from './run-facts.ts';
import { DEFAULT_MAX_CALLS_PER_CPU_SECOND } from './syscall-latency.ts';

export interface RunInfo {
  id: string;
  dir: string;
  status: RunStatus;
  interrupted: boolean;
  incompleteReason: string | null;
  /** As written, with the recorder's whole facts. */
  metadata: RecordedMetadata;
  preflight: PreflightReport;
}

export type RecordedMetadata = Omit<RunMetadata, 'recording'> & { recording: RecordingFacts | null };

/** Preflight found a fatal problem; nothing was written. */
export class PreflightFailedError extends Error {
  override name = 'PreflightFailedError';
  constructor(readonly problems: PreflightProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

/** Interrupted before the run directory existed: nothing to keep. */
export class RecordingCancelledError extends Error {
  override name = 'RecordingCancelledError';
}

/** Spare bytes kept in the run directory and freed if the disk fills, so the metadata can still say so. */
const RESERVE_FILE = '.reserve';
const RESERVE_BYTES = 1024 * 1024;

/**
 * The syscall-counting window: a fifth of the profile window, between 1 and 3 seconds (enough
 * samples at one per 101 calls for any syscall above ~100 calls/s, short enough to stay cheap).
 */
export function syscallWindowSeconds(durationSeconds: number): number {
  return Math.min(3, Math.max(1, durationSeconds / 5));
}

/** Everything but off-CPU, which is decided on the host while preflight runs. */
function settingsOf(opts: RecordOptions): Omit<Settings, 'offCpu'> {
  const s = {
    durationSeconds: opts.durationSeconds ?? RECORD_DEFAULTS.durationSeconds,
    frequency: opts.frequency ?? RECORD_DEFAULTS.frequency,
    callGraph: opts.callGraph ?? RECORD_DEFAULTS.callGraph,
    dwarfStackBytes: opts.dwarfStackBytes ?? RECORD_DEFAULTS.dwarfStackBytes,
    syscallRates: opts.syscallRates ?? true,
    syscallLatency: opts.syscallLatency ?? true,
    syscallLatencyBudget: opts.syscallLatencyBudget ?? DEFAULT_MAX_CALLS_PER_CPU_SECOND,
    syscallSeconds: syscallWindowSeconds(opts.durationSeconds ?? RECORD_DEFAULTS.durationSeconds),
    env: opts.env ?? process.env,
  };
  if (!(s.durationSeconds > 0)) throw new RangeError(`duration must be positive, got ${s.durationSeconds}`);
  if (!(s.syscallLatencyBudget > 0))
    throw new RangeError(`syscall latency budget must be positive, got ${s.syscallLatencyBudget}`);
  if (!(Number.isInteger(s.frequency) && s.frequency > 0))
    throw new RangeError(`frequency must be a positive integer, got ${s.frequency}`);
  if (opts.label !== undefined && !LABEL.test(opts.label)) throw new RangeError(invalidLabel(opts.label));
  return s;
}

export async function recordRun(opts: RecordOptions): Promise<RunInfo> {
  const base = settingsOf(opts);
  const progress = opts.onProgress ?? (() => {});
  progress({ phase: 'preflight' });
  // The switch rate is measured while preflight probes perf, which takes about as long (0.5 s).
  const [pre, offCpu] = await Promise.all([
    preflight({ ...base, storeRoot: opts.store.root }),
    decideOffCpu(opts.offCpu ?? RECORD_DEFAULTS.offCpu),
  ]);
  const s: Settings = { ...base, offCpu: offCpu.on };
  if (pre.fatal) throw new PreflightFailedError(pre.problems.filter((p) => p.severity === 'fatal'));
  if (opts.stop?.aborted || opts.abort?.aborted)
    throw new RecordingCancelledError('interrupted before recording started');
  const run = await opts.store.createRun(new Date(), opts.label ? [opts.label] : []);
  await writeFile(join(run.dir, RESERVE_FILE), Buffer.alloc(RESERVE_BYTES), { mode: FILE_MODE }).catch(
    () => {},
  );
  const session = new Session(opts, s, pre, run.dir);
  if (offCpu.note !== null) session.notes.push(offCpu.note);
  const releaseExitGuard = guardAgainstExit(run.dir);
  let facts: RecordingFacts;
  let metadata: RunMetadata;
  try {
    facts = await session.run(progress);
    metadata = await finish(opts.store, run.dir, facts, session);
  } catch (e) {
    await markFailed(opts.store, run.dir, e);
    throw e;
  } finally {
    releaseExitGuard();
  }
  return {
    id: run.id,
    dir: run.dir,
    status: metadata.status,
    interrupted: facts.interrupted,
    incompleteReason: facts.incompleteReason,
    // finish() wrote these facts as the run's recording.
    metadata: { ...metadata, recording: facts },
    preflight: pre,
  };
}

/** Writes counters.json and the final metadata; on a full disk frees the reserve and tries again. */
async function finish(
  store: RunStore,
  dir: string,
  facts: RecordingFacts,
  session: Session,
): Promise<RunMetadata> {
  const counters = countersOf(session);
  const write = async () => {
    // What is written must read back (store/counters-file.ts validates it on read).
    if (counters)
      await writeFileAtomic(
        join(dir, COUNTERS_FILE),
        `${JSON.stringify(counters satisfies StoredCounters)}\n`,
      );
    return store.updateMetadata(dir, (m) => ({
      ...m,
      status: facts.incompleteReason === null ? 'complete' : 'incomplete',
      recording: facts,
    }));
  };
  try {
    return await write();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    await unlink(join(dir, RESERVE_FILE)).catch(() => {});
    facts.notes.push('the disk was full when the run was saved');
    if (facts.incompleteReason === null)
      facts.incompleteReason = 'the disk filled up while the run was saved';
    return await write();
  } finally {
    await unlink(join(dir, RESERVE_FILE)).catch(() => {});
  }
}

/** A bug or an I/O error mid-recording: the run is kept, and says it is incomplete and why. */
async function markFailed(store: RunStore, dir: string, e: unknown): Promise<void> {
  const reason = `recording failed: ${e instanceof Error ? e.message : String(e)}`;
  await store.updateMetadata(dir, (m) => ({ ...m, status: 'incomplete', failure: reason })).catch(() => {});
  await unlink(join(dir, RESERVE_FILE)).catch(() => {});
}

/**
 * The process exiting before the run is saved (process.exit after a second signal in the lab, a
 * fatal error elsewhere) would leave metadata saying `recording` with a dead recorder. Exit
 * handlers cannot wait, so the run is marked incomplete synchronously, without the store lock.
 */
function guardAgainstExit(dir: string): () => void {
  const onExit = () => {
    const file = join(dir, METADATA_FILE);
    try {
      const m = parseRunMetadata(readFileSync(file, 'utf8'), file);
      if (m.status === 'recording') {
        const failure = 'crosstalk exited before the recording was saved';
        writeFileAtomicSync(file, `${JSON.stringify({ ...m, status: 'incomplete', failure }, null, 2)}\n`);
      }
      rmSync(join(dir, RESERVE_FILE), { force: true });
    } catch {
      // Nothing more can be done while exiting; the store reports the run as abandoned.
    }
  };
  process.on('exit', onExit);
  return () => process.off('exit', onExit);
}

function countersOf(session: Session): RunCounters | null {
  const c = session.counters;
  if (!c.cgroupsBefore || !c.kernelBefore) return null;
  return {
    schema: COUNTERS_SCHEMA,
    cgroupsBefore: c.cgroupsBefore,
    cgroupsAfter: c.cgroupsAfter ?? null,
    kernelBefore: c.kernelBefore,
    kernelAfter: c.kernelAfter ?? null,
    syscallRates: c.syscallRates ?? null,
    containerNameSources: c.containerNameSources ?? ([] as SourceNote[]),
    containerNames: c.containerNames ?? {},
  };
}
