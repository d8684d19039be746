// Issue 16, item 8: no command passes raw control characters from profile text to a terminal.
// Every command runs on a pseudo-terminal (util-linux `script`) over inputs whose process and
// frame names carry an OSC title sequence, a clear-screen CSI, a C1 CSI and a bidi override; the
// terminal output may hold only crosstalk's own SGR colours, erase-line, CR, LF and tab.
// (`diff --folded` printed them raw before the fix.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './support/cli.ts';

const noScript =
  spawnSync('script', ['--version']).status !== 0 ? 'util-linux script is not installed' : null;

const evilComm = 'web\u001b]0;pwned\u0007\u001b[2J\u202eexe.cod';
const evilFrame = 'handler\u009b31m\u001b[1;1H\u2066x';

function folded(weight: number): string {
  return `${evilComm};main;${evilFrame};write_[k] ${weight}\n${evilComm};main;idle ${weight * 2}\nother;main;work 5\n`;
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** The bytes a terminal would receive from `crosstalk ARGS` (stdout and stderr). */
function onTty(args: string[], cwd: string): string {
  const cmd = [process.execPath, BIN, ...args].map(quote).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
    cwd,
    env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '1', TERM: 'xterm' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return r.stdout;
}

/** Control characters other than SGR, erase-line, CR, LF, tab. */
function rawControls(out: string): string[] {
  const stripped = out.replace(/\u001b\[[0-9;]*[mK]|[\r\n\t]/g, '');
  return [...stripped.matchAll(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g)].map(
    (m) => m[0].charCodeAt(0).toString(16),
  );
}

describe.skipIf(noScript !== null)(
  `terminal output of every command${noScript ? ` (skipped: ${noScript})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-i16-tty-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'base.folded'), folded(3));
    writeFileSync(join(dir, 'target.folded'), folded(40));
    const store = join(dir, 'store');
    const commands: string[][] = [
      ['analyze', 'target.folded'],
      ['analyze', 'target.folded', '--json'],
      ['diff', 'base.folded', 'target.folded'],
      ['diff', 'base.folded', 'target.folded', '--folded'],
      ['diff', 'base.folded', 'target.folded', '--json'],
      ['collapse', 'target.folded'],
      ['export', 'target.folded', '--format', 'folded'],
      ['export', 'target.folded', '--format', 'speedscope'],
      ['runs', '--store', store],
      ['analyze', `missing-${evilComm}.folded`],
    ];

    it.each(commands.map((c) => [c.join(' ').replace(/[^\x20-\x7e]/g, '?'), c]))('%s', (_name, args) => {
      const out = onTty(args as string[], dir);
      expect(out.length).toBeGreaterThan(0);
      expect(rawControls(out)).toEqual([]);
    });

    it('the hostile names are still shown, escaped', () => {
      const out = onTty(['diff', 'base.folded', 'target.folded', '--folded'], dir);
      expect(out).toContain('\\x1b]0;pwned\\x07');
      expect(out).toContain('\\u202e');
    });
  },
);
