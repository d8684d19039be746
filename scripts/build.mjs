// Bundles src/cli/main.ts into dist/crosstalk.js (ESM), and the parse worker into
// dist/parse-worker.js (loaded by crosstalk.js from its own directory). Dependencies are bundled
// too, so the tool starts without resolving node_modules; CJS deps need a require() shim.
//
// First, the HTML report's browser app (src/report/html/app) is bundled into one IIFE and one
// stylesheet (dist/report-app.js, dist/report-app.css), and both are inlined into crosstalk.js as
// the constant CROSSTALK_REPORT_APP, so the CLI writes reports with nothing beside it.
import { mkdir, writeFile } from 'node:fs/promises';
import { build } from 'esbuild';

const app = await build({
  entryPoints: { 'report-app': 'src/report/html/app/main.ts' },
  bundle: true,
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  format: 'iife',
  minify: true,
  outdir: 'dist',
  write: false,
  legalComments: 'inline',
  // uPlot's header comment is not a legal comment, so esbuild drops it; its MIT notice goes here.
  banner: {
    js: '/*! uPlot 1.6.32, Copyright (c) 2025 Leon Sorokin, MIT License, https://github.com/leeoniya/uPlot */',
  },
  logLevel: 'warning',
});
const appText = (ext) => app.outputFiles.find((f) => f.path.endsWith(ext)).text;
const reportApp = { js: appText('.js'), css: appText('.css') };
await mkdir('dist', { recursive: true });
await writeFile('dist/report-app.js', reportApp.js);
await writeFile('dist/report-app.css', reportApp.css);

await build({
  entryPoints: { crosstalk: 'src/cli/main.ts', 'parse-worker': 'src/formats/parse-worker.ts' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outdir: 'dist',
  sourcemap: 'linked',
  banner: {
    js: "import { createRequire as __ctCreateRequire } from 'node:module'; const require = __ctCreateRequire(import.meta.url);",
  },
  define: { CROSSTALK_REPORT_APP: JSON.stringify(reportApp) },
  loader: { '.md': 'text' },
  logLevel: 'warning',
});
