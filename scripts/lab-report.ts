/**
 * Writes the HTML report of a real `fadvise-logger` lab run, recorded with perf while the unfixed
 * containers run: the same steps `crosstalk lab run fadvise-logger --html FILE` takes. Used by
 * scripts/screenshot.mjs (which bundles and runs it) while the CLI has no --html on `lab run`.
 * Usage (bundled): node lab-report.mjs OUT.html [seconds]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importProfile } from '../src/formats/input.ts';
import { runScenario } from '../src/lab/runner.ts';
import { analyzeLoaded } from '../src/pipeline/analyze.ts';
import { loadedProfile } from '../src/pipeline/load.ts';
import { analysisReport } from '../src/pipeline/report.ts';
import { writeHtmlReport } from '../src/report/html/html-report.ts';

const [out, seconds = '4'] = process.argv.slice(2);
if (!out) throw new Error('usage: lab-report OUT.html [seconds]');
const dir = mkdtempSync(join(tmpdir(), 'crosstalk-lab-report-'));
const data = join(dir, 'perf.data');
try {
  const lab = await runScenario('fadvise-logger', {
    durationSeconds: Number(seconds),
    runs: 1,
    waitSeconds: 900,
    onProgress: (m) => process.stderr.write(`lab: ${m}\n`),
    onContended: async (ctx) => {
      const args = [
        'record',
        '-q',
        '-a',
        '-g',
        '--all-cgroups',
        '-F',
        '499',
        '-o',
        data,
        '--',
        'sleep',
        String(ctx.durationSeconds),
      ];
      await promisify(execFile)('perf', args);
      return data;
    },
  });
  const profile = await importProfile(data);
  const loaded = loadedProfile(profile);
  const report = analysisReport(loaded, analyzeLoaded(loaded), {
    title: 'crosstalk lab run fadvise-logger',
    lab,
  });
  const { bytes } = await writeHtmlReport(out, report, { force: true });
  process.stderr.write(`wrote ${out} (${bytes} bytes)\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
