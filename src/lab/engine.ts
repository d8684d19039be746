/**
 * Lab containers on a real engine (`lab run --engine docker|podman`): the workloads are packed
 * into an image built offline (`docker import` of a rootfs tarball holding the binaries under
 * /crosstalk/bin and the libraries `ldd` lists; no registry), each container runs with its real
 * name (`ctlab-<run>-<name>`), `--rm`, `--network none`, `--pull never`, and the run's work
 * directory bind-mounted at the same path, so stats and data files are where the lab expects
 * them. The workload is the container's PID 1 and ends on SIGTERM (lab-common.h installs the
 * handler; without one the kernel would ignore SIGTERM for a PID 1).
 *
 * Cleanup is synchronous (it runs from exit hooks and signal handlers): every container labelled
 * with the run is removed with `rm -f`, then the image. The binaries sit at /crosstalk/bin inside
 * the image only, a path the host does not have, so their symbols come back after removal only
 * from the run's build-id cache.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ContainerExit, ContainerLaunch, RunningContainer } from './container.ts';
import type { BuiltWorkloads } from './native-build.ts';

export type EngineName = 'docker' | 'podman';

export class LabEngineError extends Error {
  override name = 'LabEngineError';
}

/** Where the workload binaries live inside the image. */
const IMAGE_BIN = '/crosstalk/bin';
/** Engine commands that must answer quickly (inspect, kill, rm, import), ms. */
const COMMAND_MS = 60_000;

/** podman 4.3 here: crun refuses hybrid cgroups, and root lacks CAP_SYS_RESOURCE for its default ulimits. */
const PODMAN_RUN_ARGS = [
  '--runtime',
  'runc',
  '--ulimit',
  'nofile=20000:20000',
  '--ulimit',
  'nproc=4096:4096',
];

export interface EngineContainerInfo {
  /** Full 64-hex id. */
  id: string;
  pid: number;
  /** The container's cgroup as perf prints it (`/docker/<id>`), from /proc/PID/cgroup. */
  cgroupPath: string;
}

export class LabEngine {
  readonly image: string;
  private readonly prefix: string;
  private readonly label: string;

  constructor(
    readonly engine: EngineName,
    runName: string,
    private readonly workDir: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    const tag = runName.slice(-6);
    this.prefix = `ctlab-${tag}`;
    this.image = `crosstalk-lab:${tag}`;
    this.label = `crosstalk.lab.run=${runName}`;
  }

  /** The engine's name for a lab container (what `docker ps` and the diagnosis show). */
  nameOf(container: string): string {
    return `${this.prefix}-${container}`;
  }

  /** Checks the engine answers, then builds the image from the compiled workloads. */
  buildImage(bins: BuiltWorkloads): void {
    // Rootful podman has no server to ask: `podman version` answering is enough.
    const asked = this.engine === 'docker' ? ['version', '--format', '{{.Server.Version}}'] : ['version'];
    const version = this.run(asked, 15_000);
    if (version.status !== 0)
      throw new LabEngineError(`${this.engine} engine not reachable: ${firstLine(version.stderr)}`);
    const root = join(this.workDir, '.image', 'rootfs');
    mkdirSync(join(root, IMAGE_BIN), { recursive: true });
    const binaries = Object.values(bins.binaries);
    for (const b of binaries) copyFileSync(b, join(root, IMAGE_BIN, basename(b)));
    for (const lib of librariesOf(binaries)) {
      mkdirSync(join(root, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(root, lib));
    }
    const tar = join(this.workDir, '.image', 'rootfs.tar');
    const packed = spawnSync('tar', ['-C', root, '-cf', tar, '.'], { encoding: 'utf8' });
    if (packed.status !== 0) throw new LabEngineError(`tar failed: ${firstLine(packed.stderr)}`);
    const imported = this.run(['import', '--change', `LABEL ${this.label}`, tar, this.image]);
    if (imported.status !== 0)
      throw new LabEngineError(`${this.engine} import failed: ${firstLine(imported.stderr)}`);
  }

  /** `docker run --rm` in the foreground: its exit is the workload's. */
  start(launch: ContainerLaunch, workloadName = launch.name): RunningContainer {
    const [binary, ...args] = launch.argv;
    const runArgs = [
      'run',
      '--rm',
      '--name',
      this.nameOf(workloadName),
      '--label',
      this.label,
      '--hostname',
      workloadName,
      '--network',
      'none',
      '--pull',
      'never',
      '-v',
      `${this.workDir}:${this.workDir}`,
      ...(this.engine === 'podman' ? PODMAN_RUN_ARGS : []),
      this.image,
      `${IMAGE_BIN}/${basename(binary)}`,
      ...args,
    ];
    const child = spawn(this.engine, runArgs, {
      detached: true,
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return { launch, child, exited: exitOf(child) };
  }

  /** Asks the workload (PID 1) to finish; it writes its stats and exits, and `--rm` removes it. */
  stop(workloadName: string): void {
    this.run(['kill', '--signal', 'TERM', this.nameOf(workloadName)], 15_000);
  }

  /** Id, host pid and cgroup of a running container, or null when it is not running. */
  inspect(workloadName: string): EngineContainerInfo | null {
    const r = this.run(['inspect', '--format', '{{.Id}} {{.State.Pid}}', this.nameOf(workloadName)], 15_000);
    const m = /^([0-9a-f]{64}) (\d+)/.exec(r.stdout);
    if (r.status !== 0 || m === null || m[2] === '0') return null;
    const pid = Number(m[2]);
    let cgroupPath = '';
    try {
      const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::'));
      cgroupPath = line?.slice(3) ?? '';
    } catch {
      return null;
    }
    return { id: m[1], pid, cgroupPath };
  }

  /** Removes every container of the run and the image. Synchronous; throws when something stayed. */
  cleanup(): void {
    const listed = this.run(['ps', '-aq', '--no-trunc', '--filter', `label=${this.label}`]);
    const ids = listed.stdout.split('\n').filter((l) => /^[0-9a-f]{12,64}$/.test(l));
    if (ids.length > 0) this.run(['rm', '-f', ...ids]);
    const left = this.run(['ps', '-aq', '--filter', `label=${this.label}`]).stdout.trim();
    const image = this.run(['image', 'rm', '-f', this.image]);
    const stillThere = this.run(['image', 'inspect', this.image]).status === 0;
    if (left !== '' || stillThere) {
      const what = [
        left !== '' ? `containers ${left.split('\n').join(' ')}` : '',
        stillThere ? `image ${this.image}` : '',
      ]
        .filter(Boolean)
        .join(' and ');
      throw new Error(`${this.engine} kept ${what}: ${firstLine(image.stderr)}`);
    }
  }

  private run(args: string[], timeout = COMMAND_MS) {
    return spawnSync(this.engine, args, { encoding: 'utf8', env: this.env, timeout });
  }
}

/** Shared libraries the binaries load, as `ldd` lists them (absolute paths only: no vdso). */
function librariesOf(binaries: string[]): string[] {
  const found = new Set<string>();
  for (const b of binaries) {
    const r = spawnSync('ldd', [b], { encoding: 'utf8' });
    for (const m of r.stdout.matchAll(/(?:=> )?(\/\S+) \(0x[0-9a-f]+\)/g)) found.add(m[1]);
  }
  return [...found];
}

function exitOf(child: ChildProcess): Promise<ContainerExit> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  return new Promise((resolve) => {
    child.on('error', (e) => resolve({ code: null, signal: null, stderr: e.message }));
    child.on('close', (code, signal) => resolve({ code, signal, stderr: stderr.trim() }));
  });
}

function firstLine(text: string | null | undefined): string {
  return (text ?? '').trim().split('\n')[0]?.slice(0, 200) || 'no message';
}
