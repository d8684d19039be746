import { availableParallelism } from 'node:os';
import { makeContainerDirs, namedContainers, type ScenarioDefinition, standardPhases } from './scenario.ts';

export const cpuHogLoad = {
  /** Requests per second of the victim and hash rounds each (about 2 ms on this VM: 0.6 CPU). */
  serverRate: 300,
  serverRounds: 1_000_000,
  /**
   * Busy worker processes per hog without the fix: eight per CPU (a pool sized for a bigger
   * machine). Each is its own session, as daemonised workers are: with autogroup scheduling (on
   * when no cpu controller groups the tasks, as for the lab's cgroups here) the scheduler is fair
   * per session, so busy threads of one process would count as one group, no more than the
   * victim (measured: a 4-thread hog got 1.16 CPU-s in 3 s, the 1-thread victim 1.23). With the
   * fix: one worker.
   */
  workersPerCpu: 8,
};

export const cpuHog: ScenarioDefinition = {
  name: 'cpu-hog',
  title: 'a neighbour with more busy workers than CPUs, in user space',
  summary:
    'A batch neighbour runs eight busy worker processes per CPU, pure user code ' +
    '(spin_hash_rounds, no syscalls); a CPU-bound service (score_request) next to it waits ' +
    'runnable for a CPU. No kernel signature covers it: the context switches show who held the CPU. ' +
    'Fix: fewer busy workers than CPUs (or cpu.weight / cpuset for the service).',
  defaults: { containers: 2, durationSeconds: 4, runs: 1, warmupSeconds: 0.3 },
  minContainers: 2,
  containers: (count) => namedContainers('api-1', 'batch', count),
  phases: (count) => standardPhases(count),
  prepare: makeContainerDirs,
  workload(req) {
    if (req.container.role === 'victim')
      return [
        req.bins.binaries['cpu-server'],
        `--rate=${cpuHogLoad.serverRate}`,
        `--rounds=${cpuHogLoad.serverRounds}`,
      ];
    const workers = req.variant === 'fixed' ? 1 : cpuHogLoad.workersPerCpu * availableParallelism();
    return [req.bins.binaries['cpu-hog'], `--workers=${workers}`];
  },
  groundTruth: (containers) => ({
    victim: containers[0].name,
    antagonists: containers.filter((c) => c.role === 'neighbour').map((c) => c.name),
    syscall: null,
    callSite: null,
    callSiteSymbol: null,
    kernelResource: 'the CPUs themselves: the run queues the busy workers keep full',
    fix: 'one busy worker in the neighbour (fewer than the CPUs), or a higher cpu.weight / own cpuset for the service',
  }),
};
