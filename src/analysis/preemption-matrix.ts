/**
 * The victim x culprit matrix of runnable waits (preemption.ts computes it; off-cpu.ts carries it
 * in its summary). Types only, so both can name it without importing each other.
 */
/** What kind of thing held the CPU while a task waited. */
export type CulpritKind = 'foreign' | 'self' | 'kernel' | 'idle' | 'unknown';

export interface PreemptionWait {
  /** Culprit key: a container id, or `kernel`, `idle`, `unknown`. Self waits use the victim's id. */
  culprit: string;
  kind: CulpritKind;
  seconds: number;
}

export interface PreemptionVictim {
  id: string;
  name: string;
  host: string | null;
  /** A container (not the host root, kernel threads or an unknown cgroup). */
  container: boolean;
  /** Task-seconds runnable but not running (after a preemption). */
  runnableSeconds: number;
  /** Task-seconds on a CPU, from the same switches. */
  onCpuSeconds: number;
  /** runnable / (runnable + on-CPU): the share of the time its tasks wanted a CPU spent waiting. */
  runnableShare: number;
  byKind: Record<CulpritKind, number>;
  /** Largest first. */
  waits: PreemptionWait[];
}

export interface PreemptionCulprit {
  /** Container id, or `kernel` / `idle` / `unknown`. */
  id: string;
  name: string;
  host: string | null;
  kind: 'container' | 'kernel' | 'idle' | 'unknown';
  /** A container (not the host root, kernel threads or an unknown cgroup). */
  container: boolean;
  /** Task-seconds it ran on any CPU (0 for idle/unknown). */
  onCpuSeconds: number;
  /** Task-seconds others waited runnable while it held their CPU. */
  causedSeconds: number;
  /** Its processes by time on CPU, top 3. */
  processes: string[];
}

export interface PreemptionMatrix {
  /** Seconds between the first and last switch (the longest host's). */
  windowSeconds: number;
  /** Rows: containers whose tasks waited runnable, most waiting first. */
  victims: PreemptionVictim[];
  /** Columns: everything that held a CPU while a victim waited, most caused first. */
  culprits: PreemptionCulprit[];
  /**
   * Seconds of CPU time whose holder is a guess: the switch before said task A came in, the next
   * said task B went out (a switch between is missing; B is taken). Large values mean switches
   * were lost.
   */
  ambiguousSeconds: number;
}
