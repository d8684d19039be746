/** `crosstalk analyze <input...>`: terminal summary or `--json`; several inputs are several hosts. */
import type { Command } from 'commander';
import { type AnalysisResult, analyzeProfile } from '../analysis/analyze.ts';
import { Attributions } from '../analysis/attribute.ts';
import { diagnose } from '../analysis/diagnose.ts';
import type { Finding } from '../analysis/findings.ts';
import { victimSide } from '../analysis/victim-harm.ts';
import { hostsOf, selectHost } from '../model/hosts.ts';
import type { CallGraphMode, Profile } from '../model/profile.ts';
import { analyzeJsonText, type HostFinding } from '../report/json.ts';
import { renderAnalysis } from '../report/terminal.ts';
import { CliError } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { writeHtml } from './html.ts';
import { hostRefsOf, type LoadedInput, loadInputs } from './inputs.ts';
import { progress } from './progress.ts';

interface AnalyzeFlags {
  html?: string;
  force?: boolean;
  host: string[];
  store?: string;
  threads?: string;
  json?: boolean;
  event?: string;
  callGraph?: string;
  top?: string;
  color?: boolean;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('per-container user/kernel/idle split, kernel time by syscall, call sites and kernel paths')
    .argument(
      '[inputs...]',
      'perf.data (recorded with -a -g --all-cgroups), perf script text (.gz ok), folded stacks, pprof, or a run; several: one per host',
    )
    .option('--host <name=input>', 'an input with its host name (repeatable)', collectValues, [])
    .option(
      '--store <dir>',
      'run store to find runs in (default: $CROSSTALK_STORE, else $XDG_DATA_HOME/crosstalk/runs)',
    )
    .option('--json', 'print the JSON document (schema/analyze.schema.json) instead of the summary')
    .option('--html <file>', 'also write the one-file HTML report (findings, flame graph, timeline)')
    .option('--force', 'replace the --html file if it exists')
    .option('--threads <n>', 'worker threads for large text inputs (default: one per CPU)')
    .option('--event <name>', 'analyse this event (default: the first event in the input)')
    .option('--call-graph <mode>', 'how text input was unwound: fp or dwarf (perf.data knows)')
    .option('--top <n>', 'syscalls to list', '25')
    .option('--no-color', 'no ANSI colours')
    .action(async (inputs: string[], flags: AnalyzeFlags) => {
      const top = parsePositiveInt(flags.top ?? '25', '--top');
      const loaded = await loadFromArguments(inputs, flags);
      const { result, findings, attributions } = analyzeLoaded(loaded, top);
      if (flags.html !== undefined) {
        const input = {
          kind: 'analysis',
          profile: loaded.profile,
          result,
          findings,
          counters: loaded.counters,
          attributions,
        } as const;
        await writeHtml(flags.html, input, flags.force);
      }
      if (flags.json) {
        process.stdout.write(analyzeJsonText(result, findings));
      } else {
        const color = flags.color !== false && process.stdout.isTTY === true && !process.env.NO_COLOR;
        process.stdout.write(renderAnalysis(result, { color }, findings));
      }
    });
}

export function collectValues(v: string, all: string[]): string[] {
  return [...all, v];
}

/** Input arguments and `--host NAME=INPUT` flags, loaded with a progress line (several: in parallel). */
export async function loadFromArguments(
  inputs: string[],
  flags: { host?: string[]; store?: string; event?: string; callGraph?: string; threads?: string },
): Promise<LoadedInput> {
  const refs = hostRefsOf(inputs, flags.host ?? []);
  if (refs.length === 0) throw new CliError('expected an input (or --host NAME=INPUT)', ExitCode.usage);
  const callGraph = parseCallGraph(flags.callGraph);
  const threads = flags.threads === undefined ? undefined : parsePositiveInt(flags.threads, '--threads');
  const bar = progress(refs.length === 1 ? `reading ${refs[0].ref}` : `reading ${refs.length} inputs`);
  try {
    return await loadInputs(refs, {
      event: flags.event,
      callGraph,
      store: flags.store,
      threads,
      onProgress: (f) => bar.update(f),
    });
  } finally {
    bar.done();
  }
}

/**
 * Analysis and diagnosis of a loaded input, with its run's counters, names and rates. Several
 * hosts are analysed together (a host column) but diagnosed one by one: containers contend only
 * with neighbours on their own kernel. A finding's impact is then a share of its host's CPU.
 */
export function analyzeLoaded(
  loaded: LoadedInput,
  topSyscalls = 25,
): { result: AnalysisResult; findings: HostFinding[]; attributions?: Attributions } {
  const { profile } = loaded;
  if (loaded.hosts !== undefined) {
    const result = analyzeProfile(profile, { topSyscalls, nameOf: loaded.nameOf });
    return { result, findings: diagnoseHosts(loaded, loaded.hosts, topSyscalls) };
  }
  return analyzeOne(profile, loaded, topSyscalls);
}

/** One host's analysis and diagnosis, with its own names, counters and syscall rates. */
function analyzeOne(
  profile: Profile,
  from: Pick<LoadedInput, 'nameOf' | 'counters' | 'syscallRates' | 'latency'>,
  topSyscalls: number,
): { result: AnalysisResult; findings: Finding[]; attributions: Attributions } {
  const attributions = new Attributions(profile);
  const result = analyzeProfile(profile, { topSyscalls, attributions, nameOf: from.nameOf });
  result.syscallLatency = from.latency;
  const diagnosed = diagnose(profile, result, {
    attributions,
    nameOf: from.nameOf,
    counters: from.counters ?? undefined,
    syscallRates: from.syscallRates ?? undefined,
  });
  const findings = victimSide(diagnosed, {
    latency: from.latency,
    counters: from.counters,
    hasBaseline: false,
  });
  return { result, findings, attributions };
}

function diagnoseHosts(
  loaded: LoadedInput,
  hosts: NonNullable<LoadedInput['hosts']>,
  topSyscalls: number,
): HostFinding[] {
  const present = new Set(hostsOf(loaded.profile));
  const out: HostFinding[] = [];
  for (const h of hosts) {
    if (!present.has(h.name)) continue;
    const { findings } = analyzeOne(selectHost(loaded.profile, h.name), h, topSyscalls);
    // The title names the host, so every report (terminal, HTML) shows where the finding is.
    out.push(...findings.map((f) => ({ ...f, host: h.name, title: `${h.name}: ${f.title}` })));
  }
  const rank = { 'cannot-answer': 0, signature: 1, generic: 2 } as const;
  return out.sort((a, b) => rank[a.kind] - rank[b.kind] || b.impact - a.impact);
}

export function parseCallGraph(v: string | undefined): CallGraphMode | undefined {
  if (v === undefined) return undefined;
  if (v === 'fp' || v === 'dwarf' || v === 'lbr') return v;
  throw new CliError(`--call-graph: expected fp, dwarf or lbr, got ${JSON.stringify(v)}`, ExitCode.usage);
}

export function parsePositiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new CliError(`${flag}: expected a positive integer, got ${JSON.stringify(v)}`, ExitCode.usage);
  return n;
}
