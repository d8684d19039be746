import { describe, expect, it } from 'vitest';
import { applyNames, type ContainerNames, containerOf, displayText } from '../src/analysis/containers.ts';

// Ids and uids as engines print them (random, generated once for these tests).
const ID = 'be545ad7837242a5e81869c7e7c8dd6e95407bafb55942128fe4066c172f6712';
const ID2 = '693ff5c7110af80b838a75791d2bdf07c96a9f72c1cae483e077b7371fef55be';
const UID = 'b3479825-6b91-483b-b928-8faf601f5261';
const UID_ = UID.replaceAll('-', '_');
const STATIC_UID = '5a6b0c1d2e3f405162738495a6b7c8d9';

describe('containerOf: docker', () => {
  it('systemd driver: /system.slice/docker-<id>.scope', () => {
    const path = `/system.slice/docker-${ID}.scope`;
    expect(containerOf(path)).toEqual({
      id: ID,
      shortId: ID.slice(0, 12),
      name: 'be545ad78372',
      runtime: 'docker',
      kind: 'container',
      cgroup: path,
    });
  });

  it('cgroupfs driver: /docker/<id>, and its nested init.scope and app sub-cgroups', () => {
    for (const tail of ['', '/init.scope', '/system.slice/nginx.service', '/app/workers']) {
      const c = containerOf(`/docker/${ID}${tail}`);
      expect([c.runtime, c.id, c.kind, c.cgroup]).toEqual(['docker', ID, 'container', `/docker/${ID}`]);
    }
  });

  it('rootless, under the user manager', () => {
    const path = `/user.slice/user-1000.slice/user@1000.service/user.slice/docker-${ID}.scope`;
    const c = containerOf(path);
    expect([c.runtime, c.id, c.kind, c.cgroup]).toEqual(['docker', ID, 'container', path]);
  });

  it('docker-in-docker belongs to the outer container, the one the host engine knows', () => {
    const c = containerOf(`/docker/${ID}/docker/${ID2}`);
    expect([c.id, c.cgroup]).toEqual([ID, `/docker/${ID}`]);
  });

  it('a v1 filesystem path under /sys/fs/cgroup/<controller> maps the same', () => {
    expect(containerOf(`/sys/fs/cgroup/cpu,cpuacct/docker/${ID}`).id).toBe(ID);
  });

  it('the docker daemon itself is a systemd service, not a container', () => {
    const c = containerOf('/system.slice/docker.service');
    expect([c.runtime, c.kind, c.name]).toEqual(['systemd', 'service', 'docker.service']);
  });
});

describe('containerOf: containerd and Kubernetes', () => {
  it('systemd driver: burstable pod slice with underscores, normalised to the dashed uid', () => {
    const path = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`;
    expect(containerOf(path)).toEqual({
      id: ID,
      shortId: 'be545ad78372',
      name: 'be545ad78372',
      runtime: 'containerd',
      kind: 'container',
      cgroup: path,
      pod: { uid: UID, qos: 'burstable' },
    });
  });

  it('systemd driver: guaranteed and besteffort pods', () => {
    const g = containerOf(`/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`);
    expect(g.pod).toEqual({ uid: UID, qos: 'guaranteed' });
    const b = containerOf(
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    );
    expect(b.pod).toEqual({ uid: UID, qos: 'besteffort' });
  });

  it('cgroupfs driver: /kubepods/[qos/]pod<uid>/<id>, engine unnamed', () => {
    const cases = [
      [`/kubepods/pod${UID}/${ID}`, 'guaranteed'],
      [`/kubepods/burstable/pod${UID}/${ID}`, 'burstable'],
      [`/kubepods/besteffort/pod${UID}/${ID}`, 'besteffort'],
    ] as const;
    for (const [path, qos] of cases) {
      const c = containerOf(path);
      expect([c.runtime, c.id, c.kind, c.pod]).toEqual(['kubernetes', ID, 'container', { uid: UID, qos }]);
    }
  });

  it("the pod's own cgroup is the pod", () => {
    const slice = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`;
    expect(containerOf(slice)).toEqual({
      id: UID,
      name: 'pod-b3479825',
      runtime: 'kubernetes',
      kind: 'pod',
      cgroup: slice,
      pod: { uid: UID, qos: 'burstable' },
    });
    const fs = containerOf(`/kubepods/besteffort/pod${UID}`);
    expect([fs.kind, fs.id, fs.pod?.qos]).toEqual(['pod', UID, 'besteffort']);
  });

  it('static pods have a 32-hex uid', () => {
    const c = containerOf(
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC_UID}.slice`,
    );
    expect([c.kind, c.id]).toEqual(['pod', STATIC_UID]);
  });

  it('a container sub-cgroup inside a pod stays the container', () => {
    const c = containerOf(`/kubepods/burstable/pod${UID}/${ID}/child`);
    expect([c.id, c.cgroup]).toEqual([ID, `/kubepods/burstable/pod${UID}/${ID}`]);
  });

  it('nerdctl (containerd without Kubernetes)', () => {
    const c = containerOf(`/system.slice/nerdctl-${ID}.scope`);
    expect([c.runtime, c.id, c.pod]).toEqual(['containerd', ID, undefined]);
  });

  it('kubepods slices without a pod are plain cgroups', () => {
    const c = containerOf('/kubepods.slice/kubepods-burstable.slice');
    expect([c.runtime, c.name]).toEqual(['cgroup', 'kubepods-burstable.slice']);
  });
});

describe('containerOf: CRI-O', () => {
  const pod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`;

  it('crio-<id>.scope in a pod', () => {
    const c = containerOf(`${pod}/crio-${ID}.scope`);
    expect([c.runtime, c.id, c.kind, c.pod?.uid]).toEqual(['cri-o', ID, 'container', UID]);
  });

  it('crio-conmon-<id>.scope is the monitor, named after its container', () => {
    const c = containerOf(`${pod}/crio-conmon-${ID}.scope`);
    expect(c).toMatchObject({
      id: `conmon/${ID}`,
      monitorOf: ID,
      runtime: 'cri-o',
      kind: 'other',
      name: 'be545ad78372 (conmon)',
    });
  });

  it('cgroupfs driver: crio-<id> without .scope', () => {
    const c = containerOf(`/kubepods/besteffort/pod${UID}/crio-${ID}`);
    expect([c.runtime, c.id, c.pod?.qos]).toEqual(['cri-o', ID, 'besteffort']);
  });
});

describe('containerOf: podman', () => {
  it('libpod-<id>.scope under machine.slice, and its conmon', () => {
    const c = containerOf(`/machine.slice/libpod-${ID}.scope`);
    expect([c.runtime, c.id, c.kind]).toEqual(['podman', ID, 'container']);
    const m = containerOf(`/machine.slice/libpod-conmon-${ID}.scope`);
    expect([m.runtime, m.id, m.monitorOf, m.kind]).toEqual(['podman', `conmon/${ID}`, ID, 'other']);
  });

  it('rootless with the split `container` sub-cgroup', () => {
    const path = `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`;
    const c = containerOf(`${path}/container`);
    expect([c.runtime, c.id, c.cgroup]).toEqual(['podman', ID, path]);
  });
});

describe('containerOf: LXC, LXD, Incus', () => {
  it('/lxc/<name> (v1 layout), /lxc.payload.<name>, /lxc.monitor.<name>', () => {
    expect(containerOf('/lxc/web1')).toMatchObject({
      runtime: 'lxc',
      id: 'lxc/web1',
      name: 'web1',
      kind: 'container',
    });
    const p = containerOf('/lxc.payload.db/system.slice/postgresql.service');
    expect(p).toMatchObject({
      runtime: 'lxc',
      id: 'lxc/db',
      name: 'db',
      kind: 'container',
      cgroup: '/lxc.payload.db',
    });
    expect(containerOf('/lxc.monitor.db')).toMatchObject({
      runtime: 'lxc',
      id: 'lxc-monitor/db',
      monitorOf: 'lxc/db',
      kind: 'other',
      name: 'db (monitor)',
    });
  });

  it('a container named like a reserved id still gets a distinct id', () => {
    expect(containerOf('/lxc.payload.host').id).toBe('lxc/host');
  });
});

describe('containerOf: systemd', () => {
  it('services, sessions and init.scope', () => {
    expect(containerOf('/system.slice/nginx.service')).toEqual({
      id: '/system.slice/nginx.service',
      name: 'nginx.service',
      runtime: 'systemd',
      kind: 'service',
      cgroup: '/system.slice/nginx.service',
    });
    const s = containerOf('/user.slice/user-1000.slice/session-3.scope');
    expect([s.runtime, s.kind, s.name]).toEqual(['systemd', 'session', 'session-3.scope']);
    expect(containerOf('/init.scope')).toMatchObject({
      runtime: 'systemd',
      name: 'init.scope',
      id: '/init.scope',
    });
  });

  it("the user manager's init.scope belongs to user@.service; a service's sub-cgroups to it", () => {
    const u = containerOf('/user.slice/user-1000.slice/user@1000.service/init.scope');
    expect([u.kind, u.name, u.id]).toEqual([
      'service',
      'user@1000.service',
      '/user.slice/user-1000.slice/user@1000.service',
    ]);
    const d = containerOf('/system.slice/buildkitd.service/worker-3');
    expect([d.kind, d.id]).toEqual(['service', '/system.slice/buildkitd.service']);
  });

  it('the innermost unit wins inside the user manager', () => {
    const c = containerOf('/user.slice/user-1000.slice/user@1000.service/app.slice/pipewire.service');
    expect(c.name).toBe('pipewire.service');
  });
});

describe('containerOf: crosstalk lab', () => {
  it('/crosstalk-lab/<run>/<name> and anything below it', () => {
    for (const tail of ['', '/worker', '/a/b/c']) {
      expect(containerOf(`/crosstalk-lab/run-20240502-1a2b/logger${tail}`)).toEqual({
        id: 'run-20240502-1a2b/logger',
        name: 'logger',
        runtime: 'lab',
        kind: 'container',
        cgroup: '/crosstalk-lab/run-20240502-1a2b/logger',
      });
    }
  });

  it('names with dots and underscores; the run cgroup itself is not a container', () => {
    expect(containerOf('/crosstalk-lab/run-7/db_1.primary').name).toBe('db_1.primary');
    expect(containerOf('/crosstalk-lab/run-7').runtime).toBe('cgroup');
    expect(containerOf('/crosstalk-lab/Run-7/web').runtime).toBe('cgroup');
    expect(containerOf('/crosstalk-lab/run-7/-web').runtime).toBe('cgroup');
  });
});

describe('containerOf: host, unknown, anything else', () => {
  it('/ is the host; the empty string is unknown', () => {
    expect(containerOf('/')).toEqual({
      id: 'host',
      name: 'host',
      runtime: 'host',
      kind: 'host',
      cgroup: '/',
    });
    expect(containerOf('')).toEqual({
      id: 'unknown',
      name: 'unknown (no cgroup in input)',
      runtime: 'unknown',
      kind: 'other',
      cgroup: '',
    });
  });

  it('other paths are plain cgroups named by their last component', () => {
    expect(containerOf('/process_api/541144776e0a5a0740d17cecb3284816')).toEqual({
      id: '/process_api/541144776e0a5a0740d17cecb3284816',
      name: '541144776e0a5a0740d17cecb3284816',
      runtime: 'cgroup',
      kind: 'other',
      cgroup: '/process_api/541144776e0a5a0740d17cecb3284816',
    });
  });

  it('near misses are not containers: short ids, upper case, wrong suffix', () => {
    for (const path of [
      `/docker/${ID.slice(0, 63)}`,
      `/docker/${ID.toUpperCase()}`,
      `/system.slice/docker-${ID}.service`,
      `/system.slice/docker-${ID}.scopex`,
      `/system.slice/docker-${ID}0.scope`,
    ]) {
      expect(containerOf(path).kind, path).not.toBe('container');
    }
  });
});

describe('containerOf: hostile input', () => {
  it('a 100 kB path of many components answers quickly and without throwing', () => {
    const path = '/a'.repeat(50_000);
    const t0 = performance.now();
    const c = containerOf(path);
    const ms = performance.now() - t0;
    expect([c.runtime, c.name]).toEqual(['cgroup', 'a']);
    expect(ms).toBeLessThan(500);
  });

  it('a 100 kB single component and near-miss repetitions stay linear', () => {
    const paths = [
      `/${'x'.repeat(100_000)}.service`,
      `/docker-${'a'.repeat(100_000)}.scope`,
      `/${`kubepods-pod${UID_}.slice/`.repeat(1500)}crio-${ID}.scope`,
      `/${'lxc.payload.'.repeat(8000)}`,
      '/crosstalk-lab/run-'.repeat(5000),
    ];
    for (const path of paths) {
      const t0 = performance.now();
      containerOf(path);
      expect(performance.now() - t0, path.slice(0, 40)).toBeLessThan(500);
    }
  });

  it('a component longer than a directory name can be is never a container', () => {
    expect(containerOf(`/lxc.payload.${'n'.repeat(300)}`).runtime).toBe('cgroup');
  });

  it('`..` and `.` components and NUL bytes are not interpreted', () => {
    for (const path of [
      `/docker/${ID}/..`,
      `/../docker/${ID}`,
      `/./system.slice/x.service`,
      `/docker/${ID}\0`,
    ]) {
      const c = containerOf(path);
      expect([c.runtime, c.id], JSON.stringify(path)).toEqual(['cgroup', path]);
    }
  });

  it('newlines do not make a near miss match', () => {
    expect(containerOf(`/docker/${ID}\n`).runtime).toBe('cgroup');
    const c = containerOf(`/system.slice/docker-${ID}.scope\nx`);
    expect([c.runtime, c.name]).toEqual(['cgroup', `docker-${ID}.scope\ufffdx`]);
  });

  it('control characters are replaced in names; ids keep the exact path', () => {
    const path = '/system.slice/\u001b]0;pwned\u0007.service';
    const c = containerOf(path);
    expect(c.name).toBe('\ufffd]0;pwned\ufffd.service');
    expect(c.id).toBe(path);
  });

  it('HTML is kept as text (reports escape it), and long names are cut', () => {
    const html = '<img src=x onerror="alert(1)">';
    expect(containerOf(`/system.slice/${html}.service`).name).toBe(`${html}.service`);
    const long = containerOf(`/lxc.payload.${'n'.repeat(230)}`);
    expect(long.name.length).toBe(200);
    expect(long.name.endsWith('…')).toBe(true);
    expect(long.id).toBe(`lxc/${'n'.repeat(230)}`);
  });

  it('double and trailing slashes are tolerated', () => {
    expect(containerOf(`//docker//${ID}/`).id).toBe(ID);
    expect(containerOf('//').runtime).toBe('host');
  });

  it('never throws on arbitrary strings', () => {
    const alphabet = [
      '/',
      'docker',
      ID,
      '.scope',
      'pod',
      UID_,
      '..',
      '\n',
      '\0',
      'lxc.payload.',
      '-',
      '.service',
    ];
    let seed = 7;
    for (let n = 0; n < 2000; n++) {
      let s = '';
      for (let k = 0; k < 8; k++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        s += alphabet[seed % alphabet.length];
      }
      const c = containerOf(s);
      expect(typeof c.id).toBe('string');
    }
  });
});

describe('applyNames', () => {
  const names: ContainerNames = new Map([
    [ID, { name: 'nginx', image: 'nginx:1.25', pod: { name: 'web-7d9f8', namespace: 'default' } }],
    [UID, { name: 'web-7d9f8', pod: { name: 'web-7d9f8', namespace: 'default' } }],
    [ID2, { name: 'redis', image: 'redis:7' }],
  ]);
  const podPath = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`;

  it('a Kubernetes container is named namespace/pod/container, with its image and pod', () => {
    const c = applyNames(containerOf(`${podPath}/cri-containerd-${ID}.scope`), names);
    expect(c.name).toBe('default/web-7d9f8/nginx');
    expect(c.image).toBe('nginx:1.25');
    expect(c.pod).toEqual({ uid: UID, qos: 'burstable', name: 'web-7d9f8', namespace: 'default' });
    expect(c.id).toBe(ID);
  });

  it('a pod is named namespace/pod', () => {
    expect(applyNames(containerOf(podPath), names).name).toBe('default/web-7d9f8');
  });

  it('a container the engines did not list keeps its short id under its known pod', () => {
    const other = 'e98996263c997e11f414072f7b6700f7bb3efb488ba93adc64ceac3c18b6aec5';
    expect(applyNames(containerOf(`${podPath}/cri-containerd-${other}.scope`), names).name).toBe(
      'default/web-7d9f8/e98996263c99',
    );
  });

  it('plain docker names, conmon names, and unknown ids unchanged', () => {
    expect(applyNames(containerOf(`/docker/${ID2}`), names).name).toBe('redis');
    expect(applyNames(containerOf(`/machine.slice/libpod-conmon-${ID2}.scope`), names).name).toBe(
      'redis (conmon)',
    );
    const unknown = containerOf(`/docker/${'f'.repeat(64)}`);
    expect(applyNames(unknown, names)).toBe(unknown);
    const host = containerOf('/');
    expect(applyNames(host, names)).toBe(host);
  });

  it('podman pods qualify without a namespace', () => {
    const podman: ContainerNames = new Map([[ID, { name: 'api', pod: { name: 'shop' } }]]);
    expect(applyNames(containerOf(`/machine.slice/libpod-${ID}.scope`), podman).name).toBe('shop/api');
  });

  it('does not mutate its input and sanitises engine-provided text', () => {
    const c = containerOf(`/docker/${ID2}`);
    const before = { ...c };
    const hostile: ContainerNames = new Map([[ID2, { name: 'a\u001b[2Jb', image: 'x\ny' }]]);
    const named = applyNames(c, hostile);
    expect(c).toEqual(before);
    expect(named.name).toBe('a\ufffd[2Jb');
    expect(named.image).toBe('x\ufffdy');
  });
});

describe('displayText', () => {
  it('keeps printable text, replaces C0/C1 controls', () => {
    expect(displayText('web-1 ✓')).toBe('web-1 ✓');
    expect(displayText('a\u0085b\tc')).toBe('a\ufffdb\ufffdc');
  });
});
