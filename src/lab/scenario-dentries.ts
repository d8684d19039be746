/**
 * negative-dentries: cache-prober neighbours stat() millions of paths that do not exist (a result
 * cache that always misses, with a fresh key each time); every miss leaves a negative dentry in the
 * kernel's dentry cache, host-wide. The victim, a static file server, resolves existing paths; its
 * lookups walk the same dentry hash table. The fix is the neighbour's lookup pattern (a bounded key
 * set: the same number of stat() calls, no growth) or reclaiming the negative dentries.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  namedContainers,
  type ScenarioContainer,
  type ScenarioDefinition,
  standardPhases,
} from './scenario.ts';

export const dentryLoad = {
  /** Probe batches per second per neighbour, 256 stat() calls each. */
  proberRate: 800,
  proberBatch: 256,
  /** Requests per second of the victim, 64 lookups each. */
  victimRate: 1000,
  victimBatch: 64,
  /** The victim's tree: fanout^3 directories, fanout files in each. */
  fanout: 8,
};

/** /proc/sys/fs/dentry-state: nr_dentry nr_unused age_limit want_pages nr_negative dummy (6.x). */
export function readDentryState(path = '/proc/sys/fs/dentry-state'): {
  dentries: number;
  negative: number | null;
} {
  const f = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
  // Before 5.x the fifth field was always 0 ("dummy"); it is nr_negative since.
  return { dentries: f[0], negative: f.length >= 5 ? f[4] : null };
}

function makeSite(dir: string, fanout: number): void {
  const f = Array.from({ length: fanout }, (_, i) => String(i).padStart(2, '0'));
  for (const a of f)
    for (const b of f)
      for (const c of f) {
        const leaf = join(dir, `d${a}`, `d${b}`, `d${c}`);
        mkdirSync(leaf, { recursive: true });
        for (const p of f) writeFileSync(join(leaf, `page-${p}.html`), '<html></html>\n');
      }
}

function resetProbeDir(dir: string): void {
  // Removing the directories also frees the negative dentries under them.
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < 256; i++) mkdirSync(join(dir, i.toString(16).padStart(2, '0')), { recursive: true });
}

function probeDirs(workDir: string, containers: readonly ScenarioContainer[]): string[] {
  return containers.filter((c) => c.role === 'neighbour').map((c) => join(workDir, c.name, 'cache'));
}

export const negativeDentries: ScenarioDefinition = {
  name: 'negative-dentries',
  title: 'a neighbour filling the dentry cache with negative entries',
  summary:
    'Neighbours stat() a fresh non-existent cache path each time (probe_cache_entry), leaving a ' +
    'negative dentry per call in the host-wide dentry cache; a static file server resolving existing ' +
    'paths pays for the longer hash chains. Fix: a bounded key set, or reclaim the dentries.',
  defaults: { containers: 3, durationSeconds: 8, runs: 1, warmupSeconds: 4 },
  minContainers: 2,
  containers: (count) => namedContainers('web-1', 'cache', count),
  phases: (count) => standardPhases(count),
  prepare(workDir, containers) {
    makeSite(join(workDir, containers[0].name, 'site'), dentryLoad.fanout);
    for (const dir of probeDirs(workDir, containers)) resetProbeDir(dir);
  },
  workload(req) {
    if (req.container.role === 'victim')
      return [
        req.bins.binaries['static-server'],
        `--dir=${join(req.containerDir, 'site')}`,
        `--fanout=${dentryLoad.fanout}`,
        `--batch=${dentryLoad.victimBatch}`,
        `--rate=${dentryLoad.victimRate}`,
      ];
    return [
      req.bins.binaries['cache-prober'],
      `--dir=${join(req.containerDir, 'cache')}`,
      `--keys=${req.variant === 'fixed' ? 'bounded' : 'unique'}`,
      `--batch=${dentryLoad.proberBatch}`,
      `--rate=${dentryLoad.proberRate}`,
      `--seed=${req.index}`,
    ];
  },
  groundTruth: (containers) => ({
    victim: containers[0].name,
    antagonists: containers.filter((c) => c.role === 'neighbour').map((c) => c.name),
    syscall: 'newfstatat',
    callSite: 'probe_cache_entry',
    callSiteSymbol: 'probe_cache_entry',
    kernelResource:
      'dentry cache: each miss allocates a negative dentry (d_alloc_parallel, ext4_lookup); millions ' +
      'of them lengthen the dcache hash chains every path lookup on the host walks (__d_lookup_rcu)',
    fix: 'bound the set of probed names (or keep a negative cache in the process); removing the probed directories reclaims the dentries',
  }),
  afterPhase(workDir, containers) {
    for (const dir of probeDirs(workDir, containers)) resetProbeDir(dir);
  },
  readEvidence() {
    const s = readDentryState();
    const out = [{ name: 'dentries (nr_dentry)', unit: 'dentries', value: s.dentries }];
    if (s.negative !== null)
      out.push({ name: 'negative dentries (nr_negative)', unit: 'dentries', value: s.negative });
    return out;
  },
};
