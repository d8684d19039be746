/**
 * `crosstalk diff BASELINE TARGET`: what grew and what shrank between two runs (or perf.data,
 * perf script text, folded files), normalised so that more load alone does not look worse, plus
 * the diagnosis of the target with the baseline for growth. `--folded` writes the two-column
 * differential folded format of FlameGraph's difffolded.pl / inferno-diff-folded instead.
 */
import type { Command } from 'commander';
import type { Normalization } from '../analysis/diff.ts';
import type { ExplicitMatch } from '../analysis/match-containers.ts';
import { diffFoldedLoaded, diffLoadedWithLines } from '../pipeline/diff.ts';
import { type LoadedInput, loadInput } from '../pipeline/load.ts';
import { diffReport } from '../pipeline/report.ts';
import { diffJson } from '../report/diff-json.ts';
import { renderDiff } from '../report/diff-text.ts';
import { jsonText } from '../report/json.ts';
import { inertLine } from '../report/safe-text.ts';
import { CliError } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { collectValues, parseCallGraph, parsePositiveInt, parseThreads, useColor } from './flags.ts';
import { writeHtml } from './html.ts';
import { progress } from './progress.ts';

interface DiffFlags {
  html?: string;
  force?: boolean;
  json?: boolean;
  folded?: boolean;
  normalize: string;
  match: string[];
  store?: string;
  event?: string;
  callGraph?: string;
  threads?: string;
  top: string;
  color?: boolean;
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('what grew and shrank between a baseline and a target run, and which neighbour caused it')
    .argument('<baseline>', 'the healthy run (id, label, directory) or file')
    .argument('<target>', 'the slow run (id, label, directory) or file')
    .option('--json', 'print the JSON document (schema/diff.schema.json)')
    .option('--html <file>', 'also write the one-file HTML report with a differential flame graph')
    .option('--force', 'replace the --html file if it exists')
    .option(
      '--folded',
      'print differential folded stacks ("stack BASELINE TARGET") for flamegraph.pl / inferno',
    )
    .option(
      '--normalize <how>',
      'shares (each run as fractions of its own total) or rate (per second)',
      'shares',
    )
    .option(
      '--match <base=target>',
      'pair a baseline container with a target container (repeatable)',
      collectValues,
      [],
    )
    .option('--store <dir>', 'run store to find runs in')
    .option('--event <name>', 'compare this event (default: the first in each input)')
    .option('--call-graph <mode>', 'how text inputs were unwound: fp or dwarf')
    .option('--threads <n>', 'worker threads for large text inputs')
    .option('--top <n>', 'rows per table', '20')
    .option('--no-color', 'no ANSI colours')
    .action(async (baseRef: string, targetRef: string, flags: DiffFlags) => {
      const normalize = parseNormalize(flags.normalize);
      const match = flags.match.map(parseMatch);
      const top = parsePositiveInt(flags.top, '--top');
      const [base, target] = await loadBoth(baseRef, targetRef, flags);
      if (flags.folded) {
        const raw = diffFoldedLoaded(base, target, match);
        // Byte-exact to a pipe or file; control characters in names escaped on a terminal.
        const lines = process.stdout.isTTY === true ? raw.map(inertLine) : raw;
        process.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
        return;
      }
      const d = await diffLoadedWithLines(base, target, { normalize, match, top });
      if (flags.html !== undefined) await writeHtml(flags.html, diffReport(base, target, d), flags.force);
      const latency = { baseline: d.baseline.syscallLatency, target: d.target.syscallLatency };
      if (flags.json) process.stdout.write(jsonText(diffJson(d.diff, d.findings, latency)));
      else process.stdout.write(renderDiff(d.diff, d.findings, { color: useColor(flags) }));
    });
}

function parseNormalize(v: string): Normalization {
  if (v === 'shares' || v === 'rate') return v;
  throw new CliError(`--normalize: expected shares or rate, got ${JSON.stringify(v)}`, ExitCode.usage);
}

function parseMatch(v: string): ExplicitMatch {
  const i = v.indexOf('=');
  if (i <= 0 || i === v.length - 1) {
    throw new CliError(
      `--match: expected BASELINE=TARGET (container ids or names), got ${JSON.stringify(v)}`,
      ExitCode.usage,
    );
  }
  return { baseline: v.slice(0, i), target: v.slice(i + 1) };
}

async function loadBoth(
  baseRef: string,
  targetRef: string,
  flags: DiffFlags,
): Promise<[LoadedInput, LoadedInput]> {
  const opts = {
    event: flags.event,
    callGraph: parseCallGraph(flags.callGraph),
    store: flags.store,
    threads: parseThreads(flags.threads),
  };
  const bar = progress('reading the two inputs');
  try {
    const base = await loadInput(baseRef, { ...opts, onProgress: (f) => bar.update(f / 2) });
    const target = await loadInput(targetRef, { ...opts, onProgress: (f) => bar.update(0.5 + f / 2) });
    return [base, target];
  } finally {
    bar.done();
  }
}
