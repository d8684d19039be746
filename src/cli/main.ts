/**
 * crosstalk command line. Each command lives in its own module and registers itself on the
 * commander program; this file only wires them and turns errors into exit codes.
 */
import { constants } from 'node:os';
import { Command, CommanderError } from 'commander';
import { DEFAULT_MAX_EXPANSION } from '../model/limits.ts';
import { guardTerminal } from '../report/tty-guard.ts';
import { registerAnalyze } from './analyze.ts';
import { registerCollapse } from './collapse.ts';
import { registerDiff } from './diff.ts';
import { registerDoctor } from './doctor.ts';
import { CliError, reportError } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { registerExport } from './export.ts';
import { registerDemo, registerLab } from './lab.ts';
import { labHooks } from './lab-hooks.ts';
import { registerRecord } from './record.ts';
import { registerRuns } from './runs.ts';
import { registerWatch } from './watch.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('crosstalk')
    .description(
      'Why do containers sharing one Linux kernel slow each other down? Per-container kernel attribution from perf.',
    )
    .version('0.1.0')
    .option(
      '--max-expansion <ratio>',
      `most bytes a compressed input may expand to, per compressed byte (default ${DEFAULT_MAX_EXPANSION}; 0: no limit)`,
    )
    .showHelpAfterError()
    .exitOverride();
  // Through the environment, so import worker threads apply the same limit.
  program.hook('preAction', () => {
    const ratio = program.opts<{ maxExpansion?: string }>().maxExpansion;
    if (ratio === undefined) return;
    if (!/^\d+(\.\d+)?$/.test(ratio))
      throw new CliError(
        `--max-expansion: expected a number (0 for no limit), got ${JSON.stringify(ratio)}`,
        ExitCode.usage,
      );
    process.env.CROSSTALK_MAX_EXPANSION = ratio;
  });
  registerAnalyze(program);
  registerCollapse(program);
  registerRecord(program);
  registerRuns(program);
  registerDoctor(program);
  registerDiff(program);
  registerExport(program);
  registerLab(program, labHooks());
  registerDemo(program, labHooks());
  registerWatch(program);
  return program;
}

/**
 * SIGINT/SIGTERM while no command handles them (importing, analysing, writing reports): exit with
 * 130/143 through process.exit, so that exit handlers stop perf script and remove temporary copies
 * (dying by the signal itself would skip them). record and lab install their own handlers.
 */
function exitOnUnhandledSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) === 1) process.exit(128 + (constants.signals[signal] ?? 0));
}

async function main(argv: string[]): Promise<number> {
  // A closed stdout (`crosstalk collapse x | head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(ExitCode.ok);
  });
  // Nothing reaches a terminal unescaped, whichever command prints it.
  guardTerminal(process.stdout);
  guardTerminal(process.stderr);
  process.on('SIGINT', exitOnUnhandledSignal);
  process.on('SIGTERM', exitOnUnhandledSignal);
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    return reportError(err);
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
