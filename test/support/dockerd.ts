/**
 * A private Docker daemon for one test file, as on a host without systemd: its own data root,
 * exec root, pid file and socket under a root-owned temporary directory, the cgroupfs driver,
 * no bridge, no iptables (TOOLCHAIN.md). Started by the test itself, stopped (and its files
 * removed) afterwards; its containerd runs under the exec root and ends with it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiGet } from '../../src/collect/engine-api.ts';

export interface PrivateDockerd {
  /** Environment for the docker CLI and crosstalk: DOCKER_HOST points at the private socket. */
  env: NodeJS.ProcessEnv;
  socket: string;
  stop(): Promise<void>;
}

/** Why no private dockerd can run here, or null. */
export function dockerdUnavailable(): string | null {
  if (process.geteuid?.() !== 0) return 'needs root to run dockerd';
  if (spawnSync('dockerd', ['--version']).status !== 0)
    return 'dockerd is not installed (apt-get install docker.io)';
  if (spawnSync('docker', ['--version']).status !== 0) return 'the docker CLI is not installed';
  return null;
}

/** Starts dockerd and waits for its API to answer; rejects with dockerd's last log lines. */
export async function startDockerd(timeoutMs = 60_000): Promise<PrivateDockerd> {
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-dockerd-'));
  chmodSync(dir, 0o700);
  for (const d of ['data', 'exec']) mkdirSync(join(dir, d));
  const socket = join(dir, 'docker.sock');
  const args = [
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'docker.pid'),
    '-H',
    `unix://${socket}`,
    '--iptables=false',
    '--ip-masq=false',
    '--bridge=none',
    '--storage-driver=overlay2',
    '--exec-opt',
    'native.cgroupdriver=cgroupfs',
    '--containerd-namespace',
    `crosstalk-test-${process.pid}`,
    '--containerd-plugins-namespace',
    `crosstalk-test-${process.pid}-plugins`,
  ];
  let log = '';
  const child: ChildProcess = spawn('dockerd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await apiGet(socket, '/v1.41/_ping', 2000);
    if (r.kind === 'answered' && r.status === 200)
      return { env: { ...process.env, DOCKER_HOST: `unix://${socket}` }, socket, stop };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`dockerd did not start: ${log.trim().split('\n').slice(-3).join(' | ')}`);
}
