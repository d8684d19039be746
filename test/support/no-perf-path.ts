/** A PATH without perf, for tests of analysis on a host where perf is not installed. */
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * `dir` filled with links to every program on PATH except perf (perf, perf_*, perf-*): the tools
 * crosstalk may use besides perf (tar, bzip2, c++filt) stay. The first PATH entry wins, as in a shell.
 */
export function pathWithoutPerf(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const from of (process.env.PATH ?? '').split(delimiter)) {
    let names: string[] = [];
    try {
      names = readdirSync(from);
    } catch {
      continue;
    }
    for (const n of names) {
      if (n === 'perf' || n.startsWith('perf_') || n.startsWith('perf-')) continue;
      try {
        symlinkSync(join(from, n), join(dir, n));
      } catch {
        // already linked from an earlier PATH entry
      }
    }
  }
  return dir;
}
