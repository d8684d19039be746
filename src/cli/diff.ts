/**
 * `crosstalk diff BASELINE TARGET`: what grew and what shrank between two runs (or perf.data,
 * perf script text, folded files), normalised so that more load alone does not look worse, plus
 * the diagnosis of the target with the baseline for growth. `--folded` writes the two-column
 * differential folded format of FlameGraph's difffolded.pl / inferno-diff-folded instead.
 */
import type { Command } from 'commander';
import { type AnalysisResult, analyzeProfile } from '../analysis/analyze.ts';
import { Attributions } from '../analysis/attribute.ts';
import { diagnose } from '../analysis/diagnose.ts';
import { DiffError, type DiffResult, diffAnalyses, type Normalization } from '../analysis/diff.ts';
import { diffFolded, diffProfile } from '../analysis/diff-profile.ts';
import type { Finding } from '../analysis/findings.ts';
import type { ExplicitMatch } from '../analysis/match-containers.ts';
import { diffJson } from '../report/diff-json.ts';
import { renderDiff } from '../report/diff-text.ts';
import { jsonText } from '../report/json.ts';
import { inertLine } from '../report/safe-text.ts';
import { parseCallGraph, parsePositiveInt } from './analyze.ts';
import { CliError } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { writeHtml } from './html.ts';
import { type LoadedInput, loadInput } from './inputs.ts';
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
      collect,
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
        const raw = diffFoldedOf(base, target, match);
        // Byte-exact to a pipe or file; control characters in names escaped on a terminal.
        const lines = process.stdout.isTTY === true ? raw.map(inertLine) : raw;
        process.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
        return;
      }
      const {
        diff: d,
        findings,
        target: targetResult,
        baseline: baseResult,
      } = diffLoaded(base, target, {
        normalize,
        match,
        top,
      });
      if (flags.html !== undefined) {
        const profile = diffProfile(base.profile, target.profile, d.pairing);
        const input = {
          kind: 'diff',
          profile,
          target: targetResult,
          baseline: baseResult,
          findings,
          diff: d,
        } as const;
        await writeHtml(flags.html, input, flags.force);
      }
      if (flags.json) process.stdout.write(jsonText(diffJson(d, findings)));
      else {
        const color = flags.color !== false && process.stdout.isTTY === true && !process.env.NO_COLOR;
        process.stdout.write(renderDiff(d, findings, { color }));
      }
    });
}

/** Diff of two loaded inputs and the target's diagnosis with the baseline. */
export function diffLoaded(
  base: LoadedInput,
  target: LoadedInput,
  opts: { normalize?: Normalization; match?: ExplicitMatch[]; top?: number } = {},
): { diff: DiffResult; findings: Finding[]; target: AnalysisResult; baseline: AnalysisResult } {
  const ba = new Attributions(base.profile);
  const ta = new Attributions(target.profile);
  const limits = { topSyscalls: 200, topCallSites: 50, topKernelPaths: 50 };
  const baseResult = analyzeProfile(base.profile, { ...limits, attributions: ba, nameOf: base.nameOf });
  const targetResult = analyzeProfile(target.profile, { ...limits, attributions: ta, nameOf: target.nameOf });
  let d: DiffResult;
  try {
    d = diffAnalyses(baseResult, targetResult, base.counters, target.counters, opts);
  } catch (e) {
    if (e instanceof DiffError) throw new CliError(e.message, ExitCode.badInput);
    throw e;
  }
  const findings = diagnose(target.profile, targetResult, {
    attributions: ta,
    nameOf: target.nameOf,
    counters: target.counters ?? undefined,
    syscallRates: target.syscallRates ?? undefined,
    baseline: {
      profile: base.profile,
      analysis: baseResult,
      pairing: d.pairing,
      counters: base.counters ?? undefined,
    },
  });
  return { diff: d, findings, target: targetResult, baseline: baseResult };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
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
    threads: flags.threads === undefined ? undefined : parsePositiveInt(flags.threads, '--threads'),
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

function diffFoldedOf(base: LoadedInput, target: LoadedInput, match: ExplicitMatch[]): string[] {
  const ba = analyzeProfile(base.profile, { nameOf: base.nameOf });
  const ta = analyzeProfile(target.profile, { nameOf: target.nameOf });
  const pairing = diffAnalyses(ba, ta, null, null, { match }).pairing;
  const names = (l: LoadedInput) => (i: Parameters<NonNullable<LoadedInput['nameOf']>>[0]) =>
    (l.nameOf ? l.nameOf(i) : i).name;
  return diffFolded(base.profile, target.profile, pairing, names(target));
}
