/**
 * The run store: one directory per run under a root (default `$XDG_DATA_HOME/crosstalk/runs`).
 * Runs are created with a fresh id by an atomic mkdir, so concurrent recordings never collide;
 * label and status changes rewrite metadata.json atomically under the store lock; nothing is
 * removed except by deleteRun, which the CLI only calls after an explicit confirmation, and
 * `watch`'s retention only for unlabelled runs watch itself recorded (src/watch/watch-runs.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DIR_MODE, writeFileAtomic } from '../safety/atomic-file.ts';
import { UntrustedPathError, untrustedReason } from '../safety/trusted-path.ts';
import { AmbiguousRunError, RunNotFoundError, StoreRefusedError } from './errors.ts';
import { isAlive, withStoreLock } from './lock.ts';
import { METADATA_FILE, parseRunMetadata, RUN_SCHEMA, type RunMetadata } from './metadata.ts';

export const STORE_ENV = 'CROSSTALK_STORE';
/** `20261126-041500-ab12`: UTC time (so ids sort by creation) and 16 random bits. */
export const RUN_ID = /^\d{8}-\d{6}-[0-9a-f]{4}$/;
/** Starts with a letter so a label can never be mistaken for an id or an id prefix. */
export const LABEL = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

export interface StoreLocation {
  root: string;
  /** Where the root came from: --store, CROSSTALK_STORE, XDG_DATA_HOME or the home directory. */
  source: 'flag' | 'env' | 'xdg' | 'home';
}

/** --store wins, then CROSSTALK_STORE, then `$XDG_DATA_HOME/crosstalk/runs`, then ~/.local/share. */
export function storeLocation(flag?: string, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  if (flag) return { root: resolve(flag), source: 'flag' };
  if (env[STORE_ENV]) return { root: resolve(env[STORE_ENV]), source: 'env' };
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return { root: join(xdg, 'crosstalk', 'runs'), source: 'xdg' };
  return { root: join(env.HOME || homedir(), '.local', 'share', 'crosstalk', 'runs'), source: 'home' };
}

/**
 * recording: the recorder is alive. abandoned: status says recording but its process is gone.
 * interrupted: complete but stopped early (SIGINT/SIGTERM). unreadable: metadata.json is missing
 * or invalid (problem says why). Only complete and interrupted runs are whole.
 */
export type RunState = 'recording' | 'complete' | 'interrupted' | 'incomplete' | 'abandoned' | 'unreadable';

export interface RunSummary {
  id: string;
  dir: string;
  state: RunState;
  metadata: RunMetadata | null;
  labels: string[];
  /** Bytes of the files directly in the run directory. */
  bytes: number;
  problem?: string;
}

export interface RunHandle {
  id: string;
  dir: string;
  metadata: RunMetadata;
}

export function isWhole(run: RunSummary): boolean {
  return run.state === 'complete' || run.state === 'interrupted';
}

export class RunStore {
  constructor(readonly root: string) {}

  /**
   * Creates the root (0700) if needed. A root that is not a directory is a StoreRefusedError; one
   * that another user owns or can write (or reached through their link) an UntrustedPathError.
   */
  async ensureRoot(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true, mode: DIR_MODE });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR')
        throw new StoreRefusedError(`run store ${this.root} is not a directory (or lies under a file)`);
      throw e;
    }
    this.assertOwn(this.root);
  }

  /** Refuses a store or run directory someone else could have planted or can change. */
  assertOwn(dir: string): void {
    const why = untrustedReason(dir);
    if (why !== null) throw new UntrustedPathError(dir, `refusing a run store or run directory: ${why}`);
  }

  /** A new run directory (0700) with metadata in state `recording`. Never reuses a directory. */
  async createRun(now: Date = new Date(), labels: readonly string[] = []): Promise<RunHandle> {
    const invalid = labels.find((l) => !LABEL.test(l));
    if (invalid !== undefined) throw new StoreRefusedError(invalidLabel(invalid));
    await this.ensureRoot();
    for (let attempt = 0; attempt < 20; attempt++) {
      const id = newRunId(now);
      const dir = join(this.root, id);
      try {
        await mkdir(dir, { mode: DIR_MODE });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      const metadata: RunMetadata = {
        schema: RUN_SCHEMA,
        id,
        createdAt: now.toISOString(),
        labels: [...labels],
        status: 'recording',
        recorderPid: process.pid,
        recording: null,
      };
      try {
        // Written beside and renamed: a full disk leaves no empty metadata.json behind.
        await writeFileAtomic(join(dir, METADATA_FILE), `${JSON.stringify(metadata, null, 2)}\n`);
      } catch (e) {
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
      return { id, dir, metadata };
    }
    throw new StoreRefusedError(`could not find an unused run id in ${this.root}`);
  }

  /** Every run directory in the store, oldest first (ids sort by creation time). */
  async listRuns(): Promise<RunSummary[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return [];
      if (code === 'ENOTDIR') throw new StoreRefusedError(`run store ${this.root} is not a directory`);
      throw e;
    }
    this.assertOwn(this.root);
    const ids = names.filter((n) => RUN_ID.test(n)).sort();
    const runs = await Promise.all(ids.map((id) => summarizeRun(join(this.root, id))));
    return runs.filter((r): r is RunSummary => r !== null);
  }

  /**
   * A run by reference, tried in this order: a path (contains `/`) to a run directory anywhere;
   * an exact id; a label (the newest whole run carrying it); a unique id prefix.
   */
  async resolveRun(ref: string): Promise<RunSummary> {
    return (await this.resolveRunExplained(ref)).run;
  }

  /**
   * resolveRun, plus a note when the choice was not the only one: a label that several whole runs
   * carry resolves to the newest of them, and the note names it and how many there were.
   */
  async resolveRunExplained(ref: string): Promise<{ run: RunSummary; note: string | null }> {
    // An empty string is a prefix of every id: it must name nothing, not "the only run".
    if (ref.trim() === '') throw new RunNotFoundError(ref, 'an empty reference names no run');
    if (ref.includes('/')) return { run: await resolvePath(ref), note: null };
    const runs = await this.listRuns();
    const exact = runs.find((r) => r.id === ref);
    if (exact) return { run: exact, note: null };
    if (LABEL.test(ref)) {
      const run = newestLabelled(runs, ref);
      const others = runs.filter((r) => r.labels.includes(ref) && isWhole(r)).length - 1;
      const note = others > 0 ? `label "${ref}" is on ${others + 1} runs; using the newest, ${run.id}` : null;
      return { run, note };
    }
    const matches = runs.filter((r) => r.id.startsWith(ref));
    if (matches.length === 1) return { run: matches[0], note: null };
    if (matches.length > 1)
      throw new AmbiguousRunError(
        ref,
        matches.map((r) => r.id),
      );
    throw new RunNotFoundError(ref, `no run id starts with it in ${this.root}`);
  }

  /** Reads, changes and atomically rewrites a run's metadata under the store lock. */
  async updateMetadata(dir: string, change: (m: RunMetadata) => RunMetadata): Promise<RunMetadata> {
    await this.ensureRoot();
    this.assertOwn(dir);
    return withStoreLock(this.root, async () => {
      const file = join(dir, METADATA_FILE);
      const next = change(parseRunMetadata(await readFile(file, 'utf8'), file));
      await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
      return next;
    });
  }

  async addLabel(ref: string, label: string): Promise<RunMetadata> {
    if (!LABEL.test(label)) throw new StoreRefusedError(invalidLabel(label));
    const run = await this.resolveRun(ref);
    return this.updateMetadata(run.dir, (m) => ({
      ...m,
      labels: m.labels.includes(label) ? m.labels : [...m.labels, label],
    }));
  }

  async removeLabel(ref: string, label: string): Promise<RunMetadata> {
    const run = await this.resolveRun(ref);
    if (!run.labels.includes(label)) throw new StoreRefusedError(`run ${run.id} has no label "${label}"`);
    return this.updateMetadata(run.dir, (m) => ({ ...m, labels: m.labels.filter((l) => l !== label) }));
  }

  /** Removes a run directory. Refuses a run whose recorder is still alive. */
  async deleteRun(run: RunSummary): Promise<void> {
    this.assertOwn(run.dir);
    await withStoreLock(this.root, async () => {
      const now = await summarizeRun(run.dir);
      if (now === null) throw new RunNotFoundError(run.dir, 'it no longer exists');
      if (now.state === 'recording') {
        throw new StoreRefusedError(
          `run ${run.id} is still being recorded (pid ${now.metadata?.recorderPid})`,
        );
      }
      await rm(run.dir, { recursive: true });
    });
  }
}

export function invalidLabel(label: string): string {
  return `invalid label "${label}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter`;
}

function newRunId(now: Date): string {
  const iso = now.toISOString(); // 2026-11-26T04:15:00.000Z
  const stamp = `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}`;
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

async function resolvePath(ref: string): Promise<RunSummary> {
  const run = await summarizeRun(resolve(ref));
  if (run === null) throw new RunNotFoundError(ref, 'not a run directory (no metadata.json)');
  return run;
}

function newestLabelled(runs: readonly RunSummary[], label: string): RunSummary {
  const labelled = runs.filter((r) => r.labels.includes(label));
  const whole = labelled.filter(isWhole);
  if (whole.length > 0) return whole[whole.length - 1];
  if (labelled.length > 0) {
    const ids = labelled.map((r) => `${r.id} (${r.state})`).join(', ');
    throw new RunNotFoundError(label, `the runs labelled so are not whole recordings: ${ids}`);
  }
  throw new RunNotFoundError(label, 'it is not a run id, id prefix or label');
}

/** null when `dir` is not a run directory at all (no metadata.json). */
export async function summarizeRun(dir: string): Promise<RunSummary | null> {
  const file = join(dir, METADATA_FILE);
  const id = dir.split('/').pop() ?? dir;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return unreadable(id, dir, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  let metadata: RunMetadata;
  try {
    metadata = parseRunMetadata(text, file);
  } catch (e) {
    return unreadable(id, dir, (e as Error).message);
  }
  return {
    id: metadata.id,
    dir,
    state: stateOf(metadata),
    metadata,
    labels: metadata.labels,
    bytes: await dirBytes(dir),
  };
}

async function unreadable(id: string, dir: string, problem: string): Promise<RunSummary> {
  return { id, dir, state: 'unreadable', metadata: null, labels: [], bytes: await dirBytes(dir), problem };
}

function stateOf(m: RunMetadata): RunState {
  switch (m.status) {
    case 'recording':
      return isAlive(m.recorderPid) && m.recorderPid !== 0 ? 'recording' : 'abandoned';
    case 'complete':
      return m.recording?.interrupted ? 'interrupted' : 'complete';
    case 'incomplete':
      return 'incomplete';
  }
}

async function dirBytes(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(
    names.map((n) =>
      stat(join(dir, n)).then(
        (s) => (s.isFile() ? s.size : 0),
        () => 0,
      ),
    ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}
