// The suite's false-accusation count: every test that diagnoses a recording whose victims it knows
// (a lab scenario's ground truth, a synthetic profile) tallies the findings whose antagonist is one
// of those victims. The global setup (global-setup.ts) prints the total after the run and fails
// the run when it is not 0.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    accusationDir: string;
  }
}

interface Blaming {
  title: string;
  antagonist: { container: string } | null;
}

/** The findings that name one of the innocent containers (ids) as their antagonist. */
export function falseAccusations<F extends Blaming>(findings: F[], innocent: string[]): F[] {
  return findings.filter((f) => f.antagonist !== null && innocent.includes(f.antagonist.container));
}

/** Records one diagnosed recording: how many findings, which accused an innocent container. */
export function tallyAccusations(label: string, findings: Blaming[], innocent: string[]): void {
  const dir = inject('accusationDir');
  if (!dir) return;
  const accused = falseAccusations(findings, innocent).map((f) => f.title);
  const line = JSON.stringify({ label, findings: findings.length, accused });
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${line}\n`);
}
