/**
 * /proc/stat, the parts watch samples: the host's CPU time by state (steal, when a hypervisor
 * runs other guests on our CPUs) and the context-switch count since boot.
 */

/** Jiffies (USER_HZ) since boot on all CPUs together, by state; see proc(5). */
export interface HostCpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  /** Sum of the states above (guest time is already inside user and nice). */
  total: number;
}

export interface ProcStat {
  cpu: HostCpuTimes | null;
  /** Context switches since boot (`ctxt`), or null if absent. */
  contextSwitches: number | null;
}

/*
 * /proc/stat (proc(5)), the lines read here:
 *   cpu  11040 0 6030 70928 519 0 120 285 0 0
 *   ctxt 987654321
 */
export function parseProcStat(text: string): ProcStat {
  const ctxt = /^ctxt (\d+)$/m.exec(text);
  const cpuLine = /^cpu\s+([\d ]+)$/m.exec(text);
  let cpu: HostCpuTimes | null = null;
  if (cpuLine) {
    const n = cpuLine[1].trim().split(/\s+/).map(Number);
    if (n.length >= 8 && n.slice(0, 8).every(Number.isFinite)) {
      const [user, nice, system, idle, iowait, irq, softirq, steal] = n;
      const total = user + nice + system + idle + iowait + irq + softirq + steal;
      cpu = { user, nice, system, idle, iowait, irq, softirq, steal, total };
    }
  }
  return { cpu, contextSwitches: ctxt ? Number(ctxt[1]) : null };
}
