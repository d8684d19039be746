/**
 * Human names for container ids, asked of the container engines present on this host: docker,
 * crictl (containerd and CRI-O under Kubernetes) and podman. An engine that is not installed or not
 * running is normal: each source answers with what it got and a note, and nothing here throws.
 * Commands run from argument arrays (no shell) with a deadline (command-runner.ts); their output is
 * untrusted and parsed defensively (engine-listings.ts).
 */
import type { ContainerName } from '../analysis/containers.ts';
import { type CommandResult, type CommandRunner, MAX_STDOUT, spawnCommand } from './command-runner.ts';
import { type ApiResult, apiGet, type EngineWithApi, engineSocket } from './engine-api.ts';
import {
  type EngineListing,
  parseCrictlPods,
  parseCrictlPs,
  parseDockerApiList,
  parseDockerPs,
  parseEvents,
  parsePodmanPs,
} from './engine-listings.ts';

export type EngineSource = 'docker' | 'crictl' | 'podman';

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
