/** `crosstalk analyze <input>`: terminal summary or `--json`. */
import type { Command } from 'commander';
import { type AnalysisResult, analyzeProfile } from '../analysis/analyze.ts';
import { Attributions } from '../analysis/attribute.ts';
import { diagnose } from '../analysis/diagnose.ts';
import type { Finding } from '../analysis/findings.ts';
import type { CallGraphMode } from '../model/profile.ts';
import { analyzeJsonText } from '../report/json.ts';
import { renderAnalysis } from '../report/terminal.ts';
import { CliError } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { type LoadedInput, loadInput } from './inputs.ts';
import { progress } from './progress.ts';

interface AnalyzeFlags {
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
      '<input>',
      'perf.data (recorded with -a -g --all-cgroups), perf script text (.gz ok), folded stacks, or a run directory',
    )
    .option('--json', 'print the JSON document (schema/analyze.schema.json) instead of the summary')
    .option('--threads <n>', 'worker threads for large text inputs (default: one per CPU)')
    .option('--event <name>', 'analyse this event (default: the first event in the input)')
    .option('--call-graph <mode>', 'how text input was unwound: fp or dwarf (perf.data knows)')
    .option('--top <n>', 'syscalls to list', '25')
    .option('--no-color', 'no ANSI colours')
    .action(async (input: string, flags: AnalyzeFlags) => {
      const callGraph = parseCallGraph(flags.callGraph);
      const top = parsePositiveInt(flags.top ?? '25', '--top');
      const bar = progress(`reading ${input}`);
      let loaded: LoadedInput;
      try {
        loaded = await loadInput(input, {
          event: flags.event,
          callGraph,
          store: flags.store,
          threads: flags.threads === undefined ? undefined : parsePositiveInt(flags.threads, '--threads'),
          onProgress: (f) => bar.update(f),
        });
      } finally {
        bar.done();
      }
      const { result, findings } = analyzeLoaded(loaded, top);
      if (flags.json) {
        process.stdout.write(analyzeJsonText(result, findings));
      } else {
        const color = flags.color !== false && process.stdout.isTTY === true && !process.env.NO_COLOR;
        process.stdout.write(renderAnalysis(result, { color }, findings));
      }
    });
}

/** Analysis and diagnosis of a loaded input, with its run's counters, names and rates. */
export function analyzeLoaded(
  loaded: LoadedInput,
  topSyscalls = 25,
): { result: AnalysisResult; findings: Finding[] } {
  const { profile } = loaded;
  const attributions = new Attributions(profile);
  const result = analyzeProfile(profile, { topSyscalls, attributions, nameOf: loaded.nameOf });
  const findings = diagnose(profile, result, {
    attributions,
    nameOf: loaded.nameOf,
    counters: loaded.counters ?? undefined,
    syscallRates: loaded.syscallRates ?? undefined,
  });
  return { result, findings };
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
