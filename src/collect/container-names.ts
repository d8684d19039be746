/**
 * Human names for container ids, asked of the container engines present on this host: docker,
 * crictl (containerd and CRI-O under Kubernetes) and podman. An engine that is not installed or not
 * running is normal: each source answers with what it got and a note, and nothing here throws.
 * Commands run from argument arrays (no shell) with a deadline; their output is untrusted and
 * parsed defensively: entries without a 64-hex id or a string name are skipped and counted.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ContainerName } from '../analysis/containers.ts';
import { type ApiResult, apiGet, type EngineWithApi, engineSocket } from './engine-api.ts';

export type EngineSource = 'docker' | 'crictl' | 'podman';

export type CommandResult =
  /** The binary is not on PATH (spawn said ENOENT). */
  | { kind: 'absent' }
  /** No exit within the deadline; the process group was killed. */
  | { kind: 'timeout' }
  /** Could not start for another reason (EACCES, a directory on PATH...). */
  | { kind: 'failed'; reason: string }
  | { kind: 'exited'; code: number | null; stdout: string; stderr: string; truncated: boolean };

export type CommandRunner = (
  command: string,
  args: readonly string[],
  opts: { timeoutMs: number; env: NodeJS.ProcessEnv },
) => Promise<CommandResult>;

export interface SourceNote {
  source: EngineSource;
  /** ok: the engine answered (maybe with nothing); unreachable: client present, engine not. */
  status: 'ok' | 'absent' | 'unreachable' | 'timeout' | 'unparsable';
  /** Ids named by this source (containers, pod sandboxes and pod uids). */
  entries: number;
  /** Entries in the output that were skipped as malformed. */
  ignored: number;
  /** One line for the user, e.g. `docker: client present, engine not reachable (...)`. */
  note: string;
  /** The engine's API socket exists: it runs here, so no answer means names are missing. */
  present?: boolean;
  /** When the names were asked: before or after the window, or the engine's events of the window. */
  when?: 'before' | 'after' | 'events';
}

export interface ResolvedNames {
  /** Full 64-hex container id, pod sandbox id or dashed pod uid -> what the engine calls it. */
  names: Map<string, ContainerName>;
  notes: SourceNote[];
}

export interface ResolveOptions {
  /** Runs one command. Default: spawnCommand (real processes). Tests inject recorded output. */
  runner?: CommandRunner;
  /** Deadline per command, ms. Default 2000: a local engine lists containers in well under that. */
  timeoutMs?: number;
  /** Engines to ask, in order of precedence when two name the same id. Default all three. */
  sources?: readonly EngineSource[];
  /** Environment of the commands; its PATH decides which clients exist. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Asks the API over this engine's socket (engine-api.ts). Default apiGet; tests inject answers. */
  api?: (socketPath: string, path: string, timeoutMs: number) => Promise<ApiResult>;
  /** Labels the notes (before / after the window). */
  when?: 'before' | 'after';
}

/** Output beyond this is cut: 32 MiB holds ~50k `docker ps` lines, far past any real host. */
const MAX_STDOUT = 32 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;
/** Names, images and namespaces longer than this are not real (DNS names stop at 253). */
const MAX_FIELD = 1024;
const HEX64 = /^[0-9a-f]{64}$/;
const POD_UID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;

/** Asks every engine at once; the slowest source bounds the wait: one deadline (crictl runs its two listings side by side). */
export async function resolveContainerNames(opts: ResolveOptions = {}): Promise<ResolvedNames> {
  const ctx = contextOf(opts);
  const sources = opts.sources ?? (['docker', 'crictl', 'podman'] as const);
  return merged(await Promise.all(sources.map((s) => ASK[s](ctx))), opts.when);
}

/**
 * Names of the containers the engines created, started or removed between `since` and `until`
 * (seconds since the epoch), from their event logs: a `--rm` container that lived only inside the
 * recording window is in neither listing. Docker and podman, over their sockets, else their CLIs.
 */
export async function resolveEventNames(
  since: number,
  until: number,
  opts: ResolveOptions = {},
): Promise<ResolvedNames> {
  const ctx = contextOf(opts);
  const engines = (opts.sources ?? ['docker', 'podman']).filter(
    (s): s is EngineWithApi => s === 'docker' || s === 'podman',
  );
  const answers = await Promise.all(
    engines.map((e) => askEvents(ctx, e, Math.floor(since), Math.ceil(until))),
  );
  return merged(answers, 'events');
}

function merged(answers: SourceAnswer[], when: SourceNote['when']): ResolvedNames {
  const names = new Map<string, ContainerName>();
  for (const a of answers) {
    for (const [id, name] of a.names) if (!names.has(id)) names.set(id, { ...name, engine: a.note.source });
  }
  const notes = answers.map((a) => (when === undefined ? a.note : { ...a.note, when }));
  return { names, notes };
}

function contextOf(opts: ResolveOptions): SourceContext {
  return {
    run: opts.runner ?? spawnCommand,
    api: opts.api ?? apiGet,
    timeoutMs: opts.timeoutMs ?? 2000,
    env: opts.env ?? process.env,
  };
}

interface SourceContext {
  run: CommandRunner;
  api: (socketPath: string, path: string, timeoutMs: number) => Promise<ApiResult>;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
}

interface SourceAnswer {
  names: Map<string, ContainerName>;
  note: SourceNote;
}

/** What one listing command's output yielded. */
export interface EngineListing {
  names: Map<string, ContainerName>;
  ignored: number;
}

/**
 * `docker ps --format '{{json .}}'` makes the daemon compute every container's size (the template
 * holds .Size): 2.1-2.3 s with one container of 300k files, 0.23 s without sizes. So the CLI is
 * given only the fields read here, and the API is asked without sizes.
 */
const DOCKER_PS_FORMAT =
  '{"ID":{{json .ID}},"Names":{{json .Names}},"Image":{{json .Image}},"Labels":{{json .Labels}}}';

const ASK: Record<EngineSource, (ctx: SourceContext) => Promise<SourceAnswer>> = {
  docker: (ctx) =>
    viaApiOr(ctx, 'docker', '/v1.41/containers/json?all=1&size=0', parseDockerApiList, () =>
      askOne(ctx, 'docker', ['ps', '-a', '--no-trunc', '--format', DOCKER_PS_FORMAT], parseDockerPs),
    ),
  podman: (ctx) =>
    viaApiOr(ctx, 'podman', '/v4.0.0/libpod/containers/json?all=true', parsePodmanPs, () =>
      askOne(ctx, 'podman', ['ps', '-a', '--format', 'json'], parsePodmanPs),
    ),
  crictl: askCrictl,
};

/**
 * Asks the engine's API when its socket exists; the CLI only when there is no socket (a remote
 * or differently placed engine the CLI is configured for). An engine whose socket exists but does
 * not answer in time is reported, not retried through its CLI: the CLI asks the same daemon.
 */
async function viaApiOr(
  ctx: SourceContext,
  source: EngineWithApi,
  path: string,
  parse: (body: string) => EngineListing | string,
  cli: () => Promise<SourceAnswer>,
): Promise<SourceAnswer> {
  const socket = engineSocket(source, ctx.env);
  const r = await ctx.api(socket, path, ctx.timeoutMs);
  if (r.kind === 'no-socket') return cli();
  const answer = apiAnswer(source, r, ctx.timeoutMs, parse);
  answer.note.present = true;
  return answer;
}

function apiAnswer(
  source: EngineSource,
  r: Exclude<ApiResult, { kind: 'no-socket' }>,
  timeoutMs: number,
  parse: (body: string) => EngineListing | string,
): SourceAnswer {
  if (r.kind === 'answered' && r.status === 200) {
    const parsed = parse(r.body);
    return typeof parsed === 'string' ? unparsable(source, parsed) : okAnswer(source, parsed, r.truncated);
  }
  const text =
    r.kind === 'timeout'
      ? `engine present, no answer within ${timeoutMs} ms`
      : r.kind === 'failed'
        ? `engine present, its socket refused the request (${r.reason})`
        : `engine present, answered HTTP ${r.status} (${firstLine(r.body)})`;
  const status = r.kind === 'timeout' ? 'timeout' : 'unreachable';
  return { names: new Map(), note: { source, status, entries: 0, ignored: 0, note: `${source}: ${text}` } };
}

/** Engine events of a window: the API when the socket exists, else `docker|podman events`. */
async function askEvents(ctx: SourceContext, source: EngineWithApi, since: number, until: number) {
  const filters = encodeURIComponent(JSON.stringify({ type: ['container'] }));
  const path =
    source === 'docker'
      ? `/v1.41/events?since=${since}&until=${until}&filters=${filters}`
      : `/v4.0.0/libpod/events?since=${since}&until=${until}&stream=false&filters=${filters}`;
  const cli = () => {
    const args = ['events', '--since', String(since), '--until', String(until), '--filter', 'type=container'];
    return askOne(ctx, source, [...args, '--format', '{{json .}}'], parseEvents);
  };
  return viaApiOr(ctx, source, path, parseEvents, cli);
}

async function askOne(
  ctx: SourceContext,
  source: EngineSource,
  args: readonly string[],
  parse: (stdout: string) => EngineListing | string,
): Promise<SourceAnswer> {
  const r = await ctx.run(source, args, { timeoutMs: ctx.timeoutMs, env: ctx.env });
  if (!answered(r)) return failedAnswer(source, r, ctx.timeoutMs);
  const parsed = parse(r.stdout);
  if (typeof parsed === 'string') return unparsable(source, parsed);
  return okAnswer(source, parsed, r.truncated);
}

/** crictl lists containers and pod sandboxes separately; the sandboxes give pod names. */
async function askCrictl(ctx: SourceContext): Promise<SourceAnswer> {
  const runOpts = { timeoutMs: ctx.timeoutMs, env: ctx.env };
  const [ps, pods] = await Promise.all([
    ctx.run('crictl', ['ps', '-a', '-o', 'json'], runOpts),
    ctx.run('crictl', ['pods', '-o', 'json'], runOpts),
  ]);
  if (!answered(ps)) return failedAnswer('crictl', ps, ctx.timeoutMs);
  const sandboxes = answered(pods) ? parseCrictlPods(pods.stdout) : failure(pods, ctx.timeoutMs).text;
  const containers = parseCrictlPs(ps.stdout, typeof sandboxes === 'string' ? new Map() : sandboxes.names);
  if (typeof containers === 'string') return unparsable('crictl', containers);
  const merged: EngineListing = { names: new Map(containers.names), ignored: containers.ignored };
  if (typeof sandboxes !== 'string') {
    for (const [id, n] of sandboxes.names) if (!merged.names.has(id)) merged.names.set(id, n);
    merged.ignored += sandboxes.ignored;
  }
  const answer = okAnswer('crictl', merged, ps.truncated);
  if (typeof sandboxes === 'string') answer.note.note += `; pod listing: ${sandboxes}`;
  return answer;
}

/** Exit 0, or output cut at the cap (we killed it): either way the output is worth parsing. */
function answered(r: CommandResult): r is Extract<CommandResult, { kind: 'exited' }> {
  return r.kind === 'exited' && (r.code === 0 || r.truncated);
}

function okAnswer(source: EngineSource, parsed: EngineListing, truncated: boolean): SourceAnswer {
  const n = parsed.names.size;
  let note = `${source}: ${n} ${n === 1 ? 'id' : 'ids'} named`;
  if (parsed.ignored > 0)
    note += `, ${parsed.ignored} malformed ${parsed.ignored === 1 ? 'entry' : 'entries'} skipped`;
  if (truncated) note += `, output cut at ${MAX_STDOUT} bytes`;
  return {
    names: parsed.names,
    note: { source, status: 'ok', entries: n, ignored: parsed.ignored, note },
  };
}

function unparsable(source: EngineSource, why: string): SourceAnswer {
  return {
    names: new Map(),
    note: {
      source,
      status: 'unparsable',
      entries: 0,
      ignored: 0,
      note: `${source}: output not understood (${why})`,
    },
  };
}

function failedAnswer(source: EngineSource, r: CommandResult, timeoutMs: number): SourceAnswer {
  const { status, text } = failure(r, timeoutMs);
  return { names: new Map(), note: { source, status, entries: 0, ignored: 0, note: `${source}: ${text}` } };
}

function failure(r: CommandResult, timeoutMs: number): { status: SourceNote['status']; text: string } {
  switch (r.kind) {
    case 'absent':
      return { status: 'absent', text: 'not installed (not on PATH)' };
    case 'timeout':
      return { status: 'timeout', text: `client present, no answer within ${timeoutMs} ms` };
    case 'failed':
      return { status: 'unreachable', text: `client present but could not be run (${r.reason})` };
    case 'exited': {
      const why = firstLine(r.stderr) || `exit status ${r.code ?? 'killed by a signal'}`;
      return { status: 'unreachable', text: `client present, engine not reachable (${why})` };
    }
  }
}

/** The first non-empty stderr line, without control characters, short enough for one note. */
function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  const clean = line.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return clean.length > 160 ? `${clean.slice(0, 159)}…` : clean;
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

/**
 * Runs `command args` without a shell, in its own process group so a deadline kills whatever it
 * started too. Resolves (never rejects) on exit, on the deadline, or when the binary is missing.
 */
export const spawnCommand: CommandRunner = (command, args, opts) =>
  new Promise((resolve) => {
    const stdout = new CappedOutput(MAX_STDOUT);
    const stderr = new CappedOutput(MAX_STDERR);
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (r: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env, detached: true });
    } catch (e) {
      // Arguments or environment the OS refuses (e.g. a NUL byte): not something to retry.
      finish({ kind: 'failed', reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    const killGroup = () => killProcessGroup(child.pid);
    timer = setTimeout(() => {
      killGroup();
      child.stdout.destroy();
      child.stderr.destroy();
      finish({ kind: 'timeout' });
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      if (!stdout.push(b)) killGroup();
    });
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    child.on('error', (e: NodeJS.ErrnoException) =>
      finish(e.code === 'ENOENT' ? { kind: 'absent' } : { kind: 'failed', reason: e.code ?? e.message }),
    );
    child.on('close', (code) =>
      finish({
        kind: 'exited',
        code,
        stdout: stdout.text(),
        stderr: stderr.text(),
        truncated: stdout.truncated,
      }),
    );
  });

function killProcessGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group has already exited.
  }
}

/** Collects a stream's bytes up to a limit; push() says false once the limit is passed. */
class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}

  push(b: Buffer): boolean {
    if (this.truncated) return false;
    const room = this.limit - this.size;
    this.chunks.push(b.length > room ? b.subarray(0, room) : b);
    this.size += Math.min(b.length, room);
    if (b.length > room) this.truncated = true;
    return !this.truncated;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
