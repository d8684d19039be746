/**
 * scripts/check-imports.mjs (run by `npm test`): src/ passes, and a tree with an import cycle
 * (type-only included), a report module that imports a computing one, or an import against the
 * layers fails, naming the files.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = new URL('../scripts/check-imports.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'crosstalk-imports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(files: Record<string, string>): { code: number | null; out: string } {
  const root = join(dir, `tree-${Math.random().toString(36).slice(2)}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('check-imports', () => {
  it('passes on src/', () => {
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/no cycles/);
  });

  it('fails on a cycle of type-only imports', () => {
    const r = check({
      'analysis/a.ts': "import type { B } from './b.ts';\nexport type A = B[];\n",
      'analysis/b.ts': "import type { A } from './a.ts';\nexport interface B { a: A }\n",
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/import cycle: analysis\/(a|b)\.ts -> analysis\/(b|a)\.ts -> analysis\/(a|b)\.ts/);
  });

  it('fails when src/report imports a value from a computing module, not when it imports types', () => {
    const files = {
      'analysis/analyze.ts':
        'export function analyze() { return 1; }\nexport interface Result { n: number }\n',
      'report/typed.ts':
        "import type { Result } from '../analysis/analyze.ts';\nexport const f = (r: Result) => r.n;\n",
    };
    expect(check(files).code).toBe(0);
    const r = check({
      ...files,
      'report/bad.ts': "import { analyze } from '../analysis/analyze.ts';\nexport const x = analyze();\n",
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain('src/report computes: report/bad.ts imports values from analysis/analyze.ts');
  });

  it('fails when a lower layer imports a higher one', () => {
    const r = check({
      'cli/main.ts': 'export const main = 1;\n',
      'store/store.ts': "import { main } from '../cli/main.ts';\nexport const s = main;\n",
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain('layer: store/store.ts (store) imports cli/main.ts');
  });
});
