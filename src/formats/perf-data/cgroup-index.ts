/**
 * Which cgroup a thread's samples were taken in, answered by (tid, time). Almost every thread
 * stays in one cgroup for a whole recording, so the index keeps one cgroup id per tid and no
 * per-sample data. Threads seen in several cgroups (moved with cgroup.procs, or a tid reused by
 * another process) get their (time, cgroup) points from a second pass over the file, compressed
 * into time runs, and are answered by the nearest run: text times from `perf script --ns` go
 * through a decimal string and a double, so they need not equal the sample's u64 exactly.
 */

const MULTI = -1;

interface Runs {
  start: Float64Array;
  end: Float64Array;
  cgroup: Float64Array;
}

export class CgroupIndex {
  /** tid -> cgroup id, or MULTI for threads seen in several cgroups. */
  private readonly byTid = new Map<number, number>();
  private readonly points = new Map<number, { times: number[]; cgroups: number[] }>();
  private readonly runs = new Map<number, Runs>();
  private multi = 0;

  /** First pass: one sample of `tid` in cgroup `id`. */
  observe(tid: number, id: number): void {
    const known = this.byTid.get(tid);
    if (known === undefined) this.byTid.set(tid, id);
    else if (known !== id && known !== MULTI) {
      this.byTid.set(tid, MULTI);
      this.multi++;
    }
  }

  /** Threads that need the second pass. */
  get multiCgroupThreads(): number {
    return this.multi;
  }

  get threads(): number {
    return this.byTid.size;
  }

  isMulti(tid: number): boolean {
    return this.byTid.get(tid) === MULTI;
  }

  /** Second pass: a sample of a multi-cgroup thread. */
  observePoint(tid: number, timeNs: number, id: number): void {
    let p = this.points.get(tid);
    if (p === undefined) {
      p = { times: [], cgroups: [] };
      this.points.set(tid, p);
    }
    p.times.push(timeNs);
    p.cgroups.push(id);
  }

  /** Ends the second pass: sorts each thread's points by time and merges equal neighbours. */
  finishPoints(): void {
    for (const [tid, p] of this.points) this.runs.set(tid, toRuns(p.times, p.cgroups));
    this.points.clear();
  }

  /** The cgroup id of `tid` at `timeNs`; undefined when the thread was never sampled. */
  idOf(tid: number, timeNs: number): number | undefined {
    const id = this.byTid.get(tid);
    if (id !== MULTI) return id;
    const r = this.runs.get(tid);
    if (r === undefined || Number.isNaN(timeNs)) return undefined;
    return nearestRun(r, timeNs);
  }
}

function toRuns(times: number[], cgroups: number[]): Runs {
  const order = Array.from(times.keys()).sort((a, b) => times[a] - times[b]);
  const start: number[] = [];
  const end: number[] = [];
  const cgroup: number[] = [];
  for (const i of order) {
    const n = cgroup.length;
    if (n > 0 && cgroup[n - 1] === cgroups[i]) end[n - 1] = times[i];
    else {
      start.push(times[i]);
      end.push(times[i]);
      cgroup.push(cgroups[i]);
    }
  }
  return { start: Float64Array.from(start), end: Float64Array.from(end), cgroup: Float64Array.from(cgroup) };
}

function nearestRun(r: Runs, t: number): number {
  // Last run starting at or before t.
  let lo = 0;
  let hi = r.start.length - 1;
  let i = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (r.start[mid] <= t) {
      i = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (i === -1) return r.cgroup[0];
  if (t <= r.end[i] || i + 1 === r.start.length) return r.cgroup[i];
  return t - r.end[i] <= r.start[i + 1] - t ? r.cgroup[i] : r.cgroup[i + 1];
}
