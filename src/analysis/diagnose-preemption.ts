/**
 * CPU noisy neighbours from context switches: findings of the `runqueue-contention` signature
 * built on the victim x culprit matrix (preemption.ts), so they need no counters: a plain
 * perf.data with sched_switch is enough. cpu.pressure and cpu.stat, when the run has them, are
 * added as evidence; /proc/stat steal says when the neighbour is outside this kernel.
 */
import type { Signature } from '../signatures/catalog.ts';
import type { CounterSet } from './counters.ts';
import type { Evidence, Finding, Severity, Victim } from './findings.ts';
import { waitedFor } from './preemption.ts';
import type { PreemptionCulprit, PreemptionMatrix, PreemptionVictim } from './preemption-matrix.ts';

/**
 * A culprit harms a victim when the victim's tasks waited runnable while it held their CPU for at
 * least a tenth of the time they wanted a CPU (runnable + running): the same 10% PSI 'some' floor
 * the counter rule uses; 30% is critical, as there.
 */
const MIN_SHARE = 0.1;
const CRITICAL_SHARE = 0.3;
/**
 * ...and for at least 20 ms per second of recording: a shell command that waited 3 ms of its 5 ms
 * life has a large share and harms nobody.
 */
const MIN_WAIT_PER_SECOND = 0.02;
/**
 * Per task, a fair scheduler makes every runnable task wait for every other on its CPU: a hog's
 * threads wait behind the victim's about as long (as a share of their wanted time) as the victim
 * waits behind them. What makes one container the neighbour is that it takes more of the CPUs. So
 * each direction's share is weighted by the CPU time its culprit took, and the culprit is named
 * only when its weighted harm is at least twice the victim's in return; below that both wait for
 * each other (plain sharing) and neither is named.
 */
const DOMINANCE = 2;
/** Hypervisor steal above 5% of this VM's CPU time is worth saying; 20% is critical. */
const MIN_STEAL = 0.05;
const CRITICAL_STEAL = 0.2;
/** Runnable share up by 5 points of wanted CPU time against the baseline counts as growth. */
const GREW = 0.05;
/** cpu.pressure 'some' from 5% corroborates the switches (the victim reason diagnose uses). */
const PRESSURE_CORROBORATES = 0.05;

export const STEAL_METRIC = 'host.cpu.steal';

interface Harm {
  victim: PreemptionVictim;
  culprit: PreemptionCulprit;
  seconds: number;
  share: number;
}

/** Findings from the matrix: one per foreign culprit, per oversubscribed container, per shared pair. */
export function preemptionFindings(
  m: PreemptionMatrix,
  signature: Signature | undefined,
  counters: CounterSet | undefined,
  baseline?: PreemptionBaseline,
): Finding[] {
  if (!signature || !(m.windowSeconds > 0)) return [];
  const withBaseline = (fs: Finding[]) => (baseline ? fs.map((f) => addBaselines(f, m, baseline)) : fs);
  const harms = harmsOf(m);
  const dominant = harms.filter((h) => weighted(h) >= DOMINANCE * reverseWeighted(m, h));
  // Neither side dominates: plain sharing. (A pair whose reverse dominates is reported that way.)
  const mutual = harms.filter(
    (h) =>
      !dominant.includes(h) &&
      !dominant.some((x) => x.victim.id === h.culprit.id && x.culprit.id === h.victim.id),
  );
  const out: Finding[] = [];
  const byCulprit = new Map<PreemptionCulprit, Harm[]>();
  for (const h of dominant) byCulprit.set(h.culprit, [...(byCulprit.get(h.culprit) ?? []), h]);
  for (const [culprit, hs] of byCulprit) out.push(neighbourFinding(m, signature, culprit, hs, counters));
  for (const h of mutual) {
    // A pair is reported once, from the side that waited more.
    const other = harms.find((x) => x.victim.id === h.culprit.id && x.culprit.id === h.victim.id);
    if (other && (other.share > h.share || (other.share === h.share && other.victim.id < h.victim.id)))
      continue;
    out.push(sharedFinding(m, signature, h, counters));
  }
  for (const v of m.victims) {
    const self = selfFinding(m, signature, v);
    if (self) out.push(self);
  }
  return withBaseline(out);
}

/** The healthy run's matrix, and which of its containers is which container of this run. */
export interface PreemptionBaseline {
  matrix: PreemptionMatrix;
  baselineOf: (targetId: string) => string;
}

/** Each victim's runnable share in the baseline, next to today's: what changed. */
function addBaselines(f: Finding, m: PreemptionMatrix, b: PreemptionBaseline): Finding {
  const shareOf = (id: string) => {
    const v = b.matrix.victims.find((x) => x.id === b.baselineOf(id));
    return v ? v.runnableShare : 0;
  };
  const evidence = f.evidence.map((e) =>
    e.container !== null &&
    e.metric.startsWith('runnable share of ') &&
    m.victims.some((v) => v.id === e.container)
      ? { ...e, baseline: shareOf(e.container) }
      : e,
  );
  // A victim's runnable share grew by at least GREW of its wanted time: the harm is new.
  const grew = evidence.some((e) => e.baseline !== null && e.value - e.baseline >= GREW);
  return { ...f, evidence, basis: grew ? [...f.basis, 'growth-vs-baseline'] : f.basis };
}

/** Container victims and what held their CPU, over both thresholds. */
function harmsOf(m: PreemptionMatrix): Harm[] {
  const culprits = new Map(m.culprits.map((c) => [`${c.host ?? ''}\u0000${c.id}`, c]));
  const out: Harm[] = [];
  for (const v of m.victims) {
    if (!isUnit(v)) continue;
    for (const w of v.waits) {
      if (w.kind !== 'foreign' && w.kind !== 'kernel') continue;
      const culprit = culprits.get(`${v.host ?? ''}\u0000${w.culprit}`);
      const { share } = waitedFor(m, v.id, w.culprit, v.host);
      if (culprit && share >= MIN_SHARE && w.seconds >= MIN_WAIT_PER_SECOND * m.windowSeconds)
        out.push({ victim: v, culprit, seconds: w.seconds, share });
    }
  }
  return out;
}

/** Containers, or processes in input without cgroups: what a finding may name. */
const isUnit = (x: { id: string; container: boolean }) => x.container || x.id.startsWith('process:');

/** The victim's waiting share behind the culprit, times the CPU-seconds the culprit took. */
const weighted = (h: Harm) => h.share * h.culprit.onCpuSeconds;

/** The same in return: how much the victim made the culprit wait, times the victim's CPU-seconds. */
function reverseWeighted(m: PreemptionMatrix, h: Harm): number {
  return waitedFor(m, h.culprit.id, h.victim.id, h.victim.host).share * h.victim.onCpuSeconds;
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
const severityOf = (share: number): Severity => (share >= CRITICAL_SHARE ? 'critical' : 'warning');

function neighbourFinding(
  m: PreemptionMatrix,
  s: Signature,
  culprit: PreemptionCulprit,
  hs: Harm[],
  counters: CounterSet | undefined,
): Finding {
  hs.sort((a, b) => b.share - a.share);
  const names = hs.map((h) => h.victim.name).join(', ');
  const shares = hs.map((h) => `${h.victim.name} ${pct(h.share)}`).join(', ');
  const who =
    culprit.kind === 'kernel'
      ? `kernel threads (${culprit.processes.join(', ')})`
      : isUnit(culprit)
        ? culprit.name
        : `processes outside any container (${culprit.processes.join(', ') || culprit.name})`;
  const evidence = hs.flatMap((h) => victimEvidence(h.victim, counters, [h]));
  evidence.push(...culpritEvidence(m, culprit), ...stealEvidence(counters));
  const victims = hs.map((h) => victimOf(h.victim, ['preemption'], counters));
  const pressure = victims.some((v) => v.reasons.includes('pressure'));
  return {
    signature: s.id,
    kind: 'signature',
    // The switches show the waits directly; pressure counters or a large share make it certain.
    confidence: pressure || hs[0].share >= CRITICAL_SHARE ? 'high' : 'medium',
    basis: pressure ? ['preemption', 'pressure'] : ['preemption'],
    title: `CPU noisy neighbour: ${who} held the CPUs while others waited runnable (share of their wanted CPU time: ${shares})`,
    severity: severityOf(hs[0].share),
    impact: hs[0].share,
    antagonist:
      culprit.container && culprit.kind === 'container'
        ? { container: culprit.id, name: culprit.name, process: culprit.processes[0] ?? null }
        : null,
    victims,
    sharedStorm: false,
    syscall: null,
    callSite: null,
    callSiteNote: 'preemption by a neighbour: CPU time, not a call site',
    kernelPath: [],
    resource: s.resource,
    evidence,
    fix: fixFor(culprit, names),
    references: s.references,
  };
}

function fixFor(culprit: PreemptionCulprit, victims: string): string {
  if (culprit.kind === 'kernel')
    return 'Kernel threads took the CPUs: fix what drives that kernel work (softirqs: spread interrupts and RPS over other CPUs; kworkers: the writeback or reclaim behind them), or keep the latency-sensitive containers on CPUs where it does not run (cpuset).';
  if (!isUnit(culprit))
    return `Processes outside any container took the CPUs: run them in a cgroup with a lower cpu.weight (or a cpu.max limit), move them off the host, or give ${victims} a cpuset of their own.`;
  return `Give ${victims} CPU time not shared with ${culprit.name}: a higher cpu.weight for ${victims} (or a lower one for ${culprit.name}), separate cpusets, or a cpu.max limit or fewer busy threads for ${culprit.name}.`;
}

function sharedFinding(
  m: PreemptionMatrix,
  s: Signature,
  h: Harm,
  counters: CounterSet | undefined,
): Finding {
  const back = waitedFor(m, h.culprit.id, h.victim.id, h.victim.host);
  const other = m.victims.find((v) => v.id === h.culprit.id && v.host === h.victim.host);
  const victims = [victimOf(h.victim, ['preemption', 'shared-storm'], counters)];
  if (other && isUnit(other)) victims.push(victimOf(other, ['preemption', 'shared-storm'], counters));
  return {
    signature: s.id,
    kind: 'signature',
    confidence: 'medium',
    basis: ['preemption'],
    title: `CPUs shared without a winner: ${h.victim.name} waited ${pct(h.share)} of its wanted CPU time for ${h.culprit.name}, which waited ${pct(back.share)} of its own for ${h.victim.name}`,
    severity: 'warning',
    impact: h.share,
    antagonist: null,
    victims,
    sharedStorm: true,
    syscall: null,
    callSite: null,
    callSiteNote: 'preemption: CPU time, not a call site',
    kernelPath: [],
    resource: s.resource,
    evidence: [...victimEvidence(h.victim, counters, [h]), ...stealEvidence(counters)],
    fix: `Both want more CPU than the host has: give the one whose latency matters a higher cpu.weight or its own cpuset, or add CPUs.`,
    references: s.references,
  };
}

/** A container whose tasks waited mostly for each other: not a neighbour, its own thread count. */
function selfFinding(m: PreemptionMatrix, s: Signature, v: PreemptionVictim): Finding | null {
  const wanted = v.runnableSeconds + v.onCpuSeconds;
  const share = wanted > 0 ? v.byKind.self / wanted : 0;
  if (!isUnit(v) || share < MIN_SHARE || v.byKind.self < v.byKind.foreign) return null;
  if (v.byKind.self < MIN_WAIT_PER_SECOND * m.windowSeconds) return null;
  return {
    signature: s.id,
    kind: 'signature',
    confidence: 'high',
    basis: ['preemption'],
    title: `${v.name}'s own threads exceed its CPUs: they waited ${pct(share)} of their wanted CPU time for each other`,
    severity: 'info',
    impact: share,
    antagonist: null,
    victims: [{ container: v.id, name: v.name, reasons: ['self-preemption'] }],
    sharedStorm: false,
    syscall: null,
    callSite: null,
    callSiteNote: 'preemption within one container: CPU time, not a call site',
    kernelPath: [],
    resource: s.resource,
    evidence: victimEvidence(v, undefined, []),
    fix: `Your own threads exceed your CPUs: size ${v.name}'s busy thread pools to the CPUs it may use, or give it more CPUs; its neighbours are not the cause.`,
    references: s.references,
  };
}

function victimOf(v: PreemptionVictim, reasons: string[], counters: CounterSet | undefined): Victim {
  const psi = counters?.byContainer.get(v.id)?.get('cgroup.cpu.pressure.some') ?? 0;
  return {
    container: v.id,
    name: v.name,
    reasons: psi >= PRESSURE_CORROBORATES ? [...reasons, 'pressure'] : reasons,
  };
}

function victimEvidence(v: PreemptionVictim, counters: CounterSet | undefined, hs: Harm[]): Evidence[] {
  const row = (metric: string, value: number, unit: Evidence['unit']): Evidence => ({
    metric,
    value,
    unit,
    baseline: null,
    container: v.id,
  });
  const r = v.runnableSeconds || 1;
  const ev = [
    row(`runnable share of ${v.name}'s wanted CPU time (runnable + running)`, v.runnableShare, 'fraction'),
    ...hs.map((h) =>
      row(`of ${v.name}'s wanted CPU time, waiting while ${h.culprit.name} ran`, h.share, 'fraction'),
    ),
    row(`of ${v.name}'s runnable time: foreign`, v.byKind.foreign / r, 'fraction'),
    row(`of ${v.name}'s runnable time: self (its own threads)`, v.byKind.self / r, 'fraction'),
    row(`of ${v.name}'s runnable time: kernel threads`, v.byKind.kernel / r, 'fraction'),
  ];
  const c = counters?.byContainer.get(v.id);
  const psi = c?.get('cgroup.cpu.pressure.some');
  if (psi !== undefined) ev.push(row(`cgroup.cpu.pressure.some, ${v.name}`, psi, 'fraction'));
  const throttled = c?.get('cgroup.cpu.throttled.ratio');
  // Throttling is the container's own limit (cfs-throttling), shown so it is not read as a neighbour.
  if (throttled !== undefined && throttled > 0)
    ev.push(row(`cgroup.cpu.throttled.ratio, ${v.name} (its own limit)`, throttled, 'fraction'));
  return ev;
}

function culpritEvidence(m: PreemptionMatrix, c: PreemptionCulprit): Evidence[] {
  if (c.onCpuSeconds <= 0) return [];
  return [
    {
      metric: `CPUs busy with ${c.name} (on-CPU seconds per second)`,
      value: c.onCpuSeconds / m.windowSeconds,
      unit: 'count',
      baseline: null,
      container: c.container ? c.id : null,
    },
  ];
}

function stealEvidence(counters: CounterSet | undefined): Evidence[] {
  const steal = counters?.host.get(STEAL_METRIC);
  if (steal === undefined || steal <= 0) return [];
  return [
    {
      metric: 'hypervisor steal, share of CPU time (/proc/stat)',
      value: steal,
      unit: 'fraction',
      baseline: null,
      container: null,
    },
  ];
}

/**
 * Hypervisor steal: the vCPUs were runnable but the hypervisor ran something else. No task of this
 * kernel is the culprit; the neighbour is another VM.
 */
export function stealFinding(counters: CounterSet | undefined, m: PreemptionMatrix | null): Finding | null {
  const steal = counters?.host.get(STEAL_METRIC);
  if (steal === undefined || steal < MIN_STEAL) return null;
  const waited = m ? m.victims.filter((v) => v.container).reduce((a, v) => a + v.runnableSeconds, 0) : 0;
  return {
    signature: null,
    kind: 'generic',
    // A kernel counter, like PSI: the closest basis there is.
    confidence: steal >= CRITICAL_STEAL ? 'high' : 'medium',
    basis: ['pressure'],
    title: `Hypervisor steal: ${pct(steal)} of this machine's CPU time went to other guests; the neighbour is outside this kernel`,
    severity: steal >= CRITICAL_STEAL ? 'critical' : 'warning',
    impact: steal,
    antagonist: null,
    victims: [],
    sharedStorm: false,
    syscall: null,
    callSite: null,
    callSiteNote: 'steal time: the hypervisor, not a call site',
    kernelPath: [],
    resource: "the host's physical CPUs, shared with other virtual machines",
    evidence: [
      ...stealEvidence(counters),
      ...(m
        ? [
            {
              metric: 'runnable seconds per second, all containers',
              value: waited / m.windowSeconds,
              unit: 'fraction' as const,
              baseline: null,
              container: null,
            },
          ]
        : []),
    ],
    fix: 'The waits are partly time the hypervisor gave to other virtual machines: no container here can fix it. Ask for dedicated vCPUs (a larger or non-burstable instance type), or move the workload.',
    references: ['https://www.kernel.org/doc/html/latest/filesystems/proc.html'],
  };
}
