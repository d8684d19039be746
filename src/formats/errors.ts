/**
 * Errors about the user's input. Messages are neutral and name the file, the line (for text) and
 * what was expected; the CLI adds advice and picks the exit code.
 */
export class InputError extends Error {
  override name = 'InputError';
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly expected: string,
    readonly found?: string,
  ) {
    super(
      `${file}${line === null ? '' : `:${line}`}: expected ${expected}` +
        (found === undefined ? '' : `; found ${found}`),
    );
  }
}

/** The input is not in the format the importer reads (sniffing said no, or the user forced it). */
export class UnrecognizedFormatError extends InputError {
  override name = 'UnrecognizedFormatError';
}

/** A file that cannot be read at all (missing, a directory, no permission). */
export class UnreadableInputError extends Error {
  override name = 'UnreadableInputError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/** An external tool the importer needs (perf) failed or is missing. */
export class ToolError extends Error {
  override name = 'ToolError';
  constructor(
    readonly tool: string,
    message: string,
  ) {
    super(message);
  }
}
