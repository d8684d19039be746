/**
 * Exit codes of every crosstalk command (documented in the README). Error codes follow BSD
 * sysexits.h so scripts can tell bad input from a missing tool from a bug.
 */
export const ExitCode = {
  ok: 0,
  /** Command-line usage error: unknown flag, missing argument. */
  usage: 64,
  /** The input exists but is not valid (wrong format, corrupt, no samples). */
  badInput: 65,
  /** The input does not exist or cannot be read. */
  noInput: 66,
  /** A required tool (perf, a C compiler) is missing or failed. */
  unavailable: 69,
  /** A bug in crosstalk. */
  internal: 70,
  /** An output file could not be written (or would overwrite something without --force). */
  cantCreate: 73,
  /** Not permitted: not root, perf_event_paranoid too high. */
  noPermission: 77,
  /** Interrupted by the user a second time (SIGINT); work so far is kept. */
  interrupted: 130,
} as const;

/** `doctor` (and `analyze --fail-on`) exit by the worst finding's severity. */
export const SeverityExitCode = {
  none: 0,
  info: 10,
  warning: 11,
  critical: 12,
} as const;
