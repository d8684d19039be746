/**
 * `crosstalk lab list`, `crosstalk lab run NAME` and `crosstalk demo`: reproduce kernel contention
 * between cgroup containers on this host and measure it. Recording and diagnosis plug in through
 * LabHooks (see registerLab / registerDemo).
 */
import { type Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { probeHostLoad } from '../collect/host-load.ts';
import { LabEngineError } from '../lab/engine.ts';
import {
  effectLines,
  evidenceLines,
  fixVerdict,
  groundTruthLines,
  phaseTable,
  scalingTable,
  type TextStyle,
} from '../lab/latency-table.ts';
import { LabWorkloadError } from '../lab/phase.ts';
import { LabBusyError } from '../lab/run-state.ts';
import { LabPermissionError, LabUsageError, listScenarios, runScenario } from '../lab/runner.ts';
import type { ContendedContext, ScenarioResult } from '../lab/types.ts';
import { jsonText } from '../report/json.ts';
import { CliError } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { hostLoadLine } from './host-load-line.ts';

/**
 * Where recording and analysis plug in. Both are optional: without them the lab prints latency
 * tables only.
 */
export interface LabHooks<T = unknown> {
  /** Runs while the unfixed containers are loaded (record system-wide here); its result lands in `contended.value`. */
  onContended?: (ctx: ContendedContext, flags: LabFlags) => Promise<T>;
  /**
   * What follows the tables: `lines` for the terminal (the finding next to the ground truth, the
   * report's path) and `data` for --json (the findings, the comparison).
   */
  describe?: (result: ScenarioResult<T>, flags: LabFlags) => Promise<LabDescription>;
}

export interface LabDescription {
  lines: string[];
  data?: unknown;
}

/** Flags of `lab run` and `demo` that the hooks use. */
export interface LabFlags {
  html?: string;
  force?: boolean;
  store?: string;
  callGraph?: string;
}

/** `crosstalk demo` defaults: about a minute on a 2-vCPU machine (5 phases of ~10 s plus building). */
export const demoDefaults = {
  scenario: 'fadvise-logger',
  containers: 4,
  // Three short runs of every phase, interleaved, show the spread a single run would hide.
  durationSeconds: 3,
  runs: 3,
} as const;

interface RunFlags extends LabFlags {
  wait?: number;
  containers?: number;
  duration?: number;
  runs?: number;
  json?: boolean;
  engine?: 'docker' | 'podman';
}

function engineName(v: string): 'docker' | 'podman' {
  if (v === 'docker' || v === 'podman') return v;
  throw new InvalidArgumentError('expected docker or podman');
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function positiveInteger(v: string): number {
  const n = positiveNumber(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function styleFor(enabled: boolean): TextStyle {
  const c = pc.createColors(enabled);
  return { bold: c.bold, dim: c.dim };
}

function toCliError(e: unknown): unknown {
  if (e instanceof LabUsageError) return new CliError(e.message, ExitCode.usage);
  if (e instanceof LabPermissionError) {
    return new CliError(`${e.message}; run it as root (sudo crosstalk ...)`, ExitCode.noPermission);
  }
  if (e instanceof LabBusyError) return new CliError(e.message, ExitCode.unavailable);
  if (e instanceof LabWorkloadError) return new CliError(e.message, ExitCode.unavailable);
  if (e instanceof LabEngineError) return new CliError(e.message, ExitCode.unavailable);
  return e;
}

/** The demo shows the 1-vs-N table only; `lab run` shows every phase too. */
function printResult(result: ScenarioResult, describe: string[], demo: boolean): void {
  const style = styleFor(process.stdout.isTTY === true);
  const scaling = scalingTable(result, style);
  const out: string[] =
    demo && scaling.length > 0
      ? [style.bold(`${result.scenario}: ${result.title}`)]
      : phaseTable(result, style);
  if (scaling.length > 0) out.push('', ...scaling);
  out.push('', ...effectLines(result));
  const evidence = evidenceLines(result);
  if (evidence.length > 0) out.push(...evidence);
  out.push(style.bold(fixVerdict(result)));
  out.push('', ...groundTruthLines(result));
  if (describe.length > 0) out.push('', ...describe);
  for (const n of result.notes) out.push(style.dim(`note: ${n}`));
  process.stdout.write(`${out.join('\n')}\n`);
}

async function runAndPrint<T>(
  name: string,
  flags: RunFlags,
  hooks: LabHooks<T>,
  demo = false,
): Promise<void> {
  const quiet = flags.json === true && process.stderr.isTTY !== true;
  // Before the demo's own load: what else keeps the host busy (said when significant).
  const hostLoad = demo ? await probeHostLoad({ seconds: 1 }) : null;
  const loadLine = hostLoad ? hostLoadLine(hostLoad) : null;
  if (loadLine !== null && !quiet) process.stderr.write(`crosstalk demo: ${loadLine}\n`);
  let result: ScenarioResult<T>;
  try {
    result = await runScenario<T>(name, {
      containers: flags.containers,
      durationSeconds: flags.duration,
      runs: flags.runs,
      waitSeconds: flags.wait,
      engine: flags.engine,
      onContended: hooks.onContended ? (ctx) => hooks.onContended!(ctx, flags) : undefined,
      onProgress: quiet ? undefined : (m) => process.stderr.write(`crosstalk lab: ${m}\n`),
    });
  } catch (e) {
    throw toCliError(e);
  }
  const described = hooks.describe ? await hooks.describe(result, flags) : { lines: [] };
  if (flags.json) {
    const before = hostLoad ? { hostLoadBefore: { ...hostLoad, significant: loadLine !== null } } : {};
    process.stdout.write(jsonText({ ...result, diagnosis: described.data ?? null, ...before }));
  } else
    printResult(
      result as ScenarioResult,
      loadLine === null ? described.lines : [loadLine, ...described.lines],
      demo,
    );
}

function printList(json: boolean): void {
  const list = listScenarios();
  if (json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return;
  }
  const style = styleFor(process.stdout.isTTY === true);
  const out: string[] = [];
  for (const s of list) {
    const d = s.defaults;
    out.push(style.bold(`${s.name}`) + `  ${s.title}`);
    out.push(`  ${s.summary}`);
    out.push(
      style.dim(`  defaults: --containers ${d.containers} --duration ${d.durationSeconds} --runs ${d.runs}`),
      '',
    );
  }
  process.stdout.write(out.join('\n'));
}

/** Output, recording and concurrency options shared by `lab run` and `demo`. */
function withRunOutputOptions(command: Command): Command {
  return command
    .option('--json', 'print the full result as JSON')
    .option('--html <file>', 'also write the HTML report of the contended recording here')
    .option('--force', 'replace the --html file if it exists')
    .option('--store <dir>', 'run store for the contended recording')
    .option('--call-graph <mode>', 'fp or dwarf for the contended recording', 'fp')
    .option(
      '--wait <seconds>',
      'wait this long for another lab run to finish (default: refuse at once)',
      positiveNumber,
    )
    .option(
      '--engine <name>',
      'run the containers on docker or podman (image built offline; default: built-in cgroup containers)',
      engineName,
    );
}

export function registerLab<T = unknown>(program: Command, hooks: LabHooks<T> = {}): void {
  const lab = program
    .command('lab')
    .description(
      'reproduce kernel contention between containers on this host (needs root; uses real cgroups)',
    );
  lab
    .command('list')
    .description('list the lab scenarios')
    .option('--json', 'print as JSON')
    .action((flags: { json?: boolean }) => printList(flags.json === true));
  const run = lab
    .command('run')
    .description('run a scenario: the victim alone, with fixed neighbours, with unfixed neighbours')
    .argument('<name>', 'scenario name (see crosstalk lab list)')
    .option('--containers <n>', 'containers in the contended phases, the victim included', positiveInteger)
    .option('--duration <seconds>', 'seconds the victim is measured per phase', positiveNumber)
    .option('--runs <n>', 'repetitions of every phase (for the spread)', positiveInteger);
  withRunOutputOptions(run).action(async (name: string, flags: RunFlags) => runAndPrint(name, flags, hooks));
}

export function registerDemo<T = unknown>(program: Command, hooks: LabHooks<T> = {}): void {
  const demo = program
    .command('demo')
    .description(
      'fadvise-logger end to end: query latency with 1 and 4 containers, with and without the fix (~1 minute, needs root)',
    )
    .option('--containers <n>', 'copies of the query server', positiveInteger, demoDefaults.containers)
    .option(
      '--duration <seconds>',
      'seconds measured per phase',
      positiveNumber,
      demoDefaults.durationSeconds,
    )
    .option('--runs <n>', 'repetitions of every phase', positiveInteger, demoDefaults.runs);
  withRunOutputOptions(demo).action(async (flags: RunFlags) =>
    runAndPrint(demoDefaults.scenario, flags, hooks, true),
  );
}
