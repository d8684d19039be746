/**
 * Who ran on a task's CPU while it waited runnable: the victim x culprit matrix of CPU noisy
 * neighbours, from context switches alone. A task switched out with prev_state R (preempted: its
 * time slice ran out, or a woken task was preferred) waits on that CPU's run queue until it is
 * switched in again. Each CPU's switches give what ran on it at every instant, so the wait splits
 * into seconds of each culprit: another container (foreign), the task's own container (self),
 * kernel threads (ksoftirqd, kworkers), the idle task (the CPU went idle: the task moved to
 * another CPU's queue, or its cgroup was throttled), or unknown (before the CPU's first switch).
 *
 * Waits that begin with a wake-up (sleeping -> runnable) need sched_wakeup, which is not
 * recorded: they are not counted here (cpu.pressure counts them when the run has it).
 */
import type { Profile, SwitchTable } from '../model/profile.ts';
import { SwitchState } from '../model/profile.ts';
import type { StringIndex } from '../model/strings.ts';
import { type ContainerIdentity, isContainer } from './containers.ts';
import { type PreemptionMatrix as BlameMatrix, KERNEL_CULPRIT } from './findings.ts';
import { isKernelThreadComm } from './kernel-entry.ts';
import { forEachOffCpuInterval, switchRowsByHost } from './off-cpu.ts';
import type {
  CulpritKind,
  PreemptionCulprit,
  PreemptionMatrix,
  PreemptionVictim,
  PreemptionWait,
} from './preemption-matrix.ts';
import { containerKey } from './sample-labels.ts';

/** One CPU's timeline: segment k is [start[k], end[k]) with task tid[k] on the CPU. */
interface CpuTimeline {
  start: number[];
  end: number[];
  tid: number[];
}

interface Cell {
  seconds: number;
  kind: CulpritKind;
}

interface Acc {
  identity: { id: string; name: string };
  container: boolean;
  host: string;
  runnable: number;
  onCpu: number;
  waits: Map<string, Cell>;
  /** comm -> seconds on CPU, for the culprit column's processes. */
  comms: Map<string, number>;
}

/**
 * The victim x culprit matrix of runnable seconds, or null without context switches. Pure: the
 * switches, their cgroups and the samples' tid -> cgroup map decide everything.
 */
export function preemptionMatrix(
  p: Profile,
  identityOf: (host: StringIndex, cgroup: StringIndex) => ContainerIdentity,
): PreemptionMatrix | null {
  const sw = p.switches;
  if (!sw || sw.length === 0) return null;
  const acc = new Map<string, Acc>();
  const keys = new Map<string, { host: string; id: string }>();
  let window = 0;
  let ambiguous = 0;
  for (const [host, rows] of switchRowsByHost(sw)) {
    const hostName = p.strings[host];
    window = Math.max(window, (sw.timeNs[rows[rows.length - 1]] - sw.timeNs[rows[0]]) / 1e9);
    const tasks = tasksOf(p, host);
    const { timelines, ambiguousNs } = cpuTimelines(sw, rows);
    ambiguous += ambiguousNs / 1e9;
    const holder = holderOf(p, hostName, tasks, (cgroup) => identityOf(host, cgroup), acc, keys);
    for (const t of timelines.values()) {
      for (let k = 0; k < t.tid.length; k++) holder.ran(t.tid[k], (t.end[k] - t.start[k]) / 1e9);
    }
    forEachOffCpuInterval(sw, rows, (out, into, until) => {
      if (sw.prevState[out] !== SwitchState.runnable || !(until > sw.timeNs[out])) return;
      const victim = holder.accOf(sw.prevTid[out], sw.cgroup[out]);
      victim.runnable += (until - sw.timeNs[out]) / 1e9;
      const cpus = [sw.cpu[out], into >= 0 ? sw.cpu[into] : sw.cpu[out]];
      for (const [tid, ns] of holdersDuring(timelines, cpus, sw.timeNs[out], until)) {
        const c = holder.classify(tid, victim);
        const cell = victim.waits.get(c.key);
        if (cell) cell.seconds += ns / 1e9;
        else victim.waits.set(c.key, { seconds: ns / 1e9, kind: c.kind });
      }
    });
  }
  return summarize(acc, keys, window, ambiguous);
}

interface Task {
  cgroup: number;
  comm: number;
  pid: number;
}

/** tid -> (cgroup, comm, pid) from the switches' switch-outs and the samples of one host. */
function tasksOf(p: Profile, host: number): Map<number, Task> {
  const out = new Map<number, Task>();
  const s = p.samples;
  for (let i = 0; i < s.length; i++) {
    if (s.host[i] === host && s.tid[i] > 0)
      out.set(s.tid[i], { cgroup: s.cgroup[i], comm: s.comm[i], pid: s.pid[i] });
  }
  const sw = p.switches;
  if (sw) {
    for (let i = 0; i < sw.length; i++) {
      if (sw.host[i] === host && sw.prevTid[i] > 0)
        out.set(sw.prevTid[i], { cgroup: sw.cgroup[i], comm: sw.comm[i], pid: sw.prevPid[i] });
    }
  }
  return out;
}

/**
 * What ran on each CPU between its switches. The task that switched out at a switch is what ran
 * up to it; when it differs from what the previous switch switched in, a switch between is missing
 * (idle task switches are not always recorded) and the later, known holder is taken.
 */
function cpuTimelines(
  sw: SwitchTable,
  rows: number[],
): { timelines: Map<number, CpuTimeline>; ambiguousNs: number } {
  const timelines = new Map<number, CpuTimeline>();
  const last = new Map<number, { t: number; next: number }>();
  let ambiguousNs = 0;
  for (const i of rows) {
    const cpu = sw.cpu[i];
    const prev = last.get(cpu);
    if (prev !== undefined && sw.timeNs[i] > prev.t) {
      let t = timelines.get(cpu);
      if (!t) {
        t = { start: [], end: [], tid: [] };
        timelines.set(cpu, t);
      }
      t.start.push(prev.t);
      t.end.push(sw.timeNs[i]);
      t.tid.push(sw.prevTid[i]);
      if (prev.next !== sw.prevTid[i]) ambiguousNs += sw.timeNs[i] - prev.t;
    }
    last.set(cpu, { t: sw.timeNs[i], next: sw.nextTid[i] });
  }
  return { timelines, ambiguousNs };
}

/**
 * Nanoseconds of each holder of `cpus[0]` (the CPU whose queue the task joined) over [from, to).
 * Where that CPU was idle and the task came back in on another CPU, it had moved there: that
 * CPU's holders count for the piece. Time outside every recorded segment is tid -1 (unknown).
 */
function holdersDuring(
  timelines: Map<number, CpuTimeline>,
  cpus: number[],
  from: number,
  to: number,
): Map<number, number> {
  const out = new Map<number, number>();
  const add = (tid: number, ns: number) => {
    if (ns > 0) out.set(tid, (out.get(tid) ?? 0) + ns);
  };
  const walk = (cpu: number, a: number, b: number, onIdle: (a: number, b: number) => void) => {
    const t = timelines.get(cpu);
    let covered = a;
    if (t) {
      for (let k = firstEndingAfter(t.end, a); k < t.start.length && t.start[k] < b; k++) {
        const s = Math.max(a, t.start[k]);
        const e = Math.min(b, t.end[k]);
        add(-1, s - covered);
        if (t.tid[k] === 0) onIdle(s, e);
        else add(t.tid[k], e - s);
        covered = e;
      }
    }
    add(-1, b - covered);
  };
  const [queued, ranOn] = cpus;
  walk(queued, from, to, (a, b) =>
    ranOn === queued ? add(0, b - a) : walk(ranOn, a, b, (x, y) => add(0, y - x)),
  );
  return out;
}

function firstEndingAfter(end: number[], t: number): number {
  let lo = 0;
  let hi = end.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (end[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Container accounting of one host's tasks: who a tid is, what it ran, how it is classified. */
function holderOf(
  p: Profile,
  host: string,
  tasks: Map<number, Task>,
  containerOf: (cgroup: number) => ContainerIdentity,
  acc: Map<string, Acc>,
  keys: Map<string, { host: string; id: string }>,
) {
  /** The matrix's key of a row or column: containerKey, as every per-container map. */
  const keyOf = (hostName: string, id: string) => {
    const key = containerKey(hostName, id);
    keys.set(key, { host: hostName, id });
    return key;
  };
  /**
   * Input without cgroups (perf script text): the process is the unit instead, so the matrix
   * still says who waited for whom (`process:<pid>`; not a container).
   */
  const unitOf = (tid: number, cgroup: number): { id: string; name: string; container: boolean } => {
    const identity = containerOf(cgroup);
    const t = tasks.get(tid);
    if (identity.runtime !== 'unknown' || t === undefined) {
      return { id: identity.id, name: identity.name, container: isContainer(identity) };
    }
    // Without pids (perf script -F without pid) the thread stands for its process.
    const pid = t.pid > 0 ? t.pid : tid;
    return { id: `process:${pid}`, name: `${p.strings[t.comm]}[${pid}]`, container: false };
  };
  const kernelTid = (tid: number) => {
    const t = tasks.get(tid);
    return (
      t !== undefined && containerOf(t.cgroup).runtime === 'host' && isKernelThreadComm(p.strings[t.comm])
    );
  };
  const accOf = (tid: number, cgroup: number): Acc => {
    const kernel = kernelTid(tid);
    const identity = kernel
      ? { id: 'kernel', name: 'kernel threads', container: false }
      : unitOf(tid, cgroup);
    const key = keyOf(host, identity.id);
    let a = acc.get(key);
    if (!a) {
      a = {
        identity: { id: identity.id, name: identity.name },
        container: identity.container,
        host,
        runnable: 0,
        onCpu: 0,
        waits: new Map(),
        comms: new Map(),
      };
      acc.set(key, a);
    }
    return a;
  };
  return {
    accOf,
    ran(tid: number, seconds: number) {
      const t = tasks.get(tid);
      if (tid <= 0 || t === undefined) return;
      const a = accOf(tid, t.cgroup);
      a.onCpu += seconds;
      const comm = p.strings[t.comm];
      a.comms.set(comm, (a.comms.get(comm) ?? 0) + seconds);
    },
    classify(tid: number, victim: Acc): { key: string; kind: CulpritKind } {
      if (tid === 0) return { key: keyOf(host, 'idle'), kind: 'idle' };
      const t = tasks.get(tid);
      if (tid < 0 || t === undefined) return { key: keyOf(host, 'unknown'), kind: 'unknown' };
      const holder = accOf(tid, t.cgroup);
      if (holder === victim) return { key: keyOf(host, victim.identity.id), kind: 'self' };
      if (holder.identity.id === 'kernel') return { key: keyOf(host, 'kernel'), kind: 'kernel' };
      return { key: keyOf(host, holder.identity.id), kind: 'foreign' };
    },
  };
}

function summarize(
  acc: Map<string, Acc>,
  keys: Map<string, { host: string; id: string }>,
  windowSeconds: number,
  ambiguousSeconds: number,
): PreemptionMatrix {
  const bareId = (key: string) => keys.get(key)?.id ?? key;
  const hostOf = (key: string) => keys.get(key)?.host || null;
  const caused = new Map<string, number>();
  const victims: PreemptionVictim[] = [];
  for (const a of acc.values()) {
    if (a.runnable <= 0) continue;
    const byKind: Record<CulpritKind, number> = { foreign: 0, self: 0, kernel: 0, idle: 0, unknown: 0 };
    const waits: PreemptionWait[] = [];
    for (const [key, cell] of a.waits) {
      byKind[cell.kind] += cell.seconds;
      caused.set(key, (caused.get(key) ?? 0) + cell.seconds);
      waits.push({ culprit: bareId(key), kind: cell.kind, seconds: cell.seconds });
    }
    const wanted = a.runnable + a.onCpu;
    victims.push({
      id: a.identity.id,
      name: a.identity.name,
      host: a.host === '' ? null : a.host,
      container: a.container,
      runnableSeconds: a.runnable,
      onCpuSeconds: a.onCpu,
      runnableShare: wanted > 0 ? a.runnable / wanted : 0,
      byKind,
      waits: waits.sort((x, y) => y.seconds - x.seconds),
    });
  }
  const culprits: PreemptionCulprit[] = [...caused].map(([key, seconds]) => {
    const a = acc.get(key);
    const id = bareId(key);
    return {
      id,
      name: a?.identity.name ?? (id === 'idle' ? 'idle (CPU idle)' : 'unknown'),
      host: hostOf(key),
      kind: id === 'kernel' || id === 'idle' || id === 'unknown' ? id : 'container',
      container: a?.container ?? false,
      onCpuSeconds: a?.onCpu ?? 0,
      causedSeconds: seconds,
      processes: a
        ? [...a.comms]
            .sort((x, y) => y[1] - x[1])
            .slice(0, 3)
            .map(([c]) => c)
        : [],
    };
  });
  return {
    windowSeconds,
    victims: victims.sort((x, y) => y.runnableSeconds - x.runnableSeconds),
    culprits: culprits.sort((x, y) => y.causedSeconds - x.causedSeconds),
    ambiguousSeconds,
  };
}

/**
 * For blame code: seconds the victim's tasks waited runnable while `culprit` held their CPU, and
 * that as a share of the victim's wanted CPU time (runnable + on-CPU). 0 when the matrix has no
 * such cell. Ids as the matrix keys them (container id, `kernel`, `idle`, `unknown`); `host` for
 * a multi-host profile.
 */
export function waitedFor(
  m: PreemptionMatrix,
  victim: string,
  culprit: string,
  host: string | null = null,
): { seconds: number; share: number } {
  const v = m.victims.find((x) => x.id === victim && x.host === host);
  const seconds = v?.waits.find((w) => w.culprit === culprit)?.seconds ?? 0;
  const wanted = v ? v.runnableSeconds + v.onCpuSeconds : 0;
  return { seconds, share: wanted > 0 ? seconds / wanted : 0 };
}

/**
 * The matrix in the shape generic-finding blame reads (findings.ts BlameMatrix): victim key ->
 * culprit key -> seconds, kernel threads as KERNEL_CULPRIT; idle and unknown left out.
 */
export function blameMatrixOf(m: PreemptionMatrix | null): BlameMatrix | null {
  if (m === null) return null;
  const waits = new Map<string, Map<string, number>>();
  for (const v of m.victims) {
    const row = new Map<string, number>();
    for (const w of v.waits) {
      if (w.kind === 'idle' || w.kind === 'unknown') continue;
      const culprit = w.kind === 'kernel' ? KERNEL_CULPRIT : containerKey(v.host ?? '', w.culprit);
      row.set(culprit, (row.get(culprit) ?? 0) + w.seconds);
    }
    const victim = v.id === 'kernel' ? KERNEL_CULPRIT : containerKey(v.host ?? '', v.id);
    waits.set(victim, row);
  }
  return { windowSeconds: m.windowSeconds, waits };
}
