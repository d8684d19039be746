/**
 * The syscall latency tracer over one recording window: started beside perf (it attaches in about
 * a second, so it starts before perf is enabled), stopped with it, its maps named and written to
 * the run directory as syscall-latency.json (also when it could not run: the file says why).
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../safety/atomic-file.ts';
import { SYSCALL_LATENCY_FILE, type SyscallLatencyFile } from '../store/syscall-latency-file.ts';
import type { CgroupHierarchies } from './cgroup-fs.ts';
import {
  cgroupPathsById,
  latencyFileOf,
  SyscallLatencyTracer,
  syscallLatencyUnavailable,
  unavailableLatencyFile,
} from './syscall-latency.ts';
import { syscallNames } from './syscall-rates.ts';

/** How long bpftrace may take to compile and attach, ms (about 1.5 s here; slow hosts more). */
const ATTACH_TIMEOUT_MS = 30_000;

export class LatencyRecording {
  private tracer: SyscallLatencyTracer | null = null;
  private file: SyscallLatencyFile | null = null;

  constructor(
    private readonly h: CgroupHierarchies,
    private readonly cpus: number,
    private readonly budget: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get pid(): number | undefined {
    return this.tracer?.pid;
  }

  /** Starts bpftrace and waits until its probes are attached; never throws (the file says why). */
  async start(): Promise<void> {
    const missing = await syscallLatencyUnavailable(this.h, this.env);
    if (missing.bpftrace === null || missing.reason !== '') {
      this.file = unavailableLatencyFile(missing.reason, this.budget);
      return;
    }
    this.tracer = new SyscallLatencyTracer({
      bpftrace: missing.bpftrace,
      cpus: this.cpus,
      maxCallsPerCpuSecond: this.budget,
      env: this.env,
    });
    try {
      await this.tracer.attached(ATTACH_TIMEOUT_MS);
    } catch (e) {
      this.tracer.kill();
      await this.tracer.exited;
      this.tracer = null;
      this.file = { ...unavailableLatencyFile((e as Error).message, this.budget), status: 'failed' };
    }
  }

  /** Stops the tracer (it prints its maps) and builds the file. */
  async stop(): Promise<SyscallLatencyFile> {
    if (this.file !== null) return this.file;
    if (this.tracer === null) return unavailableLatencyFile('the tracer was not started', this.budget);
    this.tracer.stop();
    const r = await this.tracer.exited;
    const [names, paths] = await Promise.all([syscallNames(), cgroupPathsById(this.h)]);
    this.file = latencyFileOf(r, this.budget, names.nameOf, (id) => paths.get(id) ?? null);
    return this.file;
  }

  kill(): void {
    this.tracer?.kill();
  }

  /** Writes syscall-latency.json into the run directory. */
  async write(dir: string): Promise<void> {
    const file = this.file ?? (await this.stop());
    await writeFileAtomic(join(dir, SYSCALL_LATENCY_FILE), `${JSON.stringify(file)}\n`);
  }
}
