/**
 * What a run's counters.json adds to its profile: the kernel counters (as named metrics), the
 * names the container engines gave at record time, and the per-cgroup syscall rates.
 */
import { applyNames, containerOf, type NameResolver } from '../analysis/containers.ts';
import { type CounterSet, counterSetOf } from '../analysis/counters.ts';
import type { SyscallRateRow } from '../analysis/diagnose.ts';
import { readRunCounters, type StoredCounters } from '../store/counters-file.ts';

export interface RunCounterFacts {
  counters: CounterSet | null;
  nameOf: NameResolver | undefined;
  syscallRates: SyscallRateRow[] | null;
  /** One line per container engine that runs on the recorded host but did not name its containers. */
  engineNotes: string[];
}

/** The counters, engine names and syscall rates of the run in `dir` (InputError when counters.json is damaged). */
export async function runCounters(dir: string): Promise<RunCounterFacts> {
  const counters = await readRunCounters(dir);
  return {
    counters: countersOf(counters),
    nameOf: namesOf(counters),
    engineNotes: engineNotesOf(counters),
    syscallRates: counters?.syscallRates?.cgroups ?? null,
  };
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
