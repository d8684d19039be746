// Builds dist/crosstalk.js once before the suite, so tests that run the real CLI run current code.
// Collects the false-accusation tally (accusations.ts) and reports it after the run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): () => void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-accusations-'));
  project.provide('accusationDir', dir);
  return () => {
    const rows: { label: string; accused: string[] }[] = [];
    for (const f of readdirSync(dir))
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n'))
        if (line.trim() !== '') rows.push(JSON.parse(line));
    rmSync(dir, { recursive: true, force: true });
    if (rows.length === 0) return;
    const wrong = rows.filter((r) => r.accused.length > 0);
    const count = wrong.reduce((n, r) => n + r.accused.length, 0);
    process.stdout.write(
      `\nfalse accusations (findings whose antagonist is a ground-truth victim): ${count} across ${rows.length} diagnosed recordings\n`,
    );
    for (const r of wrong) process.stdout.write(`  ${r.label}: ${r.accused.join(' | ')}\n`);
    if (count > 0) {
      // A teardown error alone does not fail the run: the exit status must.
      process.exitCode = 1;
      throw new Error(`${count} findings name a ground-truth victim as the antagonist`);
    }
  };
}
