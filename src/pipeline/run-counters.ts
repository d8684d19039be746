/**
 * What a run's counters.json adds to its profile: the kernel counters (as named metrics), the
 * names the container engines gave at record time, and the per-cgroup syscall rates.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  applyNames,
  type ContainerIdentity,
  type ContainerName,
  containerOf,
  type NameResolver,
} from '../analysis/containers.ts';
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
  containerNames?: Record<string, unknown>;
  containerNameSources?: unknown[];
}

export interface RunCounterFacts {
  counters: CounterSet | null;
  nameOf: NameResolver | undefined;
  syscallRates: SyscallRateRow[] | null;
  /** One line per container engine that runs on the recorded host but did not name its containers. */
  engineNotes: string[];
}

/** The counters, engine names and syscall rates of the run in `dir`. */
export async function runCounters(dir: string): Promise<RunCounterFacts> {
  const counters = await readCounters(dir);
  return {
    counters: countersOf(counters),
    nameOf: namesOf(counters),
    engineNotes: engineNotesOf(counters),
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

/**
 * Engines that run on the recorded host but gave no names (no answer in time, refused, output not
 * understood), before or after the window: their containers show as ids, and the output says why.
 */
function engineNotesOf(c: CountersFile | null): string[] {
  const out = new Set<string>();
  for (const n of c?.containerNameSources ?? []) {
    if (typeof n !== 'object' || n === null) continue;
    const { status, present, note } = n as { status?: unknown; present?: unknown; note?: unknown };
    const failed =
      status === 'timeout' || status === 'unparsable' || (status === 'unreachable' && present === true);
    if (failed && typeof note === 'string') out.add(`${note.slice(0, 300)}: its containers may show as ids`);
  }
  return [...out];
}

/** Engine names kept in counters.json, each checked: an id to a name, image and engine. */
function engineNamesOf(c: CountersFile | null): Map<string, ContainerName> {
  const names = new Map<string, ContainerName>();
  const given = c?.containerNames;
  if (typeof given !== 'object' || given === null) return names;
  for (const [id, v] of Object.entries(given)) {
    if (typeof v !== 'object' || v === null) continue;
    const { name, image, engine } = v as { name?: unknown; image?: unknown; engine?: unknown };
    if (typeof name !== 'string') continue;
    const entry: ContainerName = { name };
    if (typeof image === 'string') entry.image = image;
    if (engine === 'docker' || engine === 'podman' || engine === 'crictl') entry.engine = engine;
    names.set(id, entry);
  }
  return names;
}

/**
 * Names the engines gave containers at record time (they are gone once containers exit): the
 * cgroup maps' identities, else the engines' names of any id (a `--rm` container of the window,
 * a container under a custom cgroup parent).
 */
function namesOf(c: CountersFile | null): NameResolver | undefined {
  const engineNames = engineNamesOf(c);
  const named = new Map<string, ContainerIdentity>();
  for (const map of [c?.cgroupsBefore, c?.cgroupsAfter]) {
    for (const e of map?.cgroups ?? []) {
      const id = e.container;
      if (id && typeof id.id === 'string' && typeof id.name === 'string' && id.name !== id.shortId)
        named.set(id.id, id);
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
