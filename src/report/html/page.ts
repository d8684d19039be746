/**
 * The one-file HTML page: the app's stylesheet and script inline, the report data as a JSON block.
 * No profile-derived text is written into HTML here: it travels only inside the JSON block (with
 * every `<` escaped, so no `</script>` or `<!--` can end or bend it) and the app renders it as text.
 * A Content-Security-Policy allows only this page's own script and style (by hash) and nothing
 * else: no network, no inline event handlers, so even a rendering bug cannot run injected script.
 */
import { createHash } from 'node:crypto';
import type { ReportAppAssets } from './app-assets.ts';
import type { ReportData } from './report-data.ts';

export const DATA_ELEMENT_ID = 'crosstalk-data';

/** JSON safe inside a `<script type="application/json">` element. */
export function embeddedJson(data: unknown): string {
  return JSON.stringify(data).replace(/</g, '\\u003c');
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export function reportPage(data: ReportData, app: ReportAppAssets): string {
  // The app is our own code, but a string in it must not close its element early.
  if (/<\/script/i.test(app.js) || /<\/style/i.test(app.css)) {
    throw new Error('report app bundle contains a closing </script> or </style> tag');
  }
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(app.js)}`,
    `style-src ${sha256(app.css)}`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="crosstalk">',
    '<title>crosstalk report</title>',
    `<style>${app.css}</style>`,
    '</head>',
    '<body>',
    '<noscript>This report draws its tables and graphs with JavaScript; enable it for this file.</noscript>',
    '<main id="app"></main>',
    `<script type="application/json" id="${DATA_ELEMENT_ID}">${embeddedJson(data)}</script>`,
    `<script>${app.js}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
