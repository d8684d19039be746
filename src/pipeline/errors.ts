/**
 * Why a pipeline step cannot go on, in neutral words; cli/errors.ts picks the exit code and adds
 * advice.
 */

/** `reason` is the kind of failure: a usage mistake, a missing input, or an input that is not valid. */
export class PipelineError extends Error {
  override name = 'PipelineError';
  constructor(
    message: string,
    readonly reason: 'usage' | 'noInput' | 'badInput',
  ) {
    super(message);
  }
}

/** `ref` is neither a file nor a run the store can name; `cause` is the store's error. */
export class RunLookupError extends Error {
  override name = 'RunLookupError';
  constructor(
    readonly ref: string,
    override readonly cause: unknown,
  ) {
    super(`${ref}: no such file`);
  }
}
