/**
 * counters.json of a run, as crosstalk reads it back: the kernel snapshots before and after, the
 * cgroup maps with the names container engines gave, and the per-cgroup syscall rates. Written by
 * collect/recorder.ts (RunCounters); validated here with zod, so a damaged file is an error that
 * names it, never a silent "no counters".
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../formats/errors.ts';
import { COUNTERS_FILE } from './metadata.ts';

export const COUNTERS_SCHEMA = 'crosstalk.counters/1';

const psi = z.object({ total: z.number() });
const pressure = z.record(z.string(), z.object({ some: psi.nullable() }).optional());

const snapshot = z.object({
  uptimeSeconds: z.number().nullable(),
  dentryState: z.object({ nrDentry: z.number(), nrNegative: z.number().nullable() }).nullable(),
  slabinfo: z.array(z.object({ name: z.string(), bytes: z.number() })).nullable(),
  pressure,
  cgroups: z.array(
    z.object({
      path: z.string(),
      hierarchy: z.string(),
      pressure,
      cpuStat: z.record(z.string(), z.number()).nullable(),
    }),
  ),
});

/** The engine's identity of a cgroup's container (analysis/containers.ts ContainerIdentity). */
const identity = z.object({
  id: z.string(),
  name: z.string(),
  runtime: z.string(),
  cgroup: z.string(),
  shortId: z.string().optional(),
  pod: z
    .object({ uid: z.string(), name: z.string().optional(), namespace: z.string().optional() })
    .optional(),
  kind: z.string(),
  monitorOf: z.string().optional(),
  image: z.string().optional(),
});

const cgroupMap = z.object({ cgroups: z.array(z.object({ container: identity.optional() })) });

const syscallRates = z.object({
  cgroups: z.array(
    z.object({
      cgroup: z.string(),
      perSecond: z.number(),
      top: z.array(z.object({ name: z.string(), perSecond: z.number() })),
    }),
  ),
});

const countersFile = z.object({
  schema: z.literal(COUNTERS_SCHEMA),
  cgroupsBefore: cgroupMap,
  cgroupsAfter: cgroupMap.nullable(),
  kernelBefore: snapshot,
  kernelAfter: snapshot.nullable(),
  syscallRates: syscallRates.nullable(),
});

/** The parts of counters.json crosstalk reads back (the file holds more; see RunCounters). */
export type StoredCounters = z.infer<typeof countersFile>;
export type StoredSnapshot = z.infer<typeof snapshot>;

/** The counters of the run in `dir`; null when it has none (the recorder could not write them). */
export async function readRunCounters(dir: string): Promise<StoredCounters | null> {
  const file = join(dir, COUNTERS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError(file, null, 'a readable counters file', (e as Error).message);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InputError(file, null, 'JSON run counters', 'text that is not JSON');
  }
  const checked = countersFile.safeParse(value);
  if (!checked.success) {
    const where = checked.error.issues[0]?.path.join('.') || 'the top level';
    throw new InputError(file, null, `run counters with schema "${COUNTERS_SCHEMA}"`, `a bad ${where}`);
  }
  return checked.data;
}
