/**
 * Concatenates profiles into one: strings, frames and stacks are re-interned, samples appended in
 * order. Used to join the parts of one file parsed in parallel, and several hosts' profiles.
 */
import { ProfileBuilder } from './builder.ts';
import type { EventCount, FrameKindCode, Profile, ProfileMeta } from './profile.ts';

export interface MergeOptions {
  /** Multiplies each part's weights (a diff negates and scales the baseline). Default 1. */
  weightScale?: (part: number) => number;
  /** Called for each part's cgroup path; lets a multi-host merge prefix the host. Default: unchanged. */
  cgroupOf?: (part: number, cgroup: string) => string;
  /** The host label of every sample of a part (a multi-host merge). Default: each sample's own. */
  hostOf?: (part: number) => string;
}

/**
 * Context switches are carried over, each with its part's host, except when weights are scaled:
 * a differential profile joins two recordings whose clocks and task ids have nothing in common,
 * so pairing their switches would mean nothing.
 */
export function mergeProfiles(parts: Profile[], source: string, opts: MergeOptions = {}): Profile {
  if (parts.length === 0) throw new Error('mergeProfiles: no parts');
  const b = new ProfileBuilder(source, parts[0].meta.format);
  for (let k = 0; k < parts.length; k++) appendProfile(b, parts[k], k, opts);
  mergeMeta(b.meta, parts);
  return b.finish({ allowNegativeWeights: opts.weightScale !== undefined });
}

function appendProfile(b: ProfileBuilder, p: Profile, part: number, opts: MergeOptions): void {
  const str = p.strings.map((s) => b.strings.intern(s));
  const cgroup = opts.cgroupOf ? p.strings.map((s) => b.strings.intern(opts.cgroupOf!(part, s))) : str;
  const { frames, stacks, samples } = p;
  const frameMap = new Int32Array(frames.length);
  for (let f = 0; f < frames.length; f++) {
    const a = frames.address[f];
    frameMap[f] = b.frame(
      p.strings[frames.name[f]],
      p.strings[frames.module[f]],
      frames.kind[f] as FrameKindCode,
      frames.inlined[f] === 1,
      a === -1 ? null : p.strings[a],
    );
  }
  const scale = opts.weightScale?.(part) ?? 1;
  const partHost = opts.hostOf === undefined ? -1 : b.strings.intern(opts.hostOf(part));
  const stackMap = new Int32Array(stacks.length);
  for (let s = 0; s < stacks.length; s++) {
    const pre = stacks.prefix[s];
    stackMap[s] = b.stack(pre === -1 ? -1 : stackMap[pre], frameMap[stacks.frame[s]], stacks.callerSite[s]);
  }
  for (let i = 0; i < samples.length; i++) {
    const s = samples.stack[i];
    b.addSample({
      stack: s === -1 ? -1 : stackMap[s],
      time: samples.time[i],
      weight: samples.weight[i] * scale,
      pid: samples.pid[i],
      tid: samples.tid[i],
      cpu: samples.cpu[i],
      comm: str[samples.comm[i]],
      cgroup: cgroup[samples.cgroup[i]],
      host: partHost === -1 ? str[samples.host[i]] : partHost,
    });
  }
  const sw = p.switches;
  if (sw === undefined || opts.weightScale !== undefined) return;
  for (let i = 0; i < sw.length; i++) {
    const s = sw.stack[i];
    b.addSwitch({
      stack: s === -1 ? -1 : stackMap[s],
      timeNs: sw.timeNs[i],
      cpu: sw.cpu[i],
      prevTid: sw.prevTid[i],
      prevPid: sw.prevPid[i],
      comm: str[sw.comm[i]],
      cgroup: cgroup[sw.cgroup[i]],
      prevState: sw.prevState[i],
      nextTid: sw.nextTid[i],
      host: partHost === -1 ? str[sw.host[i]] : partHost,
    });
  }
}

function mergeMeta(m: ProfileMeta, parts: Profile[]): void {
  const first = parts[0].meta;
  m.event = first.event;
  m.eventChosenBy = first.eventChosenBy;
  m.callGraph = parts.every((p) => p.meta.callGraph === first.callGraph) ? first.callGraph : 'unknown';
  m.hasCgroups = parts.every((p) => p.meta.hasCgroups);
  m.truncated = parts.some((p) => p.meta.truncated);
  m.recording = { ...first.recording };
  const events = new Map<string, EventCount>();
  for (const p of parts) {
    for (const e of p.meta.events) {
      const have = events.get(e.name);
      if (have) have.samples += e.samples;
      else events.set(e.name, { ...e });
    }
    for (const [kind, o] of Object.entries(p.meta.oddities)) {
      const have = m.oddities[kind];
      if (!have) m.oddities[kind] = { ...o };
      else {
        have.count += o.count;
        if (o.firstLine < have.firstLine) Object.assign(have, { firstLine: o.firstLine, example: o.example });
      }
    }
    for (const w of p.meta.warnings) if (!m.warnings.includes(w)) m.warnings.push(w);
    for (const h of p.meta.hosts) if (!m.hosts.some((x) => x.name === h.name)) m.hosts.push({ ...h });
  }
  m.events = [...events.values()];
  // Caller addresses mean the same thing only when every part holds the same kind.
  if (parts.every((p) => p.meta.callerSites === first.callerSites) && first.callerSites !== undefined)
    m.callerSites = first.callerSites;
  const ids: Record<string, string> = {};
  const conflicting = new Set<string>();
  for (const p of parts)
    for (const [path, id] of Object.entries(p.meta.buildIds ?? {})) {
      if (ids[path] !== undefined && ids[path] !== id) conflicting.add(path);
      ids[path] ??= id;
    }
  for (const path of conflicting) delete ids[path];
  if (Object.keys(ids).length > 0) m.buildIds = ids;
}
