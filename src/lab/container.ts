/**
 * A lab "container": a workload process tree in its own cgroup v2 and, where the host allows, its
 * own mount, pid and uts namespaces (util-linux unshare). No container engine, no simulation.
 *
 * Launch chain, all in one exec line so nothing runs outside the cgroup:
 *   sh -c 'echo $$ > <cgroup>/cgroup.procs; exec "$@"'        the shell moves itself in, then execs
 *   unshare --mount --pid --uts --fork --mount-proc          forks the namespace's pid 1
 *   <workload> ... --hostname=<container>                    sethostname() in its uts namespace
 * The workload is pid 1 of its pid namespace; its first operation already runs in the cgroup.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { signalTree } from './cgroupfs.ts';

export interface NamespaceSupport {
  enabled: boolean;
  /** Why namespaces are off (one line), when they are. */
  note: string | null;
}

const unshareArgs = ['--mount', '--pid', '--uts', '--fork', '--mount-proc'];

let probe: Promise<NamespaceSupport> | null = null;

/** Tries the exact unshare invocation once per process. */
export function probeNamespaces(): Promise<NamespaceSupport> {
  probe ??= new Promise((resolve) => {
    const child = spawn('unshare', [...unshareArgs, 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', (e) =>
      resolve({
        enabled: false,
        note: `namespaces off: unshare unavailable (${e.message}); containers are cgroups only`,
      }),
    );
    child.on('close', (code) => {
      if (code === 0) resolve({ enabled: true, note: null });
      else {
        const why = err.trim().split('\n')[0] || `exit ${code}`;
        resolve({
          enabled: false,
          note: `namespaces off: unshare not permitted here (${why}); containers are cgroups only`,
        });
      }
    });
  });
  return probe;
}

export interface ContainerLaunch {
  name: string;
  /** Absolute cgroup directory, already created. */
  cgroup: string;
  /** Workload binary and its arguments. */
  argv: string[];
}

export interface ContainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of the workload's stderr, for error messages. */
  stderr: string;
}

export interface RunningContainer {
  launch: ContainerLaunch;
  child: ChildProcess;
  exited: Promise<ContainerExit>;
}

/** Exit code of the shell when it cannot enter the cgroup. */
export const enterFailedCode = 125;
const enterScript = `echo $$ > "$1/cgroup.procs" || exit ${enterFailedCode}; shift; exec "$@"`;

export function startContainer(launch: ContainerLaunch, ns: NamespaceSupport): RunningContainer {
  const inner = ns.enabled
    ? ['unshare', ...unshareArgs, ...launch.argv, `--hostname=${launch.name}`]
    : launch.argv;
  // detached: a terminal's Ctrl-C reaches the lab, which stops the containers in order.
  const child = spawn('sh', ['-c', enterScript, 'crosstalk-lab-enter', launch.cgroup, ...inner], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const exited = new Promise<ContainerExit>((resolve) => {
    child.on('error', (e) => resolve({ code: null, signal: null, stderr: e.message }));
    child.on('close', (code, signal) => resolve({ code, signal, stderr: stderr.trim() }));
  });
  return { launch, child, exited };
}

/** Asks the workloads to finish (they write their stats on SIGTERM); unshare itself ignores it. */
export function stopContainer(c: RunningContainer): void {
  signalTree(c.launch.cgroup, 'SIGTERM');
}
