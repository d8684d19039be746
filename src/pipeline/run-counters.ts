/**
 * What a run's counters.json adds to its profile: the kernel counters (as named metrics), the
 * names the container engines gave at record time, and the per-cgroup syscall rates.
 */
import { containerOf, type NameResolver } from '../analysis/containers.ts';
import { type CounterSet, counterSetOf } from '../analysis/counters.ts';
import type { SyscallRateRow } from '../analysis/diagnose.ts';
import { readRunCounters, type StoredCounters } from '../store/counters-file.ts';

export interface RunCounterFacts {
  counters: CounterSet | null;
  nameOf: NameResolver | undefined;
  syscallRates: SyscallRateRow[] | null;
}

/** The counters, engine names and syscall rates of the run in `dir` (InputError when counters.json is damaged). */
export async function runCounters(dir: string): Promise<RunCounterFacts> {
  const counters = await readRunCounters(dir);
  return {
    counters: countersOf(counters),
    nameOf: namesOf(counters),
    syscallRates: counters?.syscallRates?.cgroups ?? null,
  };
}

function countersOf(c: StoredCounters | null): CounterSet | null {
  if (!c?.kernelAfter) return null;
  return counterSetOf(c.kernelBefore, c.kernelAfter, containerOf);
}

type StoredIdentity = NonNullable<StoredCounters['cgroupsBefore']['cgroups'][number]['container']>;

/** Names the engines gave containers at record time (they are gone once containers exit). */
function namesOf(c: StoredCounters | null): NameResolver | undefined {
  const named = new Map<string, StoredIdentity>();
  for (const map of [c?.cgroupsBefore, c?.cgroupsAfter]) {
    for (const e of map?.cgroups ?? []) {
      const id = e.container;
      if (id && id.name !== id.shortId) named.set(id.id, id);
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
