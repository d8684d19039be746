/**
 * Which container of a baseline run is which container of a target run. Ids change when a
 * container restarts, so containers are matched, in order of trust: by an explicit `--match`, by
 * the same id, by the same name (when it is a real name, not a short id), by the same image, and by
 * the same set of process names. What stays unmatched is reported as gone or new.
 */
import type { ContainerSummary } from './analyze.ts';

export interface ContainerPairing {
  /** target container id -> baseline container id */
  baselineOf: Map<string, string>;
  /** How each pair was matched. */
  how: Map<string, 'explicit' | 'id' | 'name' | 'image' | 'processes'>;
  /** Baseline containers with no counterpart in the target. */
  gone: string[];
  /** Target containers with no counterpart in the baseline. */
  added: string[];
}

/** `--match BASE=TARGET`: ids, short ids or names on either side. */
export interface ExplicitMatch {
  baseline: string;
  target: string;
}

type Key = (c: ContainerSummary) => string | null;

const byId: Key = (c) => c.identity.id;
/** A name is a real name only when an engine, a unit or the lab gave it, not the short id. */
const byName: Key = (c) =>
  c.identity.name && c.identity.name !== c.identity.shortId && c.identity.runtime !== 'unknown'
    ? `${c.identity.runtime}\u0000${c.identity.name}`
    : null;
const byImage: Key = (c) => (c.identity.image ? `image\u0000${c.identity.image}` : null);
const byProcesses: Key = (c) => {
  const comms = [...new Set(c.processes.map((p) => p.comm))].sort();
  return comms.length > 0 ? `comms\u0000${comms.join('\u0000')}` : null;
};

function refers(c: ContainerSummary, ref: string): boolean {
  const i = c.identity;
  return i.id === ref || i.shortId === ref || i.name === ref || i.cgroup === ref;
}

export function matchContainers(
  baseline: ContainerSummary[],
  target: ContainerSummary[],
  explicit: ExplicitMatch[] = [],
): ContainerPairing {
  const baselineOf = new Map<string, string>();
  const how: ContainerPairing['how'] = new Map();
  const usedBase = new Set<string>();
  const pair = (
    b: ContainerSummary,
    t: ContainerSummary,
    kind: 'explicit' | 'id' | 'name' | 'image' | 'processes',
  ) => {
    baselineOf.set(t.identity.id, b.identity.id);
    how.set(t.identity.id, kind);
    usedBase.add(b.identity.id);
  };
  for (const m of explicit) {
    const b = baseline.find((c) => refers(c, m.baseline));
    const t = target.find((c) => refers(c, m.target));
    if (b && t && !usedBase.has(b.identity.id) && !baselineOf.has(t.identity.id)) pair(b, t, 'explicit');
  }
  const steps: [Key, 'id' | 'name' | 'image' | 'processes'][] = [
    [byId, 'id'],
    [byName, 'name'],
    [byImage, 'image'],
    [byProcesses, 'processes'],
  ];
  for (const [key, kind] of steps) {
    const freeBase = baseline.filter((c) => !usedBase.has(c.identity.id));
    const freeTarget = target.filter((c) => !baselineOf.has(c.identity.id));
    const baseByKey = uniqueBy(freeBase, key);
    const targetByKey = uniqueBy(freeTarget, key);
    for (const [k, t] of targetByKey) {
      const b = baseByKey.get(k);
      if (b) pair(b, t, kind);
    }
  }
  return {
    baselineOf,
    how,
    gone: baseline.filter((c) => !usedBase.has(c.identity.id)).map((c) => c.identity.id),
    added: target.filter((c) => !baselineOf.has(c.identity.id)).map((c) => c.identity.id),
  };
}

/** Key -> container, for keys held by exactly one container (an ambiguous key matches nothing). */
function uniqueBy(list: ContainerSummary[], key: Key): Map<string, ContainerSummary> {
  const out = new Map<string, ContainerSummary>();
  const dup = new Set<string>();
  for (const c of list) {
    const k = key(c);
    if (k === null) continue;
    if (out.has(k)) dup.add(k);
    else out.set(k, c);
  }
  for (const k of dup) out.delete(k);
  return out;
}
