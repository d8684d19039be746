/**
 * What a command's input argument names: a file (perf.data, perf script text, folded), a run
 * directory, or a run in the store by id, label or id prefix. A run brings its counters (kernel
 * snapshots, PSI, cpu.stat), its cgroup -> container names and its syscall rates.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NameResolver } from '../analysis/container-index.ts';
import { type ContainerIdentity, containerOf } from '../analysis/containers.ts';
import { type CounterSet, counterSetOf, type SnapshotLike } from '../analysis/counters.ts';
import type { SyscallRateRow } from '../analysis/diagnose.ts';
import { UnreadableInputError } from '../formats/errors.ts';
import { type ImportOptions, importProfile } from '../formats/input.ts';
import type { Profile } from '../model/profile.ts';
import { COUNTERS_FILE, METADATA_FILE, PERF_DATA_FILE } from '../store/metadata.ts';
import { RunStore, type RunSummary, storeLocation, summarizeRun } from '../store/store.ts';
import { CliError } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { storeErrorToCli } from './runs.ts';

export interface LoadedInput {
  profile: Profile;
  run: RunSummary | null;
  counters: CounterSet | null;
  nameOf: NameResolver | undefined;
  syscallRates: SyscallRateRow[] | null;
}

/** Only the parts of counters.json crosstalk reads back; everything is checked before use. */
interface CountersFile {
  cgroupsBefore?: { cgroups?: { container?: ContainerIdentity }[] };
  cgroupsAfter?: { cgroups?: { container?: ContainerIdentity }[] } | null;
  kernelBefore?: SnapshotLike;
  kernelAfter?: SnapshotLike | null;
  syscallRates?: { cgroups?: SyscallRateRow[] } | null;
}

export async function loadInput(ref: string, opts: ImportOptions & { store?: string }): Promise<LoadedInput> {
  const run = await runOf(ref, opts.store);
  if (run === null)
    return {
      profile: await importProfile(ref, opts),
      run: null,
      counters: null,
      nameOf: undefined,
      syscallRates: null,
    };
  if (run.state === 'recording') {
    throw new CliError(`run ${run.id} is still being recorded; wait for it to finish`, ExitCode.noInput);
  }
  const profile = await importProfile(join(run.dir, PERF_DATA_FILE), opts);
  profile.meta.source = run.dir;
  const reason = run.metadata?.recording?.incompleteReason ?? run.metadata?.failure ?? run.problem;
  if (run.state === 'incomplete' || run.state === 'abandoned' || run.state === 'unreadable') {
    profile.meta.truncated = true;
    profile.meta.warnings.push(
      `run ${run.id} is ${run.state}${reason ? `: ${reason}` : ''}; the result covers what was recorded`,
    );
  }
  const counters = await readCounters(run.dir);
  return {
    profile,
    run,
    counters: countersOf(counters),
    nameOf: namesOf(counters),
    syscallRates: Array.isArray(counters?.syscallRates?.cgroups) ? counters!.syscallRates!.cgroups! : null,
  };
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
    return await new RunStore(root).resolveRun(ref);
  } catch (e) {
    const cli = storeErrorToCli(e);
    if (cli instanceof CliError) throw new CliError(`${ref}: no such file, and ${cli.message}`, cli.exitCode);
    throw cli;
  }
}

async function readCounters(dir: string): Promise<CountersFile | null> {
  try {
    const v = JSON.parse(await readFile(join(dir, COUNTERS_FILE), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as CountersFile) : null;
  } catch {
    return null;
  }
}

function countersOf(c: CountersFile | null): CounterSet | null {
  if (!c?.kernelBefore || !c.kernelAfter) return null;
  try {
    return counterSetOf(c.kernelBefore, c.kernelAfter, containerOf);
  } catch {
    return null;
  }
}

/** Names the engines gave containers at record time (they are gone once containers exit). */
function namesOf(c: CountersFile | null): NameResolver | undefined {
  const named = new Map<string, ContainerIdentity>();
  for (const map of [c?.cgroupsBefore, c?.cgroupsAfter]) {
    for (const e of map?.cgroups ?? []) {
      const id = e.container;
      if (id && typeof id.id === 'string' && typeof id.name === 'string' && id.name !== id.shortId)
        named.set(id.id, id);
    }
  }
  if (named.size === 0) return undefined;
  return (identity) => {
    const n = named.get(identity.id);
    return n
      ? { ...identity, name: n.name, image: n.image ?? identity.image, pod: n.pod ?? identity.pod }
      : identity;
  };
}
