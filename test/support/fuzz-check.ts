/**
 * The fuzz invariant, shared by test/fuzz-importers.test.ts and scripts/soak.ts: importing any
 * input gives either a profile that validates (and that analysis, the JSON document, the terminal
 * summary and folded output handle) or an InputError naming the file (and the line, for text),
 * within a time bound proportional to the input's size. Anything else is a violation.
 */
import { writeFileSync } from 'node:fs';
import { analyzeProfile } from '../../src/analysis/analyze.ts';
import { oneLine } from '../../src/cli/errors.ts';
import { collapseProfile } from '../../src/formats/collapse.ts';
import { InputError } from '../../src/formats/errors.ts';
import { importProfile } from '../../src/formats/input.ts';
import type { Profile } from '../../src/model/profile.ts';
import { validateProfile } from '../../src/model/validate.ts';
import { analyzeJsonText } from '../../src/report/json.ts';
import { renderAnalysis } from '../../src/report/terminal.ts';
import type { FuzzCase } from './fuzz-cases.ts';
import { isFieldBoundary } from './fuzz-mutations.ts';

export interface Outcome {
  profile: Profile | null;
  error: unknown;
  /** CPU time (user + system, all threads) of the import alone, ms: what the bound is on. */
  ms: number;
  /** Wall time of the import, ms: it also counts other processes' load on the CPUs. */
  wallMs: number;
  /** Bytes the importer read (the file as stored). */
  bytes: number;
}

/**
 * CPU time allowed for one import: a fixed part (file open, sniffing, JIT, GC) plus a per-byte
 * part. CPU time, not wall time, so that other processes sharing the CPUs do not fail a case; a
 * wait that burns no CPU is caught by `wallMs` (and a hang by the test's or the soak's timeout).
 */
export interface TimeBound {
  baseMs: number;
  nsPerByte: number;
  wallMs: number;
}

/**
 * The bound the CI test and the soak assert. Measured by a 1,000,212-case soak on the 2-vCPU VM,
 * other work running: the slowest input of 64 KiB or more took 541 ns of CPU per byte (36 ms for
 * 66 kB, JIT and GC included); the only cases past the bound were pprof files whose counts
 * expanded to millions of rows, since capped by expansionLimit in pprof-import.ts.
 */
export const FUZZ_TIME_BOUND: TimeBound = { baseMs: 100, nsPerByte: 500, wallMs: 20_000 };

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Writes the case to `path` and imports it as `crosstalk analyze` would (one thread). */
export async function importCase(path: string, c: FuzzCase): Promise<Outcome> {
  writeFileSync(path, c.file);
  const wall0 = performance.now();
  const cpu0 = cpuMs();
  let profile: Profile | null = null;
  let error: unknown = null;
  try {
    profile = await importProfile(path, { threads: 1 });
  } catch (e) {
    error = e;
  }
  return { profile, error, ms: cpuMs() - cpu0, wallMs: performance.now() - wall0, bytes: c.file.length };
}

/**
 * importCase and violationsOf, with a case over its CPU bound imported once more: the time
 * violation stands only if the second import is over the bound too. A major GC of the test
 * process, which holds the whole corpus, can land inside one small case (103 ms of CPU for 916
 * bytes, once in CI); an input that is slow to import is slow both times.
 */
export async function checkCase(
  path: string,
  c: FuzzCase,
  bound: TimeBound,
  downstream: boolean,
): Promise<string[]> {
  const o = await importCase(path, c);
  if (o.ms > bound.baseMs + (bound.nsPerByte * workBytes(c)) / 1e6) {
    const again = await importCase(path, c);
    o.ms = Math.min(o.ms, again.ms);
  }
  return violationsOf(c, path, o, bound, downstream);
}

/** Largest bytes count the time bound is applied to: the decompressed size when gzipped. */
export function workBytes(c: FuzzCase): number {
  return Math.max(c.file.length, c.content.length);
}

export function violationsOf(
  c: FuzzCase,
  path: string,
  o: Outcome,
  bound: TimeBound,
  downstream: boolean,
): string[] {
  const out: string[] = [];
  const limit = bound.baseMs + (bound.nsPerByte * workBytes(c)) / 1e6;
  if (o.ms > limit)
    out.push(`took ${o.ms.toFixed(1)} ms of CPU for ${workBytes(c)} bytes (bound ${limit.toFixed(1)} ms)`);
  if (o.wallMs > bound.wallMs)
    out.push(`took ${o.wallMs.toFixed(0)} ms of wall time (bound ${bound.wallMs} ms)`);
  if (o.profile !== null) out.push(...profileViolations(c, o.profile, downstream));
  else out.push(...errorViolations(c, path, o.error));
  return out;
}

function profileViolations(c: FuzzCase, p: Profile, downstream: boolean): string[] {
  const out: string[] = [];
  try {
    validateProfile(p);
  } catch (e) {
    return [`profile does not validate: ${(e as Error).message}`];
  }
  for (let i = 0; i < p.samples.length; i++) {
    const w = p.samples.weight[i];
    if (!Number.isFinite(w) || w < 0) {
      out.push(`sample ${i} has weight ${w}`);
      break;
    }
    const t = p.samples.time[i];
    if (!Number.isNaN(t) && !Number.isFinite(t)) {
      out.push(`sample ${i} has time ${t}`);
      break;
    }
  }
  const d = p.meta.durationSeconds;
  if (d !== null && !(Number.isFinite(d) && d >= 0)) out.push(`duration ${d}`);
  const text = p.meta.format === 'perf-script' || p.meta.format === 'folded';
  const content = c.content;
  if (text && content.length > 0 && content[content.length - 1] !== 0x0a && !p.meta.truncated)
    out.push('input ends mid-line but the profile is not marked truncated');
  if (c.gzipCut && !p.meta.truncated) out.push('gzip data was cut but the profile is not marked truncated');
  if (p.meta.format === 'pprof' && c.onlyCuts && !c.gzipCut && !isFieldBoundary(c.base, c.content.length))
    out.push(`pprof cut inside a field at byte ${c.content.length} of ${c.base.length} was read as complete`);
  if (downstream && out.length === 0) out.push(...downstreamViolations(p));
  return out;
}

const rawControl = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Analysis, the JSON document, the terminal summary and folded output of the profile. */
function downstreamViolations(p: Profile): string[] {
  const out: string[] = [];
  try {
    const a = analyzeProfile(p);
    JSON.parse(analyzeJsonText(a));
    const terminal = renderAnalysis(a, { color: false });
    if (rawControl.test(terminal))
      out.push(
        `terminal summary holds a raw control character: ${JSON.stringify(terminal.match(rawControl)?.[0])}`,
      );
    for (const line of collapseProfile(p)) {
      if (line.includes('\n')) {
        out.push('a folded line holds a newline');
        break;
      }
    }
  } catch (e) {
    out.push(`downstream of the import: ${(e as Error).stack ?? e}`);
  }
  return out;
}

function errorViolations(c: FuzzCase, path: string, e: unknown): string[] {
  if (!(e instanceof InputError)) {
    const what = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    return [`threw something other than an InputError: ${what}`];
  }
  const out: string[] = [];
  if (e.file !== path) out.push(`error names ${JSON.stringify(e.file)}, not the file`);
  const where = e.line === null ? `${path}: ` : `${path}:${e.line}: `;
  if (!e.message.startsWith(where))
    out.push(`message does not start with "${where}": ${e.message.slice(0, 200)}`);
  if (e.line !== null && !c.binary && e.line > lineCount(c.content) + 1)
    out.push(`line ${e.line} is past the input's ${lineCount(c.content)} lines`);
  if (e.message.length > path.length + 2000) out.push(`message of ${e.message.length} characters`);
  const shown = oneLine(e.message);
  if (rawControl.test(shown)) out.push(`message shown on the terminal holds a control character`);
  return out;
}

function lineCount(b: Uint8Array): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i !== -1; i = b.indexOf(0x0a, i + 1)) n++;
  return n + 1;
}
