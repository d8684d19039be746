// Test "containers": child cgroups of the cgroup v2 hierarchy (and of the v1 cpu hierarchy, where
// this host keeps the cpu controller), each running one workload process. Removed in cleanup().
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupHierarchies, v1MountWith } from '../src/collect/cgroup-fs.ts';

export interface TestContainer {
  name: string;
  /** Path in the v2 hierarchy, as perf prints it. */
  path: string;
  process: ChildProcess;
}

/** A shell loop with no syscalls: pure user-space CPU. */
export const CPU_BOUND = ['sh', '-c', 'while :; do :; done'];
/** One-byte reads and writes: almost all of its time is syscall entry and exit. */
export const SYSCALL_HEAVY = ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1'];

/**
 * Compiles test/fixtures/e2e/NAME.c into `dir` with frame pointers and debug info (so both fp and
 * DWARF unwinding see its functions); returns the binary's path.
 */
export function compileFixture(name: string, dir: string, extraFlags: string[] = []): string {
  const bin = join(dir, name);
  const source = new URL(`./fixtures/e2e/${name}.c`, import.meta.url).pathname;
  execFileSync('cc', ['-O2', '-g', '-fno-omit-frame-pointer', ...extraFlags, '-o', bin, source]);
  return bin;
}

/** Why a test that records the host and compiles workloads cannot run here, or null. */
export function recordSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (perf record -a, cgroup creation)';
  if (spawnSync('perf', ['--version']).status !== 0) return 'perf is not installed';
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler (cc)';
  return null;
}

export class TestCgroups {
  readonly containers: TestContainer[] = [];
  private readonly dirs: string[] = [];

  private constructor(
    readonly v2Mount: string,
    readonly v1CpuMount: string | null,
    readonly root: string,
  ) {}

  /** null when this host has no cgroup v2 hierarchy or we may not write it. */
  static async create(prefix: string): Promise<TestCgroups | null> {
    const h = await cgroupHierarchies();
    if (!h.v2 || process.geteuid?.() !== 0) return null;
    const root = `/${prefix}-${process.pid}-${Date.now().toString(36)}`;
    const t = new TestCgroups(h.v2.mountPoint, v1MountWith(h, 'cpu')?.mountPoint ?? null, root);
    await t.mkdir(join(t.v2Mount, root));
    if (t.v1CpuMount) await t.mkdir(join(t.v1CpuMount, root));
    return t;
  }

  private async mkdir(dir: string): Promise<void> {
    await mkdir(dir);
    this.dirs.push(dir);
  }

  /**
   * Starts `argv` inside a new cgroup `name` (v2, and v1 cpu with an optional CFS quota): the
   * shell moves itself into the cgroups, then execs the workload.
   */
  async start(name: string, argv: string[], cpuQuotaUs?: number): Promise<TestContainer> {
    const path = `${this.root}/${name}`;
    const v2Dir = join(this.v2Mount, path);
    await this.mkdir(v2Dir);
    const procs = [join(v2Dir, 'cgroup.procs')];
    if (this.v1CpuMount) {
      const v1Dir = join(this.v1CpuMount, path);
      await this.mkdir(v1Dir);
      if (cpuQuotaUs !== undefined) await writeFile(join(v1Dir, 'cpu.cfs_quota_us'), String(cpuQuotaUs));
      procs.push(join(v1Dir, 'cgroup.procs'));
    }
    const enter = procs.map((p) => `echo $$ > '${p}'`).join(' && ');
    const child = spawn('sh', ['-c', `${enter} && exec "$@"`, 'sh', ...argv], { stdio: 'ignore' });
    const c = { name, path, process: child };
    this.containers.push(c);
    await waitForPid(join(v2Dir, 'cgroup.procs'), child.pid!);
    return c;
  }

  /** Kills the workloads and removes the cgroups, children first; safe to call twice. */
  async cleanup(): Promise<void> {
    await Promise.all(
      this.containers.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.process.exitCode !== null || c.process.signalCode !== null) return resolve();
            c.process.once('exit', () => resolve());
            c.process.kill('SIGKILL');
          }),
      ),
    );
    this.containers.length = 0;
    // Workloads that fork workers into their own sessions (the lab's cpu-hog) outlive the killed
    // top process: kill everything left in the cgroups the test made (cgroup.kill, else by pid).
    for (const dir of [...this.dirs].reverse()) await killCgroup(dir);
    for (const dir of this.dirs.splice(0).reverse()) {
      for (let i = 0; i < 50; i++) {
        try {
          await rmdir(dir);
          break;
        } catch (e) {
          // EBUSY while the killed process is still being reaped.
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
  }
}

/** SIGKILLs every process in a cgroup this test made; a v1 directory has no cgroup.kill. */
async function killCgroup(dir: string): Promise<void> {
  try {
    await writeFile(join(dir, 'cgroup.kill'), '1');
    return;
  } catch {
    // No cgroup.kill (v1, or a kernel before 5.14): by pid below.
  }
  const pids = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const pid of pids.split('\n').filter((l) => /^\d+$/.test(l))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

async function waitForPid(procs: string, pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const text = await readFile(procs, 'utf8');
    if (text.split('\n').includes(String(pid))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`pid ${pid} did not enter ${procs}`);
}
