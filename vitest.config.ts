import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Tests that record with perf or create cgroups must not run at the same time as each other.
    fileParallelism: true,
    pool: 'forks',
  },
});
