// Bundles src/cli/main.ts into dist/crosstalk.js (ESM), and the parse worker into
// dist/parse-worker.js (loaded by crosstalk.js from its own directory). Dependencies are bundled
// too, so the tool starts without resolving node_modules; CJS deps need a require() shim.
import { build } from 'esbuild';

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
  loader: { '.md': 'text' },
  logLevel: 'warning',
});
