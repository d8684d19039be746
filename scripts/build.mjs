// Bundles src/cli/main.ts into dist/crosstalk.js (ESM). Dependencies are bundled too, so the
// installed tool starts without resolving node_modules; CJS deps need a require() shim.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile: 'dist/crosstalk.js',
  sourcemap: 'linked',
  banner: {
    js: "import { createRequire as __ctCreateRequire } from 'node:module'; const require = __ctCreateRequire(import.meta.url);",
  },
  loader: { '.md': 'text' },
  logLevel: 'warning',
});
