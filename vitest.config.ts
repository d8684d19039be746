import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Signature files are imported as text, as the esbuild bundle does with loader "text".
  plugins: [
    {
      name: 'markdown-as-text',
      transform(code, id) {
        return id.endsWith('.md') ? { code: `export default ${JSON.stringify(code)};`, map: null } : null;
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Tests that record with perf or create cgroups must not run at the same time as each other.
    fileParallelism: true,
    pool: 'forks',
  },
});
