/**
 * File and directory names a shell would act on: spaces, both quotes, command substitution in
 * both syntaxes, separators and a leading dash. If any of them ever reached a shell, a file named
 * `pwned` would appear; `pwnedFiles` looks for it where it would land.
 */
import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HOSTILE = `-x 'q' "d" $(touch pwned) \`touch pwned\` ;touch pwned; |touch pwned &`;

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** Places a `touch pwned` run by a shell would write to (its working directory). */
export function pwnedFiles(...dirs: string[]): string[] {
  return [process.cwd(), repo, tmpdir(), homedir(), '/', ...dirs]
    .map((d) => join(d, 'pwned'))
    .filter((p) => existsSync(p));
}
