/**
 * The demo's one line about other load on the host before it starts (collect/host-load.ts), when
 * that load is significant: the same 5% of the host's CPU that marks foreign load in a recording.
 */
import { FOREIGN_LOAD_MIN_SHARE } from '../analysis/foreign-load.ts';
import type { HostLoad } from '../collect/host-load.ts';
import { safeText } from '../report/safe-text.ts';

/** null when the other load is below FOREIGN_LOAD_MIN_SHARE of the host's CPU time. */
export function hostLoadLine(load: HostLoad, minShare = FOREIGN_LOAD_MIN_SHARE): string | null {
  const share = load.busyCpus / load.hostCpus;
  if (!(share >= minShare)) return null;
  const pct = (cpus: number) => `${Math.round((cpus / load.hostCpus) * 100)}%`;
  const top = load.cgroups
    .filter((c) => c.cpus / load.hostCpus >= 0.01)
    .slice(0, 3)
    .map((c) => `${c.path === '/' ? 'processes outside any cgroup' : safeText(c.path, 60)} ${pct(c.cpus)}`);
  const where = top.length > 0 ? `, most in ${top.join(', ')}` : load.note ? ` (${load.note})` : '';
  return `host load before the demo: ${pct(load.busyCpus)} of the host's CPU (${load.busyCpus.toFixed(2)} of ${load.hostCpus} CPUs) was busy with other work over ${load.seconds.toFixed(1)} s${where}; the demo's latencies are measured beside it`;
}
