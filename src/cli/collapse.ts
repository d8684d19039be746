/** `crosstalk collapse <input>`: folded stacks as FlameGraph's and inferno's collapsers write them. */
import type { Command } from 'commander';
import { collapseProfile } from '../formats/collapse.ts';
import { loadInput } from '../pipeline/load.ts';
import { inertLine } from '../report/safe-text.ts';
import { oneLine } from './errors.ts';
import { parsePositiveInt } from './flags.ts';
import { progress } from './progress.ts';

interface CollapseFlags {
  threads?: string;
  pid?: boolean;
  tid?: boolean;
  kernel?: boolean;
  jit?: boolean;
  all?: boolean;
  addrs?: boolean;
  event?: string;
  counts?: boolean;
  store?: string;
}

export function registerCollapse(program: Command): void {
  program
    .command('collapse')
    .description(
      'folded stacks ("comm;frame;...;frame COUNT") for flame graph tools, compatible with inferno-collapse-perf',
    )
    .argument('<input>', 'a run (id, id prefix, label or directory), perf.data, or perf script text (.gz ok)')
    .option('--pid', 'process name as comm-PID')
    .option('--tid', 'process name as comm-PID/TID')
    .option('--kernel', 'annotate kernel frames with _[k]')
    .option('--jit', 'annotate JIT frames with _[j]')
    .option('--all', 'all annotations (--kernel --jit)')
    .option('--addrs', 'keep raw addresses of frames without a symbol')
    .option(
      '--store <dir>',
      'run store to find runs in (default: $CROSSTALK_STORE, else $XDG_DATA_HOME/crosstalk/runs)',
    )
    .option('--threads <n>', 'worker threads for large text inputs (default: one per CPU)')
    .option('--event <name>', 'collapse this event (default: the first event in the input)')
    .option(
      '--counts',
      'COUNT is the number of samples (default: the sum of sample periods: nanoseconds of CPU for cpu-clock/task-clock, e.g. 10101010 per sample at 99 Hz; occurrences for other events)',
    )
    .action(async (input: string, flags: CollapseFlags) => {
      const bar = progress(`reading ${input}`);
      let profile: Awaited<ReturnType<typeof loadInput>>['profile'];
      try {
        ({ profile } = await loadInput(input, {
          store: flags.store,
          event: flags.event,
          keepAddresses: flags.addrs === true,
          // Text: the first event, context switches included, as inferno-collapse-perf picks it.
          switches: false,
          threads: flags.threads === undefined ? undefined : parsePositiveInt(flags.threads, '--threads'),
          onProgress: (f) => bar.update(f),
        }));
      } finally {
        bar.done();
      }
      for (const w of profile.meta.warnings) process.stderr.write(`crosstalk: warning: ${oneLine(w)}\n`);
      const lines = collapseProfile(profile, flags);
      // Names are the profiled host's: on a terminal their escape sequences must stay inert.
      await writeLines(process.stdout.isTTY === true ? lines.map(inertLine) : lines);
    });
}

/** Writes in blocks and respects back-pressure, so a large output does not pile up in memory. */
async function writeLines(lines: string[]): Promise<void> {
  const BLOCK = 4096;
  for (let i = 0; i < lines.length; i += BLOCK) {
    const text = `${lines.slice(i, i + BLOCK).join('\n')}\n`;
    if (!process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
  }
}
