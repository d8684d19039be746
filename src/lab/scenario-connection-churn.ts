/**
 * connection-churn: neighbours call their local sidecar over loopback TCP with a new connection
 * for every request (open_upstream_connection: socket, connect, one request, close), so the
 * host's one TCP stack does a handshake, hash-table inserts and removals, socket allocation and
 * softirq work per call: kernel time in a path no signature of the catalogue knows. The victim
 * calls its own sidecar over one persistent loopback connection (send_request) and shares the
 * same TCP stack and CPUs. The fix is the neighbour's: keep the connection (the same requests and
 * bytes over one connection).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { namedContainers, type ScenarioDefinition, standardPhases } from './scenario.ts';

export const churnLoad = {
  /** Requests per second per neighbour: more than it can do, so it churns as fast as it can. */
  neighbourRate: 50_000,
  /** Requests per second of the victim. */
  victimRate: 2000,
  requestBytes: 64,
};

export const connectionChurn: ScenarioDefinition = {
  name: 'connection-churn',
  title: 'a neighbour opening a new loopback TCP connection for every request',
  summary:
    'Neighbours call a local sidecar with a fresh TCP connection per request ' +
    '(open_upstream_connection: connect, request, close), so the shared kernel TCP stack sets up and ' +
    'tears down connections as fast as they can; a service on the same host calling its own sidecar ' +
    'over a kept connection pays in latency. No signature covers it. Fix: keep connections open.',
  defaults: { containers: 2, durationSeconds: 8, runs: 1, warmupSeconds: 0.5 },
  minContainers: 2,
  containers: (count) => namedContainers('api-1', 'churn', count),
  phases: (count) => standardPhases(count),
  prepare(workDir, containers) {
    for (const c of containers) mkdirSync(join(workDir, c.name), { recursive: true });
  },
  workload(req) {
    const victim = req.container.role === 'victim';
    return [
      req.bins.binaries['loopback-rpc'],
      `--connect=${victim || req.variant === 'fixed' ? 'persistent' : 'per-request'}`,
      `--rate=${victim ? churnLoad.victimRate : churnLoad.neighbourRate}`,
      `--request-bytes=${churnLoad.requestBytes}`,
    ];
  },
  groundTruth: (containers) => ({
    victim: containers[0].name,
    antagonists: containers.filter((c) => c.role === 'neighbour').map((c) => c.name),
    syscall: 'connect',
    callSite: 'open_upstream_connection',
    callSiteSymbol: 'open_upstream_connection',
    kernelResource:
      'the host TCP stack: connection setup and teardown (tcp_v4_connect, inet_hash_connect, tcp_close), ' +
      'loopback softirq processing and the CPUs they run on, shared by every container in the network namespace',
    fix: 'keep the connection to the sidecar open (one connection, the same requests)',
  }),
};
