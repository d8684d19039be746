/**
 * Which container, pod, service or session a cgroup path belongs to. Pure: the path is matched
 * against tables of naming conventions, one row per runtime and cgroup driver, so a new runtime is
 * one more row. Paths come from untrusted input (profiles, folded files): nothing here throws, and
 * every pattern matches one path component with anchored, bounded regexes (linear time).
 *
 * Conventions, as the runtimes name their cgroups (cgroup v1 and v2 use the same paths per
 * hierarchy; the systemd driver makes `.scope`/`.slice` units, cgroupfs makes plain directories):
 *   docker      /system.slice/docker-<id>.scope          /docker/<id>
 *   containerd  .../kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
 *   kubernetes  /kubepods/burstable/pod<uid>/<id>         (cgroupfs: the engine is not named)
 *   cri-o       .../crio-<id>.scope, .../crio-conmon-<id>.scope
 *   podman      /machine.slice/libpod-<id>.scope, libpod-conmon-<id>.scope
 *   lxc/lxd     /lxc/<name>, /lxc.payload.<name>, /lxc.monitor.<name>
 *   lab         /crosstalk-lab/run-<x>/<name>             (crosstalk's own lab containers)
 */

export type ContainerRuntime =
  | 'docker'
  | 'containerd'
  | 'cri-o'
  | 'podman'
  | 'kubernetes'
  | 'lxc'
  | 'systemd'
  | 'lab'
  | 'host'
  | 'cgroup'
  | 'unknown';

export type ContainerKind = 'container' | 'pod' | 'service' | 'session' | 'host' | 'other';

export type PodQos = 'guaranteed' | 'burstable' | 'besteffort';

export interface PodIdentity {
  /** The pod's uid, dashed (`3f2a9c1e-8b7d-4c4e-9f10-2b6a7c9d0e11`), or 32 hex for static pods. */
  uid: string;
  qos?: PodQos;
  /** Filled in by applyNames when an engine knew the pod. */
  name?: string;
  namespace?: string;
}

export interface ContainerIdentity {
  /**
   * Stable key to aggregate by. Engines: the full 64-hex container id. Pods: the uid. Lab:
   * `<run>/<name>`. LXC: `lxc/<name>`. Monitors: `conmon/<id>`, `lxc-monitor/<name>`. systemd and
   * plain cgroups: the cgroup path (starts with `/`). Otherwise `host` or `unknown`.
   */
  id: string;
  /** Display text: control characters replaced, at most 200 characters. Not HTML-escaped. */
  name: string;
  runtime: ContainerRuntime;
  /** The cgroup the identity is rooted at: the input path cut after the matched component. */
  cgroup: string;
  /** First 12 hex characters of an engine container id. */
  shortId?: string;
  pod?: PodIdentity;
  kind: ContainerKind;
  /** For a monitor process (conmon, LXC monitor): the id of the container it watches. */
  monitorOf?: string;
  /** Filled in by applyNames. */
  image?: string;
}

/** What a container engine knows about one id (container id, pod sandbox id or pod uid). */
export interface ContainerName {
  name: string;
  image?: string;
  /** `namespace` is set for Kubernetes pods; podman pods have none. */
  pod?: { name: string; namespace?: string };
}

/** Keyed by full 64-hex container id, pod sandbox id, or dashed pod uid. */
export type ContainerNames = ReadonlyMap<string, ContainerName>;

/** Longest directory name kernfs accepts (NAME_MAX); longer components cannot be real cgroups. */
const NAME_MAX = 255;
/** Display names are cut here: enough for `namespace/pod/container`, short enough for a table. */
const DISPLAY_MAX = 200;

interface Naming {
  id: string;
  name: string;
  shortId?: string;
  monitorOf?: string;
}

/** A run of consecutive path components; the capture groups of all of them, in order, feed `name`. */
interface ContainerRule {
  runtime: ContainerRuntime;
  kind: ContainerKind;
  window: readonly RegExp[];
  name: (captures: readonly string[]) => Naming;
}

const engine = (c: readonly string[]): Naming => {
  const id = c[c.length - 1];
  return { id, shortId: id.slice(0, 12), name: id.slice(0, 12) };
};
const conmon = (c: readonly string[]): Naming => {
  const id = c[c.length - 1];
  return { id: `conmon/${id}`, shortId: id.slice(0, 12), name: `${id.slice(0, 12)} (conmon)`, monitorOf: id };
};
const lxc = (c: readonly string[]): Naming => ({ id: `lxc/${c[0]}`, name: c[0] });
const lxcMonitor = (c: readonly string[]): Naming => ({
  id: `lxc-monitor/${c[0]}`,
  name: `${c[0]} (monitor)`,
  monitorOf: `lxc/${c[0]}`,
});
const lab = (c: readonly string[]): Naming => ({ id: `${c[0]}/${c[1]}`, name: c[1] });

/** A pod uid: a UUID (dashes, or underscores under the systemd driver), or 32 hex for static pods. */
const UID = '([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})';
const hex64 = /^([0-9a-f]{64})$/;
const podDir = new RegExp(`^pod${UID}$`);

const row = (
  runtime: ContainerRuntime,
  kind: ContainerKind,
  window: readonly RegExp[],
  name: ContainerRule['name'],
): ContainerRule => ({ runtime, kind, window, name });

/** Outermost match wins, so a container's own sub-cgroups (init.scope, nested engines) stay its. */
const CONTAINER_RULES: readonly ContainerRule[] = [
  row('lab', 'container', [/^crosstalk-lab$/, /^(run-[a-z0-9-]+)$/, /^([a-z0-9][a-z0-9_.-]*)$/], lab),
  row('docker', 'container', [/^docker-([0-9a-f]{64})\.scope$/], engine),
  row('docker', 'container', [/^docker$/, hex64], engine),
  row('containerd', 'container', [/^cri-containerd-([0-9a-f]{64})\.scope$/], engine),
  row('containerd', 'container', [/^nerdctl-([0-9a-f]{64})\.scope$/], engine),
  row('cri-o', 'other', [/^crio-conmon-([0-9a-f]{64})(?:\.scope)?$/], conmon),
  row('cri-o', 'container', [/^crio-([0-9a-f]{64})(?:\.scope)?$/], engine),
  row('podman', 'other', [/^libpod-conmon-([0-9a-f]{64})(?:\.scope)?$/], conmon),
  row('podman', 'container', [/^libpod-([0-9a-f]{64})(?:\.scope)?$/], engine),
  row('kubernetes', 'container', [podDir, hex64], engine),
  row('lxc', 'other', [/^lxc\.monitor\.([\s\S]+)$/], lxcMonitor),
  row('lxc', 'container', [/^lxc\.payload\.([\s\S]+)$/], lxc),
  row('lxc', 'container', [/^lxc$/, /^([\s\S]+)$/], lxc),
];

interface PodRule {
  pattern: RegExp;
  /** QoS class from the match and the parent component (cgroupfs encodes it in the parent). */
  qos: (m: RegExpExecArray, parent: string | undefined) => PodQos | undefined;
}

const POD_RULES: readonly PodRule[] = [
  {
    pattern: new RegExp(`^kubepods(?:-(burstable|besteffort))?-pod${UID}\\.slice$`),
    qos: (m) => (m[1] as PodQos | undefined) ?? 'guaranteed',
  },
  { pattern: podDir, qos: (_m, parent) => cgroupfsQos[parent ?? ''] },
];

const cgroupfsQos: Record<string, PodQos | undefined> = {
  kubepods: 'guaranteed',
  burstable: 'burstable',
  besteffort: 'besteffort',
};

/** systemd units, tried innermost first; `init.scope` counts only when no other unit encloses it. */
const SYSTEMD_RULES: readonly { kind: ContainerKind; pattern: RegExp }[] = [
  { kind: 'session', pattern: /^session-[A-Za-z0-9]+\.scope$/ },
  { kind: 'service', pattern: /^[^\0]+\.service$/ },
  { kind: 'other', pattern: /^[^\0]+\.(?:scope|socket|mount|swap)$/ },
];

/** A path split into components, with where each ends in the original string. */
interface SplitPath {
  parts: string[];
  ends: number[];
}

function splitPath(path: string): SplitPath {
  const parts: string[] = [];
  const ends: number[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i < path.length && path.charCodeAt(i) !== 47 /* / */) continue;
    if (i > start) {
      parts.push(path.slice(start, i));
      ends.push(i);
    }
    start = i + 1;
  }
  return { parts, ends };
}

/** Control characters would rewrite a terminal; cut long names so tables stay readable. */
export function displayText(s: string): string {
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
  return clean.length > DISPLAY_MAX ? `${clean.slice(0, DISPLAY_MAX - 1)}…` : clean;
}

/** The kernel never produces `.`, `..` or NUL in a cgroup path; such a path is not interpreted. */
function isInterpretable(p: SplitPath, path: string): boolean {
  if (path.includes('\0')) return false;
  return !p.parts.some((c) => c === '.' || c === '..');
}

/**
 * The identity of the cgroup `cgroupPath` (as perf prints it, relative to the cgroup root; a
 * filesystem path under /sys/fs/cgroup works too). `''` is the profile model's "unknown cgroup".
 */
export function containerOf(cgroupPath: string): ContainerIdentity {
  if (cgroupPath === '') {
    return {
      id: 'unknown',
      name: 'unknown (no cgroup in input)',
      runtime: 'unknown',
      cgroup: '',
      kind: 'other',
    };
  }
  const p = splitPath(cgroupPath);
  if (!isInterpretable(p, cgroupPath)) return plainCgroup(cgroupPath, p);
  if (p.parts.length === 0)
    return { id: 'host', name: 'host', runtime: 'host', cgroup: cgroupPath, kind: 'host' };
  return (
    matchContainer(cgroupPath, p) ??
    matchPod(cgroupPath, p) ??
    matchSystemd(cgroupPath, p) ??
    plainCgroup(cgroupPath, p)
  );
}

function plainCgroup(path: string, p: SplitPath): ContainerIdentity {
  const last = p.parts.length > 0 ? p.parts[p.parts.length - 1] : path;
  return { id: path, name: displayText(last), runtime: 'cgroup', cgroup: path, kind: 'other' };
}

/** Captures of `rule` applied at component `at`, or null when any component does not match. */
function matchWindow(rule: ContainerRule, parts: readonly string[], at: number): string[] | null {
  const captures: string[] = [];
  for (let k = 0; k < rule.window.length; k++) {
    const m = rule.window[k].exec(parts[at + k]);
    if (m === null) return null;
    captures.push(...m.slice(1));
  }
  return captures;
}

function matchContainer(path: string, p: SplitPath): ContainerIdentity | null {
  for (let at = 0; at < p.parts.length; at++) {
    if (p.parts[at].length > NAME_MAX) continue;
    for (const rule of CONTAINER_RULES) {
      const last = at + rule.window.length - 1;
      if (last >= p.parts.length || p.parts[last].length > NAME_MAX) continue;
      const captures = matchWindow(rule, p.parts, at);
      if (captures === null) continue;
      const naming = rule.name(captures);
      const identity: ContainerIdentity = {
        ...naming,
        name: displayText(naming.name),
        runtime: rule.runtime,
        kind: rule.kind,
        cgroup: path.slice(0, p.ends[last]),
      };
      const pod = podAbove(p, last);
      if (pod !== null) identity.pod = pod.pod;
      return identity;
    }
  }
  return null;
}

/** The nearest pod cgroup above component `below` (exclusive), with its index. */
function podAbove(p: SplitPath, below: number): { pod: PodIdentity; at: number } | null {
  for (let at = below - 1; at >= 0; at--) {
    const pod = podAt(p, at);
    if (pod !== null) return { pod, at };
  }
  return null;
}

function podAt(p: SplitPath, at: number): PodIdentity | null {
  const part = p.parts[at];
  if (part.length > NAME_MAX) return null;
  for (const rule of POD_RULES) {
    const m = rule.pattern.exec(part);
    if (m === null) continue;
    const pod: PodIdentity = { uid: m[m.length - 1].replaceAll('_', '-') };
    const qos = rule.qos(m, at > 0 ? p.parts[at - 1] : undefined);
    if (qos !== undefined) pod.qos = qos;
    return pod;
  }
  return null;
}

/** A pod's own cgroup (or a non-container cgroup inside it) is the pod. */
function matchPod(path: string, p: SplitPath): ContainerIdentity | null {
  const found = podAbove(p, p.parts.length);
  if (found === null) return null;
  const { pod, at } = found;
  return {
    id: pod.uid,
    name: `pod-${pod.uid.slice(0, 8)}`,
    runtime: 'kubernetes',
    cgroup: path.slice(0, p.ends[at]),
    pod,
    kind: 'pod',
  };
}

function matchSystemd(path: string, p: SplitPath): ContainerIdentity | null {
  let initScope = -1;
  for (let at = p.parts.length - 1; at >= 0; at--) {
    const part = p.parts[at];
    if (part.length > NAME_MAX) continue;
    if (part === 'init.scope') {
      if (initScope < 0) initScope = at;
      continue;
    }
    const rule = SYSTEMD_RULES.find((r) => r.pattern.test(part));
    if (rule !== undefined) return systemdUnit(path, p, at, rule.kind);
  }
  return initScope >= 0 ? systemdUnit(path, p, initScope, 'other') : null;
}

function systemdUnit(path: string, p: SplitPath, at: number, kind: ContainerKind): ContainerIdentity {
  const cgroup = path.slice(0, p.ends[at]);
  return { id: cgroup, name: displayText(p.parts[at]), runtime: 'systemd', cgroup, kind };
}

/**
 * `identity` with the names an engine reported: the container's name (`namespace/pod/container`
 * for Kubernetes, `pod/container` for podman pods), its image, and its pod's name. Identities the
 * engines did not know are returned unchanged; a container whose pod is known but not itself
 * keeps its short id under the pod's name.
 */
export function applyNames(identity: ContainerIdentity, names: ContainerNames): ContainerIdentity {
  const own = names.get(identity.monitorOf ?? identity.id);
  const podEntry = identity.pod === undefined ? undefined : names.get(identity.pod.uid);
  const podName = own?.pod ?? podEntry?.pod;
  if (own === undefined && podName === undefined) return identity;
  const named: ContainerIdentity = { ...identity };
  if (identity.pod !== undefined && podName !== undefined) {
    named.pod = { ...identity.pod, name: podName.name };
    if (podName.namespace !== undefined) named.pod.namespace = podName.namespace;
  }
  if (own?.image !== undefined) named.image = displayText(own.image);
  const leaf = identity.kind === 'pod' ? '' : (own?.name ?? identity.shortId ?? identity.name);
  const qualified = podName === undefined ? leaf : qualify(podName, leaf);
  named.name = displayText(
    identity.monitorOf === undefined ? qualified : `${qualified} (${monitorWord(identity)})`,
  );
  return named;
}

function qualify(pod: { name: string; namespace?: string }, leaf: string): string {
  const podPart = pod.namespace === undefined ? pod.name : `${pod.namespace}/${pod.name}`;
  return leaf === '' ? podPart : `${podPart}/${leaf}`;
}

function monitorWord(identity: ContainerIdentity): string {
  return identity.runtime === 'lxc' ? 'monitor' : 'conmon';
}

/** Names for container ids (from docker / crictl / podman at record time); identity when unknown. */
export type NameResolver = (identity: ContainerIdentity) => ContainerIdentity;

/** The host root and unknown cgroups are not containers: they cannot be an antagonist. */
export function isContainer(identity: ContainerIdentity): boolean {
  return identity.runtime !== 'host' && identity.runtime !== 'unknown';
}
