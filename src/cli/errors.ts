/**
 * Turns errors into one line on stderr plus an exit code; only here is advice added
 * ("run as root", "install linux-perf"). Unknown errors are bugs: one line, and the stack only
 * with CROSSTALK_DEBUG=1.
 */
import { DiffError } from '../analysis/diff.ts';
import { InputError, ToolError, UnreadableInputError } from '../formats/errors.ts';
import { PipelineError, RunLookupError } from '../pipeline/errors.ts';
import { AmbiguousRunError, RunNotFoundError, StoreLockedError, StoreRefusedError } from '../store/errors.ts';
import { ExitCode } from './exit-codes.ts';

/** An error whose message is already user-facing, with its exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const toolAdvice: Record<string, string> = {
  perf: 'install it with: apt-get install linux-perf',
  cc: 'install a C compiler with: apt-get install gcc',
};

/** Store errors as CLI errors with exit codes; anything else unchanged. */
export function storeErrorToCli(e: unknown): unknown {
  if (e instanceof RunNotFoundError) return new CliError(e.message, ExitCode.noInput);
  if (e instanceof AmbiguousRunError || e instanceof StoreRefusedError)
    return new CliError(e.message, ExitCode.usage);
  if (e instanceof StoreLockedError) {
    return new CliError(
      `${e.message}; if no crosstalk is running, remove the lock file`,
      ExitCode.cantCreate,
    );
  }
  return e;
}

/** Pipeline errors as CLI errors: the pipeline's reason picks the exit code. */
function pipelineErrorToCli(e: unknown): unknown {
  if (e instanceof PipelineError) return new CliError(e.message, ExitCode[e.reason]);
  if (e instanceof DiffError) return new CliError(e.message, ExitCode.badInput);
  if (e instanceof RunLookupError) {
    const cli = storeErrorToCli(e.cause);
    return cli instanceof CliError
      ? new CliError(`${e.ref}: no such file, and ${cli.message}`, cli.exitCode)
      : cli;
  }
  return e;
}

export function reportError(error: unknown): number {
  const line = (s: string) => process.stderr.write(`crosstalk: ${oneLine(s)}\n`);
  const err = pipelineErrorToCli(error);
  if (err instanceof CliError) {
    line(err.message);
    return err.exitCode;
  }
  if (err instanceof InputError) {
    line(err.message);
    return ExitCode.badInput;
  }
  if (err instanceof UnreadableInputError) {
    line(err.message);
    return ExitCode.noInput;
  }
  if (err instanceof ToolError) {
    const advice = /not found|ENOENT/.test(err.message) ? toolAdvice[err.tool] : undefined;
    line(advice ? `${err.message}; ${advice}` : err.message);
    return ExitCode.unavailable;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  line(`internal error: ${e.message} (a bug; rerun with CROSSTALK_DEBUG=1 for details and report it)`);
  if (process.env.CROSSTALK_DEBUG === '1' && e.stack) process.stderr.write(`${e.stack}\n`);
  return ExitCode.internal;
}

/**
 * Error text from the profile is untrusted: keep it on one line, without control characters,
 * line separators or bidirectional overrides (which could reorder what the terminal shows).
 */
export function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g, ' ').trim();
}
