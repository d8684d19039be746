/**
 * Parsers of container engines' listings (docker API and CLI, docker events, crictl, podman).
 * Their output is untrusted: entries without a 64-hex id or a string name are skipped and counted.
 */
import type { ContainerName } from '../analysis/containers.ts';

/** Names, images and namespaces longer than this are not real (DNS names stop at 253). */
const MAX_FIELD = 1024;
const HEX64 = /^[0-9a-f]{64}$/;
const POD_UID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;

/** What one listing command's output yielded. */
export interface EngineListing {
  names: Map<string, ContainerName>;
  ignored: number;
}

/** A string field of an untrusted object, or undefined when missing, empty, not text or absurd. */
function textField(obj: unknown, key: string): string | undefined {
  if (typeof obj !== 'object' || obj === null || !Object.hasOwn(obj, key)) return undefined;
  const v = (obj as Record<string, unknown>)[key];
  return typeof v === 'string' && v !== '' && v.length <= MAX_FIELD ? v : undefined;
}

function objectField(obj: unknown, key: string): unknown {
  if (typeof obj !== 'object' || obj === null || !Object.hasOwn(obj, key)) return undefined;
  return (obj as Record<string, unknown>)[key];
}

function withImage(entry: ContainerName, image: string | undefined): ContainerName {
  if (image !== undefined) entry.image = image;
  return entry;
}

/*
 * Docker Engine API `GET /containers/json?all=1&size=0` (v1.41):
 *   [{"Id": "<64 hex>", "Names": ["/web"], "Image": "nginx:1.25", "Labels": {"k": "v"}, …}]
 */
export function parseDockerApiList(body: string): EngineListing | string {
  const rows = parseJson(body);
  if (!Array.isArray(rows)) return 'not a JSON array';
  const names = new Map<string, ContainerName>();
  let ignored = 0;
  for (const row of rows) {
    const id = textField(row, 'Id');
    const list = objectField(row, 'Names');
    const first = Array.isArray(list) && typeof list[0] === 'string' ? list[0].replace(/^\//, '') : '';
    const labels = new Map<string, string>();
    for (const key of KUBELET_LABELS) {
      const v = textField(objectField(row, 'Labels'), key);
      if (v !== undefined) labels.set(key, v);
    }
    const entry = dockerEntry(labels, first, textField(row, 'Image'));
    if (id === undefined || !HEX64.test(id) || entry === undefined) ignored++;
    else names.set(id, entry);
  }
  return { names, ignored };
}

const KUBELET_LABELS = [
  'io.kubernetes.container.name',
  'io.kubernetes.pod.name',
  'io.kubernetes.pod.namespace',
];

/** A docker container's entry: its kubelet name and pod when cri-dockerd ran it, else its own name. */
function dockerEntry(
  labels: ReadonlyMap<string, string>,
  name: string | undefined,
  image: string | undefined,
): ContainerName | undefined {
  const shown = labels.get('io.kubernetes.container.name') ?? name;
  if (!shown || shown.length > MAX_FIELD) return undefined;
  const entry = withImage({ name: shown }, image);
  const podName = labels.get('io.kubernetes.pod.name');
  const namespace = labels.get('io.kubernetes.pod.namespace');
  if (podName !== undefined)
    entry.pod = namespace === undefined ? { name: podName } : { name: podName, namespace };
  return entry;
}

/*
 * Container events, one JSON object per line (Docker API `GET /events`, `docker events --format
 * '{{json .}}'`, podman's libpod events, which use Docker's shape):
 *   {"status":"create","id":"38cd…e869","from":"ctlab-test:1","Type":"container","Action":"create",
 *    "Actor":{"ID":"38cd…e869","Attributes":{"image":"ctlab-test:1","name":"shorty"}},"time":1796363437,…}
 * `podman events --format '{{json .}}'` prints {"ID": …, "Image": …, "Name": …, "Type": "container", …}.
 */
export function parseEvents(body: string): EngineListing {
  const names = new Map<string, ContainerName>();
  let ignored = 0;
  for (const line of body.split('\n')) {
    if (line.trim() === '') continue;
    const ev = parseJson(line);
    const actor = objectField(ev, 'Actor');
    const attrs = objectField(actor, 'Attributes');
    const id = textField(actor, 'ID') ?? textField(ev, 'ID') ?? textField(ev, 'id');
    const name = textField(attrs, 'name') ?? textField(ev, 'Name');
    if (id === undefined || !HEX64.test(id) || name === undefined) {
      ignored++;
      continue;
    }
    if (!names.has(id))
      names.set(id, withImage({ name }, textField(attrs, 'image') ?? textField(ev, 'Image')));
  }
  return { names, ignored };
}

/*
 * `docker ps -a --no-trunc --format '{{json .}}'` prints one object per line (docker CLI 20+):
 *   {"Command":"\"/docker-entrypoint.…\"","CreatedAt":"2024-05-02 10:11:12 +0000 UTC",
 *    "ID":"be545ad7…6712","Image":"nginx:1.25","Labels":"maintainer=NGINX Docker Maintainers …",
 *    "Names":"web","Networks":"bridge","State":"running","Status":"Up 2 hours",…}
 * Names is comma-separated when links add aliases; Labels is `k=v,k=v` (cri-dockerd adds
 * io.kubernetes.{container.name,pod.name,pod.namespace} to containers it runs for the kubelet,
 * whose docker names are then `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`).
 */
export function parseDockerPs(stdout: string): EngineListing {
  const names = new Map<string, ContainerName>();
  let ignored = 0;
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const row = parseJson(line);
    const id = textField(row, 'ID');
    const name = textField(row, 'Names')?.split(',')[0].replace(/^\//, '');
    const entry = dockerEntry(dockerLabels(textField(row, 'Labels')), name, textField(row, 'Image'));
    if (id === undefined || !HEX64.test(id) || entry === undefined) ignored++;
    else names.set(id, entry);
  }
  return { names, ignored };
}

/** The kubelet labels of a docker `Labels` string; other labels may hold commas, these cannot. */
function dockerLabels(labels: string | undefined): Map<string, string> {
  const found = new Map<string, string>();
  for (const kv of labels?.split(',') ?? []) {
    const eq = kv.indexOf('=');
    const key = kv.slice(0, eq);
    if (eq > 0 && key.startsWith('io.kubernetes.') && eq < kv.length - 1) found.set(key, kv.slice(eq + 1));
  }
  return found;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/*
 * `crictl pods -o json` (cri-tools, protojson with EmitDefaultValues, lowerCamelCase fields):
 *   {"items": [{"id": "<64 hex sandbox id>", "metadata": {"name": "web-7d9f8", "uid":
 *    "b3479825-6b91-…", "namespace": "default", "attempt": 0}, "state": "SANDBOX_READY", …}]}
 * Each pod names two ids: its sandbox (pause) container and its uid (the pod's own cgroup).
 */
export function parseCrictlPods(stdout: string): EngineListing | string {
  const items = objectField(parseJson(stdout), 'items');
  if (!Array.isArray(items)) return 'no "items" array';
  const names = new Map<string, ContainerName>();
  let ignored = 0;
  for (const item of items) {
    const id = textField(item, 'id');
    const meta = objectField(item, 'metadata');
    const name = textField(meta, 'name');
    const namespace = textField(meta, 'namespace');
    const uid = textField(meta, 'uid')?.toLowerCase();
    if (id === undefined || !HEX64.test(id) || name === undefined) {
      ignored++;
      continue;
    }
    const pod = namespace === undefined ? { name } : { name, namespace };
    names.set(id, { name: 'sandbox', pod });
    if (uid !== undefined && POD_UID.test(uid)) names.set(uid, { name, pod });
  }
  return { names, ignored };
}

/*
 * `crictl ps -a -o json`:
 *   {"containers": [{"id": "<64 hex>", "podSandboxId": "<64 hex>", "metadata": {"name": "nginx",
 *    "attempt": 0}, "image": {"image": "docker.io/library/nginx:1.25", "annotations": {},
 *    "userSpecifiedImage": "nginx:1.25"}, "imageRef": "docker.io/library/nginx@sha256:…",
 *    "state": "CONTAINER_RUNNING", "createdAt": "1714644672000000000", "labels":
 *    {"io.kubernetes.container.name": "nginx", "io.kubernetes.pod.name": "web-7d9f8",
 *    "io.kubernetes.pod.namespace": "default", "io.kubernetes.pod.uid": "b3479825-…"}, …}]}
 * The pod comes from the sandbox listing, else from the container's kubelet labels.
 */
export function parseCrictlPs(
  stdout: string,
  sandboxes: ReadonlyMap<string, ContainerName>,
): EngineListing | string {
  const containers = objectField(parseJson(stdout), 'containers');
  if (!Array.isArray(containers)) return 'no "containers" array';
  const names = new Map<string, ContainerName>();
  let ignored = 0;
  for (const c of containers) {
    const id = textField(c, 'id');
    const name = textField(objectField(c, 'metadata'), 'name');
    if (id === undefined || !HEX64.test(id) || name === undefined) {
      ignored++;
      continue;
    }
    const entry = withImage({ name }, crictlImageOf(c));
    const pod = sandboxes.get(textField(c, 'podSandboxId') ?? '')?.pod ?? crictlLabelPod(c);
    if (pod !== undefined) entry.pod = pod;
    names.set(id, entry);
  }
  return { names, ignored };
}

/** containerd often reports only `sha256:<digest>`; prefer the first reference a person wrote. */
function crictlImageOf(c: unknown): string | undefined {
  const image = objectField(c, 'image');
  const refs = [textField(image, 'userSpecifiedImage'), textField(image, 'image'), textField(c, 'imageRef')];
  const present = refs.filter((r): r is string => r !== undefined);
  return present.find((r) => !r.startsWith('sha256:')) ?? present[0];
}

function crictlLabelPod(c: unknown): ContainerName['pod'] {
  const labels = objectField(c, 'labels');
  const name = textField(labels, 'io.kubernetes.pod.name');
  const namespace = textField(labels, 'io.kubernetes.pod.namespace');
  if (name === undefined) return undefined;
  return namespace === undefined ? { name } : { name, namespace };
}

/*
 * `podman ps -a --format json` (podman 2+) prints one array:
 *   [{"AutoRemove": false, "Command": ["nginx", "-g", "daemon off;"], "Created": 1714644672,
 *     "Id": "<64 hex>", "Image": "docker.io/library/nginx:1.25", "ImageID": "<64 hex>",
 *     "IsInfra": false, "Names": ["web"], "Pod": "<64 hex or empty>", "PodName": "", …}]
 * podman 1.x spelt the id `ID` and Names as a string; both are accepted.
 */
export function parsePodmanPs(stdout: string): EngineListing | string {
  const rows = parseJson(stdout);
  if (!Array.isArray(rows)) return 'not a JSON array';
  const names = new Map<string, ContainerName>();
  let ignored = 0;
  for (const row of rows) {
    const id = textField(row, 'Id') ?? textField(row, 'ID');
    const name = podmanNameOf(row);
    if (id === undefined || !HEX64.test(id) || name === undefined) {
      ignored++;
      continue;
    }
    const entry = withImage({ name }, textField(row, 'Image'));
    const podName = textField(row, 'PodName');
    if (podName !== undefined) entry.pod = { name: podName };
    names.set(id, entry);
  }
  return { names, ignored };
}

function podmanNameOf(row: unknown): string | undefined {
  const names = objectField(row, 'Names');
  if (Array.isArray(names)) return typeof names[0] === 'string' && names[0] !== '' ? names[0] : undefined;
  return textField(row, 'Names');
}
