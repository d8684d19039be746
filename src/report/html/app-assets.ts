/**
 * The browser app (app/, bundled by scripts/build.mjs into one IIFE and one stylesheet). The CLI
 * bundle carries both as text (esbuild `define`), so writing a report needs no file next to the
 * bundle, no node_modules and no network. Running from source (tests, tsx), they are read from
 * dist/, which `npm run build` (and the test suite's global setup) writes first.
 */
import { readFileSync } from 'node:fs';

export interface ReportAppAssets {
  js: string;
  css: string;
}

declare const CROSSTALK_REPORT_APP: ReportAppAssets | undefined;

let fromDist: ReportAppAssets | null = null;

export function reportAppAssets(): ReportAppAssets {
  if (typeof CROSSTALK_REPORT_APP !== 'undefined') return CROSSTALK_REPORT_APP;
  if (fromDist === null) {
    const dist = new URL('../../../dist/', import.meta.url);
    try {
      fromDist = {
        js: readFileSync(new URL('report-app.js', dist), 'utf8'),
        css: readFileSync(new URL('report-app.css', dist), 'utf8'),
      };
    } catch (e) {
      throw new Error(
        `the HTML report app is not built (${(e as Error).message}); run \`npm run build\` first`,
      );
    }
  }
  return fromDist;
}
