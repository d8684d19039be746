import { defineConfig } from 'vitest/config';

/**
 * Tests that record the whole host with perf, create cgroups, run lab containers or change
 * sysctls. They run one file at a time, after the unit tests: a system-wide recording would
 * otherwise capture another test's containers and its assertions would see them.
 */
const systemTests = [
  'test/analyze-e2e.test.ts',
  'test/blame-e2e.test.ts',
  'test/call-site-lines-e2e.test.ts',
  'test/collect-preflight.test.ts',
  'test/cpu-hog-e2e.test.ts',
  'test/demo-e2e.test.ts',
  'test/diagnose-e2e.test.ts',
  'test/doctor-baseline-e2e.test.ts',
  'test/doctor-e2e.test.ts',
  'test/fuzz-perf-data.test.ts',
  'test/host-load.test.ts',
  'test/html-browser.test.ts',
  'test/html-hostile.test.ts',
  'test/interrupt-loop.test.ts',
  'test/lab-docker-e2e.test.ts',
  'test/lab-e2e.test.ts',
  'test/native-decoder-conformance.test.ts',
  'test/off-cpu.test.ts',
  'test/perf-data.test.ts',
  'test/record-archive.test.ts',
  'test/record-e2e.test.ts',
  'test/record-interrupt.test.ts',
  'test/root-safety-forged-samples.test.ts',
  'test/root-safety-html-bidi.test.ts',
  'test/shell-safety-e2e.test.ts',
  'test/syscall-latency-e2e.test.ts',
  'test/victim-latency-lab.test.ts',
  'test/victim-no-harm-e2e.test.ts',
  'test/watch-e2e.test.ts',
];

// Signature files are imported as text, as the esbuild bundle does with loader "text".
const markdownAsText = {
  name: 'markdown-as-text',
  transform(code: string, id: string) {
    return id.endsWith('.md') ? { code: `export default ${JSON.stringify(code)};`, map: null } : null;
  },
};

export default defineConfig({
  plugins: [markdownAsText],
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    sequence: { groupOrder: 0 },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: systemTests, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'system', include: systemTests, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
