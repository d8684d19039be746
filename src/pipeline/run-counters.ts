/**
 * What a run's counters.json adds to its profile: the kernel counters (as named metrics), the
 * names the container engines gave at record time, and the per-cgroup syscall rates.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ContainerIdentity, containerOf, type NameResolver } from '../analysis/containers.ts';
import { type CounterSet, counterSetOf, type SnapshotLike } from '../analysis/counters.ts';
import type { SyscallRateRow } from '../analysis/diagnose.ts';
import { COUNTERS_FILE } from '../store/metadata.ts';

/** Only the parts of counters.json crosstalk reads back; everything is checked before use. */
interface CountersFile {
  cgroupsBefore?: { cgroups?: { container?: ContainerIdentity }[] };
  cgroupsAfter?: { cgroups?: { container?: ContainerIdentity }[] } | null;
  kernelBefore?: SnapshotLike;
  kernelAfter?: SnapshotLike | null;
  syscallRates?: { cgroups?: SyscallRateRow[] } | null;
}

export interface RunCounterFacts {
  counters: CounterSet | null;
  nameOf: NameResolver | undefined;
  syscallRates: SyscallRateRow[] | null;
}

/** The counters, engine names and syscall rates of the run in `dir`. */
export async function runCounters(dir: string): Promise<RunCounterFacts> {
  const counters = await readCounters(dir);
  return {
    counters: countersOf(counters),
    nameOf: namesOf(counters),
    syscallRates: Array.isArray(counters?.syscallRates?.cgroups) ? counters!.syscallRates!.cgroups! : null,
  };
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
