/** `crosstalk analyze <input...>`: terminal summary or `--json`; several inputs are several hosts. */
import type { Command } from 'commander';
import { analyzeLoadedWithLines } from '../pipeline/analyze.ts';
import { analysisReport } from '../pipeline/report.ts';
import { analyzeJsonText } from '../report/json.ts';
import { renderAnalysis } from '../report/terminal.ts';
import { collectValues, loadFromArguments, parsePositiveInt, useColor } from './flags.ts';
import { writeHtml } from './html.ts';

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
  archive?: string;
  decoder?: string;
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
    .option(
      '--archive <file>',
      "perf.data: a `perf archive` tarball with the recording's kallsyms and binaries (analysis without perf)",
    )
    .option(
      '--decoder <how>',
      'perf.data: native, perf-script, or auto (native unless the recording needs perf)',
      'auto',
    )
    .option('--top <n>', 'syscalls to list', '25')
    .option('--no-color', 'no ANSI colours')
    .action(async (inputs: string[], flags: AnalyzeFlags) => {
      const top = parsePositiveInt(flags.top ?? '25', '--top');
      const loaded = await loadFromArguments(inputs, flags);
      const analyzed = await analyzeLoadedWithLines(loaded, top);
      const { result, findings } = analyzed;
      if (flags.html !== undefined)
        await writeHtml(flags.html, analysisReport(loaded, analyzed), flags.force);
      if (flags.json) process.stdout.write(analyzeJsonText(result, findings));
      else process.stdout.write(renderAnalysis(result, { color: useColor(flags) }, findings));
    });
}
