/**
 * Limits against hostile input (issue 16): a small compressed file must not make crosstalk use
 * gigabytes of memory or run for minutes. Samples and stack nodes are counted by the builder;
 * decompressed size is bounded relative to the compressed input by the importers.
 *
 * The expansion limit can be raised with `--max-expansion RATIO` (any command), which sets
 * CROSSTALK_MAX_EXPANSION so that import worker threads see it too; `0` turns the limit off.
 */

/**
 * Samples in one profile. A 10 s system-wide recording of 128 CPUs at 99 Hz holds ~127,000;
 * 50 million (~2 GB of sample columns) is far beyond any recording crosstalk makes or reads.
 */
export const MAX_SAMPLES = 50_000_000;
/** Call-tree nodes (distinct stack prefixes); each costs ~20 bytes plus its hash entry. */
export const MAX_STACK_NODES = 50_000_000;
/**
 * Decompressed bytes per compressed byte. Real perf script text and pprof compress 5-20x with
 * gzip; gzip's own maximum is ~1030x, which is what bombs use.
 */
export const DEFAULT_MAX_EXPANSION = 100;

/** The profile or its input exceeds a limit; shaped like InputError (file, expected, found). */
export class ProfileLimitError extends Error {
  override name = 'ProfileLimitError';
  readonly line = null;
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${file}: expected ${expected}; found ${found}`);
  }
}

/** The ratio in force: CROSSTALK_MAX_EXPANSION (0 = no limit) or the default. */
export function maxExpansion(): number {
  const v = process.env.CROSSTALK_MAX_EXPANSION;
  if (v === undefined || v === '') return DEFAULT_MAX_EXPANSION;
  const n = Number(v);
  return n === 0 ? Number.POSITIVE_INFINITY : n;
}

/** Most decompressed bytes allowed for `compressedBytes` of input. */
export function maxDecompressedBytes(compressedBytes: number): number {
  // A tiny file may still hold a small profile: never less than 64 MB.
  return Math.max(64 << 20, compressedBytes * maxExpansion());
}

export function expansionError(file: string, compressedBytes: number): ProfileLimitError {
  const limit = maxDecompressedBytes(compressedBytes);
  return new ProfileLimitError(
    file,
    `compressed data that expands at most ${maxExpansion()}x (${limit} bytes; raise with --max-expansion RATIO, 0 for no limit)`,
    'more (a decompression bomb?)',
  );
}
