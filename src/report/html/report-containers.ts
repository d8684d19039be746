/**
 * Which container a sample belongs to, as the analysis named it, for the report's per-container
 * flame views and timeline series. In a multi-host profile the same cgroup path on two hosts is
 * two containers (the host root of each, above all), so keys and labels carry the host.
 */
import { containerOf } from '../../analysis/containers.ts';
import type { Profile } from '../../model/profile.ts';

/** A container of the analysis: its id, name, host ('' for one host) and cgroup paths. */
export interface ReportContainer {
  id: string;
  name: string;
  host: string;
  cgroups: string[];
}

/** The report's key of a container: its id, with the host in a multi-host profile. */
export function reportKey(host: string, id: string): string {
  return host === '' ? id : `${id}@${host}`;
}

/** Sample index -> the container's report key and label (`name (host)` for several hosts). */
export function sampleContainers(
  p: Profile,
  containers: readonly ReportContainer[],
): (sample: number) => { key: string; label: string } {
  const listed = new Map<string, ReportContainer>();
  for (const c of containers) for (const cg of c.cgroups) listed.set(`${c.host}\u0000${cg}`, c);
  const memo = new Map<number, { key: string; label: string }>();
  const nStrings = p.strings.length;
  const { cgroup, host } = p.samples;
  return (i) => {
    const at = host[i] * nStrings + cgroup[i];
    let found = memo.get(at);
    if (found === undefined) {
      const hostName = p.strings[host[i]];
      const path = p.strings[cgroup[i]];
      const c = listed.get(`${hostName}\u0000${path}`) ?? containerOf(path);
      found = {
        key: reportKey(hostName, c.id),
        label: hostName === '' ? c.name : `${c.name} (${hostName})`,
      };
      memo.set(at, found);
    }
    return found;
  };
}
