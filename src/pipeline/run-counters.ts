/**
 * What a run's counters.json adds to its profile: the kernel counters (as named metrics), the
 * names the container engines gave at record time, and the per-cgroup syscall rates.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyNames, containerOf, type NameResolver } from '../analysis/containers.ts';
import { type CounterSet, counterSetOf } from '../analysis/counters.ts';
import type { SyscallRateRow } from '../analysis/diagnose.ts';
import { type LatencySummary, summarizeLatency } from '../analysis/syscall-latency.ts';
import { readRunCounters, type StoredCounters } from '../store/counters-file.ts';
import { parseSyscallLatencyFile, SYSCALL_LATENCY_FILE } from '../store/syscall-latency-file.ts';

export interface RunCounterFacts {
  counters: CounterSet | null;
  nameOf: NameResolver | undefined;
  syscallRates: SyscallRateRow[] | null;
  /** One line per container engine that runs on the recorded host but did not name its containers. */
  engineNotes: string[];
  /** Per-container syscall latency and errors (syscall-latency.json), when the run has it. */
  latency: LatencySummary | null;
}

/** The counters, engine names and syscall rates of the run in `dir` (InputError when counters.json is damaged). */
export async function runCounters(dir: string): Promise<RunCounterFacts> {
  const counters = await readRunCounters(dir);
  const nameOf = namesOf(counters);
  return {
    counters: countersOf(counters),
    nameOf,
    engineNotes: engineNotesOf(counters),
    syscallRates: counters?.syscallRates?.cgroups ?? null,
    latency: await readLatency(dir, nameOf),
  };
}

/**
 * syscall-latency.json summarised per container; null when the run has none (recorded before it
 * existed, or with --no-syscall-latency). A file that does not validate is an InputError naming it.
 */
async function readLatency(dir: string, nameOf: NameResolver | undefined): Promise<LatencySummary | null> {
  const file = join(dir, SYSCALL_LATENCY_FILE);
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) return null;
  return summarizeLatency(parseSyscallLatencyFile(text, file), containerOf, nameOf);
}

function countersOf(c: StoredCounters | null): CounterSet | null {
  if (!c?.kernelAfter) return null;
  return counterSetOf(c.kernelBefore, c.kernelAfter, containerOf);
}

type StoredIdentity = NonNullable<StoredCounters['cgroupsBefore']['cgroups'][number]['container']>;

/**
 * Engines that run on the recorded host but gave no names (no answer in time, refused, output not
 * understood), before or after the window: their containers show as ids, and the output says why.
 */
function engineNotesOf(c: StoredCounters | null): string[] {
  const out = new Set<string>();
  for (const n of c?.containerNameSources ?? []) {
    const failed =
      n.status === 'timeout' ||
      n.status === 'unparsable' ||
      (n.status === 'unreachable' && n.present === true);
    if (failed) out.add(`${n.note.slice(0, 300)}: its containers may show as ids`);
  }
  return [...out];
}

/**
 * Names the engines gave containers at record time (they are gone once containers exit): the
 * cgroup maps' identities, else the engines' names of any id (a `--rm` container of the window,
 * a container under a custom cgroup parent).
 */
function namesOf(c: StoredCounters | null): NameResolver | undefined {
  const engineNames = new Map(Object.entries(c?.containerNames ?? {}));
  const named = new Map<string, StoredIdentity>();
  for (const map of [c?.cgroupsBefore, c?.cgroupsAfter]) {
    for (const e of map?.cgroups ?? []) {
      const id = e.container;
      if (id && id.name !== id.shortId) named.set(id.id, id);
    }
  }
  if (named.size === 0 && engineNames.size === 0) return undefined;
  return (identity) => {
    const n = named.get(identity.id);
    return n
      ? { ...identity, name: n.name, image: n.image ?? identity.image, pod: n.pod ?? identity.pod }
      : applyNames(identity, engineNames);
  };
}
