/**
 * Flag helpers every command shares: repeatable values, positive integers, --call-graph, colour,
 * and input arguments with `--host NAME=INPUT` loaded behind a progress line.
 */
import type { CallGraphMode } from '../model/profile.ts';
import { type HostRef, type LoadedInput, loadInputs } from '../pipeline/load.ts';
import { CliError } from './errors.ts';
import { ExitCode } from './exit-codes.ts';
import { progress } from './progress.ts';

/** commander's collector for a repeatable option. */
export function collectValues(v: string, all: string[]): string[] {
  return [...all, v];
}

export function parsePositiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new CliError(`${flag}: expected a positive integer, got ${JSON.stringify(v)}`, ExitCode.usage);
  return n;
}

export function parseCallGraph(v: string | undefined): CallGraphMode | undefined {
  if (v === undefined) return undefined;
  if (v === 'fp' || v === 'dwarf' || v === 'lbr') return v;
  throw new CliError(`--call-graph: expected fp, dwarf or lbr, got ${JSON.stringify(v)}`, ExitCode.usage);
}

/** --threads, when given. */
export function parseThreads(v: string | undefined): number | undefined {
  return v === undefined ? undefined : parsePositiveInt(v, '--threads');
}

/** ANSI colours: unless --no-color or NO_COLOR, and only on a terminal. */
export function useColor(flags: { color?: boolean }): boolean {
  return flags.color !== false && process.stdout.isTTY === true && !process.env.NO_COLOR;
}

/** `--host NAME=INPUT` values and plain input arguments, in that order. */
export function hostRefsOf(inputs: readonly string[], hostFlags: readonly string[]): HostRef[] {
  const named = hostFlags.map((v) => {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1)
      throw new CliError(`--host: expected NAME=INPUT, got ${JSON.stringify(v)}`, ExitCode.usage);
    return { host: v.slice(0, eq), ref: v.slice(eq + 1) };
  });
  const names = new Set<string>();
  for (const { host } of named) {
    if (names.has(host))
      throw new CliError(`--host: the name ${JSON.stringify(host)} is given twice`, ExitCode.usage);
    names.add(host);
  }
  return [...named, ...inputs.map((ref) => ({ host: null, ref }))];
}

/** Input arguments and `--host NAME=INPUT` flags, loaded with a progress line (several: in parallel). */
export async function loadFromArguments(
  inputs: string[],
  flags: { host?: string[]; store?: string; event?: string; callGraph?: string; threads?: string },
): Promise<LoadedInput> {
  const refs = hostRefsOf(inputs, flags.host ?? []);
  if (refs.length === 0) throw new CliError('expected an input (or --host NAME=INPUT)', ExitCode.usage);
  const callGraph = parseCallGraph(flags.callGraph);
  const threads = parseThreads(flags.threads);
  const bar = progress(refs.length === 1 ? `reading ${refs[0].ref}` : `reading ${refs.length} inputs`);
  try {
    return await loadInputs(refs, {
      event: flags.event,
      callGraph,
      store: flags.store,
      threads,
      onProgress: (f) => bar.update(f),
    });
  } finally {
    bar.done();
  }
}
