/**
 * Multi-host profiles: several hosts' profiles joined into one, each sample labelled with its
 * host (the `host` sample column), and the way back to one host's samples.
 */
import { mergeProfiles } from './merge.ts';
import {
  type HostMeta,
  metaCopy,
  type Profile,
  type SampleTable,
  type SwitchTable,
  withMeta,
} from './profile.ts';

export interface HostPart {
  /** Host label for every sample of `profile`; must be unique and non-empty. */
  host: string;
  profile: Profile;
}

/**
 * One profile holding every host's samples in input order. Containers of different hosts stay
 * apart in analysis even when their cgroup paths are equal, because the host is a sample label.
 * The duration is the longest host's (hosts record side by side; their clocks are unrelated).
 */
export function mergeHosts(parts: HostPart[], source: string): Profile {
  if (parts.length === 0) throw new Error('mergeHosts: no hosts');
  const names = new Set<string>();
  for (const { host } of parts) {
    if (host === '' || names.has(host))
      throw new Error(`mergeHosts: host name ${JSON.stringify(host)} empty or repeated`);
    names.add(host);
  }
  const merged = mergeProfiles(
    parts.map((p) => p.profile),
    source,
    { hostOf: (k) => parts[k].host },
  );
  const m = metaCopy(merged);
  m.hosts = parts.map(({ host, profile }) => hostMetaOf(host, profile));
  const durations = parts.map((p) => p.profile.meta.durationSeconds).filter((d) => d !== null);
  m.durationSeconds = durations.length > 0 ? Math.max(...durations) : null;
  m.recording = {};
  const events = new Set(parts.map((p) => p.profile.meta.event));
  if (events.size > 1) {
    m.warnings.push(
      `the hosts' profiles hold different events (${[...events].join(', ')}); their weights are added as if they were ${m.event}`,
    );
  }
  return withMeta(merged, m);
}

function hostMetaOf(host: string, p: Profile): HostMeta {
  const m = p.meta;
  return {
    name: host,
    source: m.source,
    format: m.format,
    event: m.event,
    events: m.events.map((e) => ({ ...e })),
    durationSeconds: m.durationSeconds,
    truncated: m.truncated,
    recording: { ...m.recording },
  };
}

/** Host labels in order of first appearance ([''] for single-host input, [] for no samples). */
export function hostsOf(p: Profile): string[] {
  const seen = new Set<number>();
  const out: string[] = [];
  const { host } = p.samples;
  for (let i = 0; i < host.length; i++) {
    if (seen.has(host[i])) continue;
    seen.add(host[i]);
    out.push(p.strings[host[i]]);
  }
  return out;
}

/** Whether samples carry host labels (a profile made by mergeHosts or imported with them). */
export function isMultiHost(p: Profile): boolean {
  const { host } = p.samples;
  for (let i = 0; i < host.length; i++) if (p.strings[host[i]] !== '') return true;
  return false;
}

type Column = Int32Array | Float64Array | Uint8Array;

/** Copies the rows of `col` listed in `keep`. */
function pickRows<T extends Column>(col: T, keep: number[]): T {
  const out = new (col.constructor as { new (n: number): T })(keep.length);
  for (let k = 0; k < keep.length; k++) out[k] = col[keep[k]];
  return out;
}

function rowsOfHost(hostColumn: Int32Array, strings: readonly string[], host: string): number[] {
  const keep: number[] = [];
  for (let i = 0; i < hostColumn.length; i++) if (strings[hostColumn[i]] === host) keep.push(i);
  return keep;
}

function switchesOfHost(p: Profile, host: string): SwitchTable | undefined {
  const sw = p.switches;
  if (sw === undefined) return undefined;
  const keep = rowsOfHost(sw.host, p.strings, host);
  const pick = <T extends Column>(col: T): T => pickRows(col, keep);
  return {
    length: keep.length,
    stack: pick(sw.stack),
    timeNs: pick(sw.timeNs),
    cpu: pick(sw.cpu),
    prevTid: pick(sw.prevTid),
    prevPid: pick(sw.prevPid),
    comm: pick(sw.comm),
    cgroup: pick(sw.cgroup),
    prevState: pick(sw.prevState),
    nextTid: pick(sw.nextTid),
    host: pick(sw.host),
  };
}

/**
 * The samples (and context switches) of one host, sharing the string, frame and stack tables of
 * `p` (no copy of them). The meta is the host's own where mergeHosts recorded it.
 */
export function selectHost(p: Profile, host: string): Profile {
  const { samples } = p;
  const keep = rowsOfHost(samples.host, p.strings, host);
  const pick = <T extends Column>(col: T): T => pickRows(col, keep);
  const picked: SampleTable = {
    length: keep.length,
    stack: pick(samples.stack),
    time: pick(samples.time),
    weight: pick(samples.weight),
    pid: pick(samples.pid),
    tid: pick(samples.tid),
    cpu: pick(samples.cpu),
    comm: pick(samples.comm),
    cgroup: pick(samples.cgroup),
    host: pick(samples.host),
  };
  const own = p.meta.hosts.find((h) => h.name === host);
  const meta = {
    ...p.meta,
    events: (own?.events ?? p.meta.events).map((e) => ({ ...e })),
    warnings: [...p.meta.warnings],
    hosts: [],
    ...(own && {
      source: own.source,
      format: own.format,
      durationSeconds: own.durationSeconds,
      truncated: own.truncated,
      recording: { ...own.recording },
    }),
  };
  const switches = switchesOfHost(p, host);
  return {
    strings: p.strings,
    frames: p.frames,
    stacks: p.stacks,
    samples: picked,
    meta,
    ...(switches && { switches }),
  };
}
