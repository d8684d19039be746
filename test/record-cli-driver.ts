// Runs `crosstalk record` / `crosstalk runs` through the real command modules, for tests that need a
// separate process (signals, exit codes) before main.ts wires these commands.
import { Command, CommanderError } from 'commander';
import { reportError } from '../src/cli/errors.ts';
import { ExitCode } from '../src/cli/exit-codes.ts';
import { registerRecord } from '../src/cli/record.ts';
import { registerRuns } from '../src/cli/runs.ts';

const program = new Command().name('crosstalk').exitOverride();
registerRecord(program);
registerRuns(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode =
    e instanceof CommanderError ? (e.exitCode === 0 ? ExitCode.ok : ExitCode.usage) : reportError(e);
}
