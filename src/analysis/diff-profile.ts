/**
 * The differential profile of a diff: one merged profile in which the target's samples keep their
 * weights and the baseline's are negative, both normalised as the diff is (shares: each side
 * divided by its own total weight). Baseline samples of matched containers are moved to the
 * target container's cgroup, so a container is one node in a differential flame graph.
 * Also the two-column folded format of FlameGraph's difffolded.pl / inferno-diff-folded.
 */
import { collapseToMap, compareUtf8 } from '../formats/collapse.ts';
import { mergeProfiles } from '../model/merge.ts';
import type { Profile } from '../model/profile.ts';
import type { ContainerIdentity } from './containers.ts';
import { containerOf } from './containers.ts';
import type { ContainerPairing } from './match-containers.ts';

function totalWeight(p: Profile): number {
  let t = 0;
  for (const w of p.samples.weight) t += w;
  return t || 1;
}

/** cgroup path of the target container each baseline cgroup's container was matched to. */
function baselineCgroupMapper(pairing: ContainerPairing, target: Profile): (cgroup: string) => string {
  const targetCgroup = new Map<string, string>();
  for (const s of target.strings) {
    const id = containerOf(s);
    if (!targetCgroup.has(id.id)) targetCgroup.set(id.id, id.cgroup);
  }
  const targetOf = new Map([...pairing.baselineOf].map(([t, b]) => [b, t]));
  return (cgroup) => {
    const t = targetOf.get(containerOf(cgroup).id);
    return t === undefined ? cgroup : (targetCgroup.get(t) ?? cgroup);
  };
}

export function diffProfile(base: Profile, target: Profile, pairing: ContainerPairing): Profile {
  const tb = totalWeight(base);
  const tt = totalWeight(target);
  const mapBase = baselineCgroupMapper(pairing, target);
  return mergeProfiles([target, base], `${base.meta.source} -> ${target.meta.source}`, {
    weightScale: (part) => (part === 0 ? 1 / tt : -1 / tb),
    cgroupOf: (part, cgroup) => (part === 1 ? mapBase(cgroup) : cgroup),
  });
}

/**
 * `stack BASELINE TARGET` lines (the format difffolded.pl writes and flamegraph.pl reads), with the
 * container as the root frame and kernel frames marked `_[k]`. Counts are integers: the baseline
 * is scaled to the target's total weight (difffolded.pl -n), so shares compare.
 */
export function diffFolded(
  base: Profile,
  target: Profile,
  pairing: ContainerPairing,
  nameOf: (identity: ContainerIdentity) => string,
): string[] {
  const targetName = new Map<string, string>();
  const rootFor = (p: Profile, mapId: (id: string) => string) => {
    const memo = new Map<number, string>();
    return (sample: number) => {
      const cg = p.samples.cgroup[sample];
      let r = memo.get(cg);
      if (r === undefined) {
        const identity = containerOf(p.strings[cg]);
        const id = mapId(identity.id);
        r = `[${(targetName.get(id) ?? nameOf(identity)).replaceAll(';', ':').replaceAll(' ', '_')}]`;
        memo.set(cg, r);
      }
      return r;
    };
  };
  for (const s of target.strings) {
    const identity = containerOf(s);
    if (!targetName.has(identity.id)) targetName.set(identity.id, nameOf(identity));
  }
  const targetOf = new Map([...pairing.baselineOf].map(([t, b]) => [b, t]));
  const b = collapseToMap(base, { kernel: true, rootOf: rootFor(base, (id) => targetOf.get(id) ?? id) });
  const t = collapseToMap(target, { kernel: true, rootOf: rootFor(target, (id) => id) });
  const scale = totalWeight(target) / totalWeight(base);
  const keys = [...new Set([...b.keys(), ...t.keys()])].sort(compareUtf8);
  return keys.map((k) => `${k} ${Math.round((b.get(k) ?? 0) * scale)} ${Math.round(t.get(k) ?? 0)}`);
}
