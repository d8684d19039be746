/**
 * Loading: what an input argument names (a file: perf.data, perf script text, folded, pprof; a
 * run directory; or a run in the store by id, label or id prefix) imported into a profile. A run
 * brings its counters (kernel snapshots, PSI, cpu.stat), its cgroup -> container names and its
 * syscall rates. Several inputs (one per host) are imported in parallel and joined into one
 * multi-host profile.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { NameResolver } from '../analysis/containers.ts';
import type { CounterSet } from '../analysis/counters.ts';
import type { SyscallRateRow } from '../analysis/diagnose.ts';
import { UnreadableInputError } from '../formats/errors.ts';
import { importMany } from '../formats/import-many.ts';
import { type ImportOptions, importProfile } from '../formats/input.ts';
import { mergeHosts } from '../model/hosts.ts';
import { type Profile, withMeta, withWarnings } from '../model/profile.ts';
import { METADATA_FILE, PERF_DATA_FILE } from '../store/metadata.ts';
import { RunStore, type RunSummary, storeLocation, summarizeRun } from '../store/store.ts';
import { PipelineError, RunLookupError } from './errors.ts';
import { runCounters } from './run-counters.ts';

export interface LoadedInput {
  profile: Profile;
  run: RunSummary | null;
  counters: CounterSet | null;
  nameOf: NameResolver | undefined;
  syscallRates: SyscallRateRow[] | null;
  /**
   * For several inputs: each host's run facts, in input order (the profile holds every host's
   * samples, labelled; model/hosts.ts selectHost takes one host's back). Absent for one input.
   */
  hosts?: LoadedHost[];
}

/** One input of a multi-host load; `name` is its samples' host label. */
export type LoadedHost = Omit<LoadedInput, 'profile' | 'hosts'> & { name: string; source: string };

/** An input argument, with the host name the user gave it (`--host NAME=INPUT`) or null. */
export interface HostRef {
  host: string | null;
  ref: string;
}

export type LoadOptions = ImportOptions & { store?: string };

export async function loadInput(ref: string, opts: LoadOptions): Promise<LoadedInput> {
  const r = await resolveInput(ref, opts.store);
  return finishInput(r, await importProfile(r.file, opts));
}

/**
 * Several inputs as one multi-host profile. Host names: the one given, else the recording's
 * hostname (perf.data), else the run directory's or the file's name; repeats get `#2`, `#3`.
 * One input without a given name is loaded as single-host input (loadInput).
 */
export async function loadInputs(refs: HostRef[], opts: LoadOptions): Promise<LoadedInput> {
  if (refs.length === 0) throw new PipelineError('no input given', 'usage');
  if (refs.length === 1 && refs[0].host === null) return loadInput(refs[0].ref, opts);
  const resolved = await Promise.all(refs.map((r) => resolveInput(r.ref, opts.store)));
  const profiles = await importMany(
    resolved.map((r) => r.file),
    opts,
  );
  const loaded = await Promise.all(resolved.map((r, k) => finishInput(r, profiles[k])));
  const names = hostNames(refs, loaded);
  const profile = mergeHosts(
    loaded.map((l, k) => ({ host: names[k], profile: l.profile })),
    loaded.map((l) => l.profile.meta.source).join(' + '),
  );
  const hosts: LoadedHost[] = loaded.map(({ profile: p, hosts: _, ...facts }, k) => ({
    ...facts,
    name: names[k],
    source: p.meta.source,
  }));
  return { profile, run: null, counters: null, nameOf: combinedNames(hosts), syscallRates: null, hosts };
}

/** Given names are kept (hostRefsOf made them unique); a default name already taken gets `#2`, ... */
function hostNames(refs: HostRef[], loaded: LoadedInput[]): string[] {
  const taken = new Set(refs.flatMap((r) => (r.host === null ? [] : [r.host])));
  return refs.map((r, k) => {
    if (r.host !== null) return r.host;
    const base = defaultHostName(loaded[k]);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}#${n}`;
    taken.add(name);
    return name;
  });
}

function defaultHostName(l: LoadedInput): string {
  const hostname = l.profile.meta.recording.hostname;
  if (typeof hostname === 'string' && hostname !== '') return hostname;
  if (l.run) return basename(l.run.dir);
  const file = basename(l.profile.meta.source);
  return file.replace(/(?:\.(?:gz|txt|data|perf|script|folded|pb|pprof|prof))+$/i, '') || file;
}

/** Engine names of every host: container ids are unique across hosts, so one map serves all. */
function combinedNames(hosts: LoadedHost[]): NameResolver | undefined {
  const resolvers = hosts.map((h) => h.nameOf).filter((n): n is NameResolver => n !== undefined);
  if (resolvers.length === 0) return undefined;
  return (identity) => {
    for (const r of resolvers) {
      const named = r(identity);
      if (named !== identity) return named;
    }
    return identity;
  };
}

interface ResolvedInput {
  /** The file to import (a run's perf.data, or the argument itself). */
  file: string;
  run: RunSummary | null;
}

async function resolveInput(ref: string, store: string | undefined): Promise<ResolvedInput> {
  const run = await runOf(ref, store);
  if (run === null) return { file: ref, run: null };
  if (run.state === 'recording') {
    throw new PipelineError(`run ${run.id} is still being recorded; wait for it to finish`, 'noInput');
  }
  return { file: join(run.dir, PERF_DATA_FILE), run };
}

/** A run's warnings, counters, names and rates around its imported profile. */
async function finishInput({ run }: ResolvedInput, profile: Profile): Promise<LoadedInput> {
  if (run === null) return { profile, run: null, counters: null, nameOf: undefined, syscallRates: null };
  const reason = run.metadata?.recording?.incompleteReason ?? run.metadata?.failure ?? run.problem;
  let fromRun = withMeta(profile, { source: run.dir });
  if (run.state === 'incomplete' || run.state === 'abandoned' || run.state === 'unreadable') {
    const warning = `run ${run.id} is ${run.state}${reason ? `: ${reason}` : ''}; the result covers what was recorded`;
    fromRun = withWarnings(fromRun, [warning], true);
  }
  return { profile: fromRun, run, ...(await runCounters(run.dir)) };
}

/**
 * Checks that `ref` names a run or an existing file, without reading it: `doctor --baseline`
 * calls this before recording, so a typo fails at once instead of after the window.
 */
export async function checkInputRef(ref: string, store: string | undefined): Promise<void> {
  const r = await resolveInput(ref, store);
  if (r.run === null && !existsSync(r.file)) throw new UnreadableInputError(ref, 'no such file');
}

/** The run `ref` names, or null when it names a plain file. */
async function runOf(ref: string, store: string | undefined): Promise<RunSummary | null> {
  if (existsSync(ref)) {
    if (statSync(ref).isDirectory() && existsSync(join(ref, METADATA_FILE))) return summarizeRun(ref);
    return null;
  }
  if (ref.includes('/') || ref.includes('.')) throw new UnreadableInputError(ref, 'no such file');
  const root = storeLocation(store).root;
  try {
    const { run, note } = await new RunStore(root).resolveRunExplained(ref);
    // Said on stderr, so a script reading --json still sees which run its numbers come from.
    if (note !== null) process.stderr.write(`crosstalk: ${note}\n`);
    return run;
  } catch (e) {
    throw new RunLookupError(ref, e);
  }
}

/** A profile already in memory (a test, a script), as a loaded input without run facts. */
export function loadedProfile(profile: Profile): LoadedInput {
  return { profile, run: null, counters: null, nameOf: undefined, syscallRates: null };
}
