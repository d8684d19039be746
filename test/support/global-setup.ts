// Builds dist/crosstalk.js once before the suite, so tests that run the real CLI run current code.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
