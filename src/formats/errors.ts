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

/** An importer's error as it crosses from a worker thread (class instances do not survive). */
export interface SerializedError {
  name: string;
  message: string;
  file?: string;
  line?: number | null;
  expected?: string;
  found?: string;
  reason?: string;
  tool?: string;
}

export function serializeError(e: unknown): SerializedError {
  const err = e as Error & Omit<SerializedError, 'name' | 'message'>;
  return {
    name: err.name,
    message: err.message,
    file: err.file,
    line: err.line,
    expected: err.expected,
    found: err.found,
    reason: err.reason,
    tool: err.tool,
  };
}

/**
 * The error class the main thread would have thrown, so the CLI's advice and exit code still
 * apply. `file` names the input when the error did not (a part of a split file).
 */
export function deserializeError(e: SerializedError, file = ''): Error {
  if (e.expected !== undefined) {
    const Class = e.name === 'UnrecognizedFormatError' ? UnrecognizedFormatError : InputError;
    return new Class(e.file ?? file, e.line ?? null, e.expected, e.found);
  }
  if (e.reason !== undefined && e.file !== undefined) return new UnreadableInputError(e.file, e.reason);
  if (e.tool !== undefined) return new ToolError(e.tool, e.message);
  return Object.assign(new Error(e.message), { name: e.name });
}
