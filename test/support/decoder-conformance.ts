/**
 * Compares the native perf.data decoder with `perf script` (the oracle) on one file: both
 * imports of the same event, samples matched by (tid, time in ns), each sample's folded stack
 * (`name (module)` root first), comm and cgroup compared. Differences are grouped by the first
 * differing frame of each side, weighted by the samples' periods.
 */
import { importPerfData } from '../../src/formats/perf-data/import.ts';
import type { Profile } from '../../src/model/profile.ts';

export interface Difference {
  where: 'stack' | 'comm' | 'cgroup' | 'missing';
  /** The first frame that differs (native / perf script), or the differing labels. */
  native: string;
  perf: string;
  /** Whether the first differing frame of either side is a kernel frame. */
  kernel: boolean;
  samples: number;
  weight: number;
}

export interface Conformance {
  file: string;
  event: string;
  samples: number;
  perfSamples: number;
  weight: number;
  identicalWeight: number;
  share: number;
  differences: Difference[];
  nativeMs: number;
  perfMs: number;
  kernelSymbols: string;
  /** Context switches of both decoders compared field by field, when perf script found any. */
  switches: SwitchConformance | null;
}

export interface SwitchConformance {
  native: number;
  perf: number;
  /** Switches (matched by prev tid and time) equal in every field of the switch table. */
  identical: number;
  /** Field name -> switches differing first in it, with the first example. */
  differences: Map<string, { count: number; native: string; perf: string }>;
}

interface Row {
  stack: string[];
  kernel: boolean[];
  comm: string;
  cgroup: string;
  weight: number;
}

function rows(p: Profile): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  const { samples, stacks, frames, strings } = p;
  for (let i = 0; i < samples.length; i++) {
    const stack: string[] = [];
    const kernel: boolean[] = [];
    for (let s = samples.stack[i]; s !== -1; s = stacks.prefix[s]) {
      const f = stacks.frame[s];
      stack.push(`${strings[frames.name[f]]} (${strings[frames.module[f]]})`);
      kernel.push(frames.kind[f] === 1);
    }
    stack.reverse();
    kernel.reverse();
    const key = `${samples.tid[i]}:${Math.round(samples.time[i] * 1e9)}`;
    const row = {
      stack,
      kernel,
      comm: strings[samples.comm[i]],
      cgroup: strings[samples.cgroup[i]],
      weight: samples.weight[i],
    };
    const list = out.get(key);
    if (list) list.push(row);
    else out.set(key, [row]);
  }
  return out;
}

function foldedStack(p: Profile, stack: number): string {
  const out: string[] = [];
  for (let s = stack; s !== -1; s = p.stacks.prefix[s]) {
    const f = p.stacks.frame[s];
    out.push(`${p.strings[p.frames.name[f]]} (${p.strings[p.frames.module[f]]})`);
  }
  return out.reverse().join(';');
}

/** Every field of a profile's switch table, by (prev tid, time in ns). */
function switchRows(p: Profile): Map<string, Record<string, string>[]> {
  const out = new Map<string, Record<string, string>[]>();
  const sw = p.switches;
  if (sw === undefined) return out;
  for (let i = 0; i < sw.length; i++) {
    const row = {
      stack: foldedStack(p, sw.stack[i]),
      cpu: String(sw.cpu[i]),
      prevPid: String(sw.prevPid[i]),
      comm: p.strings[sw.comm[i]],
      cgroup: p.strings[sw.cgroup[i]],
      prevState: String(sw.prevState[i]),
      nextTid: String(sw.nextTid[i]),
      host: p.strings[sw.host[i]],
    };
    const key = `${sw.prevTid[i]}:${sw.timeNs[i]}`;
    const list = out.get(key);
    if (list) list.push(row);
    else out.set(key, [row]);
  }
  return out;
}

export function compareSwitches(native: Profile, perf: Profile): SwitchConformance | null {
  if (perf.switches === undefined && native.switches === undefined) return null;
  const a = switchRows(native);
  const b = switchRows(perf);
  const differences = new Map<string, { count: number; native: string; perf: string }>();
  const differ = (field: string, n: string, r: string) => {
    const d = differences.get(field) ?? { count: 0, native: n, perf: r };
    d.count++;
    differences.set(field, d);
  };
  let identical = 0;
  for (const [key, list] of b) {
    const mine = a.get(key) ?? [];
    list.forEach((r, k) => {
      const n = mine[k];
      if (n === undefined) {
        differ('missing', '(none)', key);
        return;
      }
      const field = Object.keys(r).find((f) => n[f] !== r[f]);
      if (field === undefined) identical++;
      else differ(field, n[field], r[field]);
    });
  }
  return {
    native: native.switches?.length ?? 0,
    perf: perf.switches?.length ?? 0,
    identical,
    differences,
  };
}

export async function compareDecoders(file: string, event?: string): Promise<Conformance> {
  let t = performance.now();
  const native = await importPerfData(file, { decoder: 'native', event });
  const nativeMs = performance.now() - t;
  t = performance.now();
  const perf = await importPerfData(file, { decoder: 'perf-script', event });
  const perfMs = performance.now() - t;
  const a = rows(native);
  const b = rows(perf);
  const groups = new Map<string, Difference>();
  let weight = 0;
  let identical = 0;
  const add = (d: Omit<Difference, 'samples' | 'weight'>, w: number) => {
    const key = `${d.where}\u0000${d.native}\u0000${d.perf}`;
    const g = groups.get(key) ?? { ...d, samples: 0, weight: 0 };
    g.samples++;
    g.weight += w;
    groups.set(key, g);
  };
  for (const [key, list] of b) {
    const mine = a.get(key) ?? [];
    list.forEach((r, k) => {
      weight += r.weight;
      const n = mine[k];
      if (n === undefined) {
        add({ where: 'missing', native: '(no sample)', perf: r.stack.at(-1) ?? '', kernel: false }, r.weight);
        return;
      }
      if (n.cgroup !== r.cgroup) {
        add({ where: 'cgroup', native: n.cgroup, perf: r.cgroup, kernel: false }, r.weight);
        return;
      }
      if (n.comm !== r.comm) {
        add({ where: 'comm', native: n.comm, perf: r.comm, kernel: false }, r.weight);
        return;
      }
      const len = Math.max(n.stack.length, r.stack.length);
      for (let d = 0; d < len; d++) {
        if (n.stack[d] !== r.stack[d]) {
          add(
            {
              where: 'stack',
              native: n.stack[d] ?? '(end)',
              perf: r.stack[d] ?? '(end)',
              kernel: (n.kernel[d] ?? false) || (r.kernel[d] ?? false),
            },
            r.weight,
          );
          return;
        }
      }
      identical += r.weight;
    });
  }
  const differences = [...groups.values()].sort((x, y) => y.weight - x.weight);
  return {
    file,
    event: perf.meta.event,
    samples: native.samples.length,
    perfSamples: perf.samples.length,
    weight,
    identicalWeight: identical,
    share: weight === 0 ? 1 : identical / weight,
    differences,
    nativeMs,
    perfMs,
    kernelSymbols: String(native.meta.recording.kernelSymbols ?? ''),
    switches: compareSwitches(native, perf),
  };
}
