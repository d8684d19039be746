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
  };
}
