/**
 * Shared by the pprof, speedscope and multi-host tests: the real busy-host recording from the
 * corpus, with its processes placed in containers (the recording has no cgroups), `go` for the
 * real pprof consumer, and comparison helpers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { type AnalysisResult, analyzeProfile } from '../src/analysis/analyze.ts';
import { importProfile } from '../src/formats/input.ts';
import type { Profile } from '../src/model/profile.ts';
import { validateProfile } from '../src/model/validate.ts';
import { corpusFile } from './support/corpus.mjs';

export const corpus = corpusFile;

export const BUSY_HOST = corpus('host-samples/busy-host.perf.txt.gz');

const hex = (c: string) => c.repeat(64);

/** Container cgroups for busy-host's processes, one per runtime convention crosstalk reads. */
export const CGROUP_OF_COMM: Record<string, string> = {
  cc1: `/system.slice/docker-${hex('a')}.scope`,
  xz: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f2a9c1e_8b7d_4c4e_9f10_2b6a7c9d0e11.slice/cri-containerd-${hex('b')}.scope`,
  find: '/crosstalk-lab/run-demo/finder',
  node: '/system.slice/node-app.service',
  gzip: `/docker/${hex('c')}`,
  tar: `/docker/${hex('c')}`,
  swapper: '/',
};

/** `p` with each sample's cgroup chosen by its comm (others keep the unknown cgroup ''). */
export function withCgroups(p: Profile, cgroupOfComm: Record<string, string> = CGROUP_OF_COMM): Profile {
  const strings = [...p.strings];
  const index = new Map(strings.map((s, i) => [s, i]));
  const intern = (s: string) => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const cgroup = new Int32Array(p.samples.length);
  for (let i = 0; i < cgroup.length; i++)
    cgroup[i] = intern(cgroupOfComm[p.strings[p.samples.comm[i]]] ?? '');
  const out: Profile = {
    ...p,
    strings,
    samples: { ...p.samples, cgroup },
    meta: { ...p.meta, hasCgroups: true },
  };
  validateProfile(out);
  return out;
}

let busy: Promise<Profile> | undefined;
/** busy-host (205,106 samples) with containers; imported once per test file. */
export function busyHostWithContainers(): Promise<Profile> {
  busy ??= importProfile(BUSY_HOST, { threads: 1 }).then((p) => withCgroups(p));
  return busy;
}

export function totalWeight(p: Profile): number {
  let w = 0;
  for (const x of p.samples.weight) w += x;
  return w;
}

/** Per-container (host, id) and per-syscall shares, the numbers a round trip must keep. */
export function sharesOf(a: AnalysisResult): {
  containers: Record<string, number>;
  syscalls: Record<string, number>;
} {
  const containers: Record<string, number> = {};
  for (const c of a.containers) containers[`${c.host}/${c.identity.id}`] = c.share;
  const syscalls: Record<string, number> = {};
  for (const s of a.syscalls) syscalls[s.name] = s.share;
  return { containers, syscalls };
}

export function expectSameShares(
  a: Record<string, number>,
  b: Record<string, number>,
  digits: number,
  expect: (v: unknown) => { toEqual(x: unknown): void; toBeCloseTo(x: number, d: number): void },
): void {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const k of Object.keys(a)) expect(b[k]).toBeCloseTo(a[k], digits);
}

export function analyze(p: Profile): AnalysisResult {
  return analyzeProfile(p, { topSyscalls: 1000 });
}

/** Why `go` cannot be used here, or null. CI installs Debian's golang-go. */
export function goSkipReason(): string | null {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'go is not installed (apt-get install -y golang-go)';
}

/** `go tool pprof ARGS`: its standard output (it prints notes on standard error). */
export function goPprof(args: string[]): string {
  return execFileSync('go', ['tool', 'pprof', ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
