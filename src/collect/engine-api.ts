/**
 * One GET to a container engine's HTTP API over its unix socket (Docker Engine API v1.41, podman's
 * libpod API), with a deadline for the whole answer and a cap on its size. Never throws.
 *
 * Sockets: Docker `$DOCKER_HOST` when it is `unix://PATH`, else /var/run/docker.sock; podman
 * `$CONTAINER_HOST` when `unix://PATH`, else /run/podman/podman.sock (rootful). A socket that does
 * not exist means the engine is not running here.
 */

import { lstatSync } from 'node:fs';
import { request } from 'node:http';

export type ApiResult =
  | { kind: 'no-socket' }
  | { kind: 'timeout' }
  | { kind: 'failed'; reason: string }
  | { kind: 'answered'; status: number; body: string; truncated: boolean };

/** Answers beyond this are cut: 32 MiB holds ~50k containers. */
const MAX_BODY = 32 * 1024 * 1024;

export type EngineWithApi = 'docker' | 'podman';

/** The engine's socket path, from its environment variable or the default. */
export function engineSocket(engine: EngineWithApi, env: NodeJS.ProcessEnv): string {
  const given = engine === 'docker' ? env.DOCKER_HOST : env.CONTAINER_HOST;
  if (given?.startsWith('unix://')) return given.slice('unix://'.length);
  return engine === 'docker' ? '/var/run/docker.sock' : '/run/podman/podman.sock';
}

/** Whether a socket exists at `path` (the engine is, or was, running). */
export function socketPresent(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

export function apiGet(socketPath: string, path: string, timeoutMs: number): Promise<ApiResult> {
  if (!socketPresent(socketPath)) return Promise.resolve({ kind: 'no-socket' });
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: ApiResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    const req = request({ socketPath, path, method: 'GET', headers: { Host: 'localhost' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      res.on('data', (b: Buffer) => {
        if (truncated) return;
        chunks.push(b);
        size += b.length;
        if (size > MAX_BODY) {
          truncated = true;
          res.destroy();
          finish(answer(res.statusCode, chunks, true));
        }
      });
      res.on('end', () => finish(answer(res.statusCode, chunks, truncated)));
      res.on('error', (e) => finish({ kind: 'failed', reason: e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'failed', reason: e.code ?? e.message }));
    req.end();
  });
}

function answer(status: number | undefined, chunks: Buffer[], truncated: boolean): ApiResult {
  const body = Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8');
  return { kind: 'answered', status: status ?? 0, body, truncated };
}
