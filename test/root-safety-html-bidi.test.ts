// Issue 16, item 13: a bidi override in a profile name (here a process name; cgroup names travel
// the same way) rendered reversed in the HTML report, while the terminal and JSON escaped it.
// Now every string of the report data is shown with visible escapes. Opens Chromium.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { browserSkipReason, ReportBrowser, visibleText } from './support/html-browser.ts';

const reason = browserSkipReason();
const NAME = 'evil\u202egpj.exe\u2066x\u0007';

describe.skipIf(reason !== null)(
  `bidi controls in the HTML report${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-i16-bidi-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('shows a bidi override as a visible escape, never as a control', async () => {
      writeFileSync(join(dir, 'in.folded'), `${NAME};main;work 9\nother;main;work 1\n`);
      const html = join(dir, 'report.html');
      const r = await runCli(['analyze', join(dir, 'in.folded'), '--html', html]);
      expect(r.code).toBe(0);
      const browser = await ReportBrowser.launch();
      try {
        const page = await browser.open(html);
        const text = await visibleText(page.page.locator('main'));
        expect(text).toContain('evil\\u202egpj.exe\\u2066x\\x07');
        expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
        expect(page.errors).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  },
);
