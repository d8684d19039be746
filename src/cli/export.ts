/**
 * `crosstalk export <input...> --format pprof|speedscope|folded [-o FILE]`: the profile in the
 * formats continuous profilers and viewers read, with container, process and syscall labels.
 * Several inputs (one per host) become one profile with a `host` label.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { labelSamples } from '../analysis/sample-labels.ts';
import { type ExportFormat, exportBytes } from '../pipeline/export.ts';
import { inertLine } from '../report/safe-text.ts';
import { CliError, oneLine } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { collectValues, loadFromArguments } from './flags.ts';

interface ExportFlags {
  format?: string;
  output?: string;
  by?: string;
  host: string[];
  store?: string;
  event?: string;
  callGraph?: string;
  threads?: string;
  counts?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description(
      'write the profile as pprof (Pyroscope, Parca, go tool pprof), speedscope JSON or folded stacks',
    )
    .argument(
      '[inputs...]',
      'perf.data, perf script text, folded stacks, pprof, or a run; several: one per host',
    )
    .requiredOption('--format <format>', 'pprof (gzipped protobuf), speedscope (JSON) or folded (text)')
    .option('-o, --output <file>', 'write here instead of standard output')
    .option(
      '--by <grouping>',
      'speedscope: one profile per container (default) or process; folded: container puts the container above the process name',
    )
    .option('--host <name=input>', 'an input with its host name (repeatable)', collectValues, [])
    .option('--event <name>', 'export this event (default: the first event in the input)')
    .option('--call-graph <mode>', 'how text input was unwound: fp or dwarf (perf.data knows)')
    .option('--threads <n>', 'worker threads for large or several text inputs (default: one per CPU)')
    .option(
      '--counts',
      'folded: COUNT is the number of samples (default: the sum of sample periods, nanoseconds of CPU for cpu-clock/task-clock)',
    )
    .action(async (inputs: string[], flags: ExportFlags) => {
      const format = parseFormat(flags.format);
      const by = parseBy(flags.by, format);
      if (flags.counts === true && format !== 'folded')
        throw new CliError(
          '--counts applies to --format folded (pprof and speedscope carry both)',
          ExitCode.usage,
        );
      if (format === 'pprof' && flags.output === undefined && process.stdout.isTTY === true)
        throw new CliError('pprof is binary: give -o FILE or redirect standard output', ExitCode.usage);
      const loaded = await loadFromArguments(inputs, flags);
      const { profile } = loaded;
      for (const w of profile.meta.warnings) process.stderr.write(`crosstalk: warning: ${oneLine(w)}\n`);
      const bytes = exportBytes(
        labelSamples(profile, { nameOf: loaded.nameOf }),
        format,
        by,
        flags.counts === true,
      );
      // Owner-only, as every report: the profile names the host's commands and paths.
      if (flags.output !== undefined) await writeFile(flags.output, bytes, { mode: 0o600 });
      else await writeStdout(process.stdout.isTTY === true && format !== 'pprof' ? inertText(bytes) : bytes);
    });
}

function parseFormat(v: string | undefined): ExportFormat {
  if (v === 'pprof' || v === 'speedscope' || v === 'folded') return v;
  throw new CliError(
    `--format: expected pprof, speedscope or folded, got ${JSON.stringify(v)}`,
    ExitCode.usage,
  );
}

/** speedscope groups by container unless told; folded stays inferno-compatible (process first). */
function parseBy(v: string | undefined, format: ExportFormat): 'container' | 'process' {
  if (v === undefined) return format === 'folded' ? 'process' : 'container';
  if (v === 'container' || v === 'process') return v;
  throw new CliError(`--by: expected container or process, got ${JSON.stringify(v)}`, ExitCode.usage);
}

/** Text shown on a terminal: the profiled host's names must not act as escape sequences. */
function inertText(bytes: Uint8Array): Uint8Array {
  return Buffer.from(Buffer.from(bytes).toString('utf8').split('\n').map(inertLine).join('\n'));
}

/** Respects back-pressure, so a large export does not pile up in memory. */
async function writeStdout(bytes: Uint8Array): Promise<void> {
  const BLOCK = 1 << 20;
  for (let i = 0; i < bytes.length; i += BLOCK) {
    if (!process.stdout.write(bytes.subarray(i, i + BLOCK)))
      await new Promise((r) => process.stdout.once('drain', r));
  }
}
