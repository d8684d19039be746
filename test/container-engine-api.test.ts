// Engine names over the API sockets, the window's events, cgroup parents the engines named, and
// the one-line limitation when an engine runs but does not answer. Recorded answers, no engine.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { applyNames, containerOf } from '../src/analysis/containers.ts';
import { limitationsOf } from '../src/analysis/limitations.ts';
import { resolveContainerNames, resolveEventNames } from '../src/collect/container-names.ts';
import { apiGet } from '../src/collect/engine-api.ts';
import { parseDockerApiList, parseEvents } from '../src/collect/engine-listings.ts';
import { renderAnalysis } from '../src/report/terminal.ts';
import { profileFromText } from './support/profile-text.ts';

const ID_A = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
const ID_B = '38cdcf41be8a307f33c7bf07380927d77170e81327dfc647714a7e656a62e869';

/** Docker Engine API v1.41 `GET /containers/json?all=1&size=0`, trimmed to the fields read. */
const LIST = JSON.stringify([
  { Id: ID_A, Names: ['/tenant-web'], Image: 'crosstalk-lab:aa2d80', Labels: { 'crosstalk.lab.run': 'r' } },
  { Id: 'short', Names: ['/bad'] },
]);
/** `GET /events` of dockerd 20.10 (captured here: `docker run --rm --name shorty ...`). */
const EVENTS = [
  `{"status":"create","id":"${ID_B}","from":"ctlab-test:1","Type":"container","Action":"create","Actor":{"ID":"${ID_B}","Attributes":{"image":"ctlab-test:1","name":"shorty"}},"scope":"local","time":1796363437,"timeNano":1796363437920244969}`,
  `{"status":"destroy","id":"${ID_B}","from":"ctlab-test:1","Type":"container","Action":"destroy","Actor":{"ID":"${ID_B}","Attributes":{"image":"ctlab-test:1","name":"shorty"}},"scope":"local","time":1796363438,"timeNano":1796363438020244969}`,
  '',
].join('\n');

const dirs: string[] = [];
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A unix-socket HTTP server answering like dockerd, optionally never answering the listing. */
async function fakeDockerd(
  opts: { hang?: boolean } = {},
): Promise<{ env: NodeJS.ProcessEnv; asked: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-engine-'));
  dirs.push(dir);
  const socket = join(dir, 'docker.sock');
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    if (req.url?.startsWith('/v1.41/containers/json')) {
      if (opts.hang) return;
      res.end(LIST);
    } else if (req.url?.startsWith('/v1.41/events')) res.end(EVENTS);
    else {
      res.statusCode = 404;
      res.end('{"message":"page not found"}');
    }
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(socket, r));
  return {
    env: { PATH: '/nonexistent', DOCKER_HOST: `unix://${socket}`, CONTAINER_HOST: `unix://${dir}/none` },
    asked,
  };
}

describe('engine API answers', () => {
  it('parses the container list and the events of a window', () => {
    const list = parseDockerApiList(LIST);
    expect(typeof list !== 'string' && [list.ignored, list.names.get(ID_A)]).toEqual([
      1,
      { name: 'tenant-web', image: 'crosstalk-lab:aa2d80' },
    ]);
    const events = parseEvents(EVENTS);
    expect([events.ignored, events.names.get(ID_B)]).toEqual([0, { name: 'shorty', image: 'ctlab-test:1' }]);
    expect(parseEvents('{"Type":"container"}\nnot json\n').ignored).toBe(2);
  });

  it('asks the socket without sizes, and the events of the window', async () => {
    const { env, asked } = await fakeDockerd();
    const listed = await resolveContainerNames({ env, sources: ['docker'], when: 'before' });
    expect(listed.names.get(ID_A)).toEqual({
      name: 'tenant-web',
      image: 'crosstalk-lab:aa2d80',
      engine: 'docker',
    });
    expect(listed.notes[0]).toMatchObject({ status: 'ok', present: true, when: 'before' });
    const events = await resolveEventNames(1796363430, 1796363440, { env, sources: ['docker'] });
    expect(events.names.get(ID_B)?.name).toBe('shorty');
    expect(asked[0]).toBe('/v1.41/containers/json?all=1&size=0');
    expect(asked[1]).toMatch(/^\/v1\.41\/events\?since=1796363430&until=1796363440&filters=/);
  });

  it('an engine that runs but does not answer in time is a note with present: true', async () => {
    const { env } = await fakeDockerd({ hang: true });
    const r = await resolveContainerNames({ env, sources: ['docker'], timeoutMs: 200 });
    expect(r.names.size).toBe(0);
    expect(r.notes[0]).toMatchObject({
      status: 'timeout',
      present: true,
      note: 'docker: engine present, no answer within 200 ms',
    });
  });

  it('a missing socket is no engine', async () => {
    expect(await apiGet('/nonexistent/docker.sock', '/v1.41/_ping', 100)).toEqual({ kind: 'no-socket' });
  });
});

describe('names applied to cgroups', () => {
  const names = new Map([
    [ID_A, { name: 'tenant-web', engine: 'docker' as const }],
    [ID_B, { name: 'shorty', engine: 'podman' as const }],
  ]);

  it('a 64-hex component an engine named is that container, under any parent', () => {
    const custom = applyNames(containerOf(`/tenant-a/${ID_A}`), names);
    expect(custom).toMatchObject({ id: ID_A, name: 'tenant-web', runtime: 'docker', kind: 'container' });
    expect(custom.cgroup).toBe(`/tenant-a/${ID_A}`);
    const nested = applyNames(containerOf(`/outer/${ID_B}/inner/worker`), names);
    expect(nested).toMatchObject({ id: ID_B, name: 'shorty', runtime: 'podman', cgroup: `/outer/${ID_B}` });
  });

  it('an id no engine named stays a plain cgroup', () => {
    const other = 'f'.repeat(64);
    expect(applyNames(containerOf(`/tenant-a/${other}`), names)).toMatchObject({ runtime: 'cgroup' });
  });
});

describe('engines that did not answer', () => {
  it('are one limitation line each, in the analysis result', () => {
    const p = profileFromText('/docker/x app:1 main@/srv/app;work@/srv/app 5');
    const note = 'docker: engine present, no answer within 2000 ms: its containers may show as ids';
    const r = analyzeProfile(p, { engineNotes: [note] });
    expect(r.limitations.filter((l) => l.code === 'engine-unanswered')).toEqual([
      { code: 'engine-unanswered', message: note },
    ]);
    expect(renderAnalysis(r)).toContain(note);
    expect(limitationsOf(p, r.input, r.syscalls).some((l) => l.code === 'engine-unanswered')).toBe(false);
  });
});
