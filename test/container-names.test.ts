import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyNames, containerOf } from '../src/analysis/containers.ts';
import { type CommandResult, type CommandRunner, spawnCommand } from '../src/collect/command-runner.ts';
import { resolveContainerNames } from '../src/collect/container-names.ts';
import {
  parseCrictlPods,
  parseCrictlPs,
  parseDockerPs,
  parsePodmanPs,
} from '../src/collect/engine-listings.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/container-engines/${name}`, import.meta.url), 'utf8');
const exited = (stdout: string, code = 0, stderr = ''): CommandResult => ({
  kind: 'exited',
  code,
  stdout,
  stderr,
  truncated: false,
});

/** Answers each `command args...` with a recorded result and remembers what was asked. */
function recordedRunner(answers: Record<string, CommandResult>): CommandRunner & { asked: string[] } {
  const asked: string[] = [];
  const run = async (command: string, args: readonly string[]) => {
    const key = [command, ...args].join(' ');
    asked.push(key);
    return answers[key] ?? { kind: 'absent' as const };
  };
  return Object.assign(run, { asked });
}

const DOCKER_PS =
  'docker ps -a --no-trunc --format {"ID":{{json .ID}},"Names":{{json .Names}},"Image":{{json .Image}},"Labels":{{json .Labels}}}';
/** No engine socket: the CLIs are asked (the API path is tested with recorded answers below). */
const noSocket = async () => ({ kind: 'no-socket' }) as const;
const CRICTL_PS = 'crictl ps -a -o json';
const CRICTL_PODS = 'crictl pods -o json';
const PODMAN_PS = 'podman ps -a --format json';

describe('parsing recorded engine output', () => {
  it('docker ps: names, first alias, images, kubelet labels', () => {
    const { names, ignored } = parseDockerPs(fixture('docker-ps.jsonl'));
    expect(ignored).toBe(0);
    expect(names.get('be545ad7837242a5e81869c7e7c8dd6e95407bafb55942128fe4066c172f6712')).toEqual({
      name: 'web',
      image: 'nginx:1.25',
    });
    expect(names.get('693ff5c7110af80b838a75791d2bdf07c96a9f72c1cae483e077b7371fef55be')?.name).toBe('cache');
    expect(names.get('b3306bf8d74e2c6e08ae72946a985c6dcff94d17002198dc9a81a7f8ef8bdcd0')).toEqual({
      name: 'POD',
      image: 'registry.k8s.io/pause:3.9',
      pod: { name: 'api-5c7d9', namespace: 'shop' },
    });
    expect(names.size).toBe(4);
  });

  it('crictl ps + pods: container names, pod names via the sandbox, pod uids, readable images', () => {
    const pods = parseCrictlPods(fixture('crictl-pods.json'));
    if (typeof pods === 'string') throw new Error(pods);
    expect(pods.names.get('b3479825-6b91-483b-b928-8faf601f5261')).toEqual({
      name: 'web-7d9f8',
      pod: { name: 'web-7d9f8', namespace: 'default' },
    });
    expect(pods.names.get('b254765840eb007aa70c8a77b1ef2bd3eda3cd7493f73571e959474c6306ffc9')?.name).toBe(
      'sandbox',
    );
    expect(pods.names.get('5a6b0c1d2e3f405162738495a6b7c8d9')?.pod?.namespace).toBe('kube-system');
    const ps = parseCrictlPs(fixture('crictl-ps.json'), pods.names);
    if (typeof ps === 'string') throw new Error(ps);
    expect(ps.names.get('13fc386c4126901c23e52cbf0d8fffce9a84f8aad48782aa1c0693e22548d8bd')).toEqual({
      name: 'nginx',
      image:
        'docker.io/library/nginx@sha256:32e76d4f34f80e479964a0fbd4c5b4f6967b5322c8d004e9cf0cb81c93510766',
      pod: { name: 'web-7d9f8', namespace: 'default' },
    });
    expect(ps.names.get('4c879d2f1239ada233ca6b2cbff0482b513e9d2adaa338cfc3cb3084f10c1baf')?.image).toBe(
      'registry.k8s.io/kube-apiserver:v1.30.1',
    );
    // Its sandbox is gone: the pod comes from the kubelet labels; only a digest names the image.
    expect(ps.names.get('e98996263c997e11f414072f7b6700f7bb3efb488ba93adc64ceac3c18b6aec5')).toMatchObject({
      name: 'migrate',
      image: 'sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
      pod: { name: 'db-migrate-x2k9q', namespace: 'shop' },
    });
  });

  it('podman ps: names, pods without namespaces, infra containers', () => {
    const r = parsePodmanPs(fixture('podman-ps.json'));
    if (typeof r === 'string') throw new Error(r);
    expect(r.names.get('be545ad7837242a5e81869c7e7c8dd6e95407bafb55942128fe4066c172f6712')).toEqual({
      name: 'api',
      image: 'docker.io/library/nginx:1.25',
      pod: { name: 'shop' },
    });
    expect(r.names.get('b3306bf8d74e2c6e08ae72946a985c6dcff94d17002198dc9a81a7f8ef8bdcd0')?.name).toBe(
      '889ef861dda7-infra',
    );
    expect(r.names.get('693ff5c7110af80b838a75791d2bdf07c96a9f72c1cae483e077b7371fef55be')).toEqual({
      name: 'toolbox',
      image: 'docker.io/library/alpine:3.19',
    });
  });

  it('podman 1.x spelling (ID, Names as a string)', () => {
    const id = 'f4140914efca55193adfac6d3e0673b3b56c283cad2e158e5f06bc8879d29a51';
    const r = parsePodmanPs(JSON.stringify([{ ID: id, Names: 'old', Image: 'busybox' }]));
    expect(typeof r !== 'string' && r.names.get(id)).toEqual({ name: 'old', image: 'busybox' });
  });
});

describe('hostile engine output', () => {
  const id = 'be545ad7837242a5e81869c7e7c8dd6e95407bafb55942128fe4066c172f6712';

  it('docker: garbage lines, wrong types, short or upper-case ids and absurd names are skipped and counted', () => {
    const lines = [
      'not json',
      '42',
      'null',
      '[]',
      JSON.stringify({ ID: id.slice(0, 12), Names: 'short' }),
      JSON.stringify({ ID: id.toUpperCase(), Names: 'upper' }),
      JSON.stringify({ ID: id, Names: 7 }),
      JSON.stringify({ ID: id, Names: 'x'.repeat(5000) }),
      JSON.stringify({ ID: id, Names: '' }),
      '{"__proto__": {"ID": "polluted"}, "Names": "p"}',
      JSON.stringify({ ID: id, Names: '/ok', Image: { nested: true } }),
    ];
    const r = parseDockerPs(lines.join('\n'));
    expect(r.ignored).toBe(10);
    expect([...r.names]).toEqual([[id, { name: 'ok' }]]);
    expect(({} as Record<string, unknown>).ID).toBeUndefined();
  });

  it('crictl and podman: wrong shapes are unparsable, bad entries skipped', () => {
    expect(parseCrictlPs('{"containers": 3}', new Map())).toBe('no "containers" array');
    expect(parseCrictlPods('')).toBe('no "items" array');
    expect(parsePodmanPs('{"Id": 1}')).toBe('not a JSON array');
    const r = parsePodmanPs(
      JSON.stringify([null, 5, { Id: id, Names: [null] }, { Id: id, Names: ['fine'] }]),
    );
    expect(typeof r !== 'string' && [r.ignored, r.names.size]).toEqual([3, 1]);
    const pods = parseCrictlPods(
      JSON.stringify({ items: [{ id, metadata: { name: 'p', uid: '../../etc' } }] }),
    );
    expect(typeof pods !== 'string' && [...pods.names.keys()]).toEqual([id]);
  });
});

describe('resolveContainerNames with recorded output', () => {
  it('merges every engine, earlier sources winning, with one note each', async () => {
    const runner = recordedRunner({
      [DOCKER_PS]: exited(fixture('docker-ps.jsonl')),
      [CRICTL_PS]: exited(
        fixture('crictl-ps.json'),
        0,
        'WARN[0000] runtime connect using default endpoints\n',
      ),
      [CRICTL_PODS]: exited(fixture('crictl-pods.json')),
      [PODMAN_PS]: exited(fixture('podman-ps.json')),
    });
    const { names, notes } = await resolveContainerNames({ api: noSocket, runner });
    expect(runner.asked.sort()).toEqual([CRICTL_PODS, CRICTL_PS, DOCKER_PS, PODMAN_PS].sort());
    expect(notes.map((n) => [n.source, n.status, n.entries])).toEqual([
      ['docker', 'ok', 4],
      ['crictl', 'ok', 7],
      ['podman', 'ok', 3],
    ]);
    expect(notes[0].note).toBe('docker: 4 ids named');
    // docker listed be545ad… first; podman's name for the same id loses.
    expect(names.get('be545ad7837242a5e81869c7e7c8dd6e95407bafb55942128fe4066c172f6712')?.name).toBe('web');
  });

  it('names flow into identities found from cgroup paths', async () => {
    const runner = recordedRunner({
      [CRICTL_PS]: exited(fixture('crictl-ps.json')),
      [CRICTL_PODS]: exited(fixture('crictl-pods.json')),
    });
    const { names } = await resolveContainerNames({ api: noSocket, runner, sources: ['crictl'] });
    const pod =
      '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podb3479825_6b91_483b_b928_8faf601f5261.slice';
    const c = containerOf(
      `${pod}/cri-containerd-13fc386c4126901c23e52cbf0d8fffce9a84f8aad48782aa1c0693e22548d8bd.scope`,
    );
    expect(applyNames(c, names).name).toBe('default/web-7d9f8/nginx');
    const sandbox = containerOf(
      `${pod}/cri-containerd-b254765840eb007aa70c8a77b1ef2bd3eda3cd7493f73571e959474c6306ffc9.scope`,
    );
    expect(applyNames(sandbox, names).name).toBe('default/web-7d9f8/sandbox');
    expect(applyNames(containerOf(pod), names).name).toBe('default/web-7d9f8');
    const staticPod = containerOf(`/kubepods/burstable/pod5a6b0c1d2e3f405162738495a6b7c8d9`);
    expect(applyNames(staticPod, names).name).toBe('kube-system/kube-apiserver-node1');
  });

  it('absent, unreachable, timed out and unparsable sources each get a note, not an error', async () => {
    const runner = recordedRunner({
      [DOCKER_PS]: exited(
        '',
        1,
        'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n',
      ),
      [CRICTL_PS]: { kind: 'timeout' },
      [CRICTL_PODS]: { kind: 'timeout' },
      [PODMAN_PS]: exited('Error: something\n'),
    });
    const { names, notes } = await resolveContainerNames({ api: noSocket, runner, timeoutMs: 2000 });
    expect(names.size).toBe(0);
    expect(notes.map((n) => n.note)).toEqual([
      'docker: client present, engine not reachable (Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?)',
      'crictl: client present, no answer within 2000 ms',
      'podman: output not understood (not a JSON array)',
    ]);
    const none = await resolveContainerNames({ api: noSocket, runner: recordedRunner({}) });
    expect(none.notes.map((n) => n.note)).toEqual([
      'docker: not installed (not on PATH)',
      'crictl: not installed (not on PATH)',
      'podman: not installed (not on PATH)',
    ]);
  });

  it('crictl containers without a pod listing still get names, and say so', async () => {
    const runner = recordedRunner({
      [CRICTL_PS]: exited(fixture('crictl-ps.json')),
      [CRICTL_PODS]: exited('', 1, 'rpc error: code = Unimplemented'),
    });
    const { names, notes } = await resolveContainerNames({ api: noSocket, runner, sources: ['crictl'] });
    expect(names.get('13fc386c4126901c23e52cbf0d8fffce9a84f8aad48782aa1c0693e22548d8bd')?.pod?.name).toBe(
      'web-7d9f8',
    );
    expect(notes[0].note).toBe(
      'crictl: 3 ids named; pod listing: client present, engine not reachable (rpc error: code = Unimplemented)',
    );
  });

  it('stderr in notes loses control characters and length', async () => {
    const runner = recordedRunner({ [DOCKER_PS]: exited('', 1, `\u001b[31m${'e'.repeat(400)}\n`) });
    const { notes } = await resolveContainerNames({ api: noSocket, runner, sources: ['docker'] });
    expect(notes[0].note).not.toContain('\u001b');
    expect(notes[0].note.length).toBeLessThan(250);
  });
});

// The real clients on this machine, no injected runner.
const onPath = (bin: string) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', bin]).status === 0;
const dockerEngineMayRun = existsSync('/var/run/docker.sock') || process.env.DOCKER_HOST !== undefined;

describe('resolveContainerNames against the real clients', () => {
  it.skipIf(!onPath('docker') || dockerEngineMayRun)(
    'docker client present, engine not running: no names, a note, quickly',
    async () => {
      const t0 = performance.now();
      const { names, notes } = await resolveContainerNames({ sources: ['docker'] });
      const ms = performance.now() - t0;
      expect(names.size).toBe(0);
      expect(notes).toHaveLength(1);
      expect(notes[0].status).toBe('unreachable');
      expect(notes[0].note).toMatch(/^docker: client present, engine not reachable \(.*daemon/);
      expect(ms).toBeLessThan(1500);
    },
  );

  it('every source answers within its deadline on this host, whatever is installed', async () => {
    const t0 = performance.now();
    const { notes } = await resolveContainerNames({ timeoutMs: 2000 });
    expect(performance.now() - t0).toBeLessThan(2000 + 1000);
    expect(notes.map((n) => n.source)).toEqual(['docker', 'crictl', 'podman']);
    for (const n of notes) {
      if (!onPath(n.source)) expect(n.status, n.note).toBe('absent');
      else expect(n.status, n.note).not.toBe('absent');
    }
  });

  it('an empty PATH means no clients at all', async () => {
    const { names, notes } = await resolveContainerNames({ env: { PATH: '/nonexistent' } });
    expect(names.size).toBe(0);
    expect(notes.map((n) => n.status)).toEqual(['absent', 'absent', 'absent']);
  });
});

describe('spawnCommand with real processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-names-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  const env = { PATH: `${dir}:/usr/bin:/bin` };

  it('passes arguments verbatim without a shell and captures stdout', async () => {
    script('crictl', `printf '%s\\n' "$@" > "${dir}/args"; cat "${dir}/$2.json"`);
    writeFileSync(join(dir, '-a.json'), fixture('crictl-ps.json'));
    writeFileSync(join(dir, '-o.json'), fixture('crictl-pods.json'));
    const { names, notes } = await resolveContainerNames({ env, sources: ['crictl'] });
    expect(notes[0].status).toBe('ok');
    expect(names.get('13fc386c4126901c23e52cbf0d8fffce9a84f8aad48782aa1c0693e22548d8bd')?.name).toBe('nginx');
    const r = await spawnCommand('crictl', ['ps', '-a', '$(touch pwned)', ';', '*'], {
      timeoutMs: 2000,
      env,
    });
    expect(r.kind).toBe('exited');
    expect(readFileSync(join(dir, 'args'), 'utf8')).toBe('ps\n-a\n$(touch pwned)\n;\n*\n');
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  it('kills the whole process group at the deadline', async () => {
    script('podman', `sleep 30 & echo $! > "${dir}/child.pid"; wait`);
    const t0 = performance.now();
    const r = await spawnCommand('podman', ['ps'], { timeoutMs: 300, env });
    expect(r.kind).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(1500);
    const pid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    // Killed means gone, or a zombie waiting for init to reap it (it was reparented when sh died).
    const state = () => (existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '');
    for (let i = 0; i < 20 && !/^$|^\d+ \(sleep\) Z /.test(state()); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(state()).toMatch(/^$|^\d+ \(sleep\) Z /);
  });

  it('a file on PATH that cannot be executed is a failure to run, not absence', async () => {
    writeFileSync(join(dir, 'docker'), 'not executable');
    chmodSync(join(dir, 'docker'), 0o644);
    const r = await spawnCommand('docker', ['ps'], { timeoutMs: 2000, env: { PATH: dir } });
    expect(r).toEqual({ kind: 'failed', reason: 'EACCES' });
  });
});
