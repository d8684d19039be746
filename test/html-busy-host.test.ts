/**
 * Size and speed on the busy-host corpus file (205k samples, 20 s, 2 vCPUs): the report stays
 * under 5 MB and is usable (drawn, charts made) within 2 s of opening it from disk in Chromium;
 * search and zoom answer within a frame or two.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importProfile } from '../src/formats/input.ts';
import { analyzeLoaded } from '../src/pipeline/analyze.ts';
import { loadedProfile } from '../src/pipeline/load.ts';
import { analysisReport } from '../src/pipeline/report.ts';
import { writeHtmlReport } from '../src/report/html/html-report.ts';
import { corpusFile, corpusMissing } from './support/corpus.mjs';
import { browserSkipReason, type OpenReport, ReportBrowser } from './support/html-browser.ts';

const reason = corpusMissing ?? browserSkipReason();
const BUSY_HOST = reason === null ? corpusFile('host-samples/busy-host.perf.txt.gz') : '';

describe.skipIf(reason !== null)(
  `busy-host report size and speed${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-html-busy-'));
    const file = join(dir, 'busy-host.html');
    let browser: ReportBrowser | null = null;
    let report: OpenReport;
    let writeMs = 0;

    beforeAll(async () => {
      const loaded = loadedProfile(await importProfile(BUSY_HOST));
      const analyzed = analyzeLoaded(loaded);
      const t = performance.now();
      await writeHtmlReport(file, analysisReport(loaded, analyzed));
      writeMs = performance.now() - t;
      browser = await ReportBrowser.launch();
      report = await browser.open(file);
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('is under 5 MB and usable within 2 s', async () => {
      const bytes = statSync(file).size;
      const drawn = Number(await report.page.locator('#flame canvas').getAttribute('data-drawn'));
      console.log(
        `busy-host report: ${(bytes / 1e6).toFixed(2)} MB, written in ${writeMs.toFixed(0)} ms, usable ${report.readyMs.toFixed(0)} ms after navigation, ${drawn} frames drawn`,
      );
      expect(bytes).toBeLessThan(5e6);
      expect(report.readyMs).toBeLessThan(2000);
      expect(drawn).toBeGreaterThan(500);
      expect(report.errors).toEqual([]);
    });

    it('searches and zooms within 100 ms', async () => {
      const ms = await report.page.evaluate(() => {
        const r = (
          window as unknown as {
            crosstalkReport: {
              flame: {
                search(q: string): void;
                zoom(n: number): void;
                reset(): void;
                frames(): { node: number; w: number }[];
              };
            };
          }
        ).crosstalkReport;
        const t0 = performance.now();
        r.flame.search('lookup');
        const t1 = performance.now();
        const big = r.flame.frames().filter((f) => f.w > 100)[5];
        r.flame.zoom(big.node);
        const t2 = performance.now();
        r.flame.reset();
        r.flame.search('');
        return { search: t1 - t0, zoom: t2 - t1 };
      });
      console.log(`busy-host: search ${ms.search.toFixed(1)} ms, zoom ${ms.zoom.toFixed(1)} ms`);
      expect(ms.search).toBeLessThan(100);
      expect(ms.zoom).toBeLessThan(100);
    });
  },
);
