// Regenerates docs/lab-report.png: runs the fadvise-logger lab scenario for real (root, perf and a
// C compiler needed; about a minute), writes its HTML report, opens it in Debian's Chromium from
// disk and screenshots the top of the page (findings, lab table) and the flame graph of one container.
//   node scripts/screenshot.mjs [--report FILE.html] [--keep FILE.html]
// --report screenshots an existing report instead of running the lab; --keep keeps the report.
// Uses `crosstalk lab run fadvise-logger --html` when the CLI has it, else scripts/lab-report.ts.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { launchChromium } from '../test/support/chromium.mjs';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i === -1 ? null : args[i + 1];
};
const OUT = 'docs/lab-report.png';
const work = mkdtempSync(join(tmpdir(), 'crosstalk-screenshot-'));

function labReport(file) {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  const help = spawnSync(process.execPath, ['bin/crosstalk.js', 'lab', 'run', '--help'], {
    encoding: 'utf8',
  });
  if (help.status === 0 && help.stdout.includes('--html')) {
    const cmd = [
      'bin/crosstalk.js',
      'lab',
      'run',
      'fadvise-logger',
      '--duration',
      '4',
      '--runs',
      '1',
      '--html',
      file,
    ];
    execFileSync(process.execPath, cmd, { stdio: 'inherit' });
    return;
  }
  return buildAndRunLabReport(file);
}

async function buildAndRunLabReport(file) {
  // In dist/, like the CLI bundle: the lab finds its C sources at ../src/lab/native/ from there.
  const bundle = join('dist', `lab-report-${process.pid}.mjs`);
  const app = {
    js: readFileSync('dist/report-app.js', 'utf8'),
    css: readFileSync('dist/report-app.css', 'utf8'),
  };
  await build({
    entryPoints: ['scripts/lab-report.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: bundle,
    banner: {
      js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
    },
    define: { CROSSTALK_REPORT_APP: JSON.stringify(app) },
    loader: { '.md': 'text' },
    logLevel: 'warning',
  });
  try {
    execFileSync(process.execPath, [bundle, file, '4'], { stdio: 'inherit' });
  } finally {
    rmSync(bundle, { force: true });
  }
}

async function screenshot(file) {
  const profile = join(work, 'chromium');
  const context = await launchChromium(profile, {
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  try {
    const page = await context.newPage();
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-ready="1"]');
    // Box of an element in page coordinates (full-page screenshots clip in those).
    const box = (selector) =>
      page.locator(selector).evaluate((e) => {
        const r = e.getBoundingClientRect();
        return { y: r.top + window.scrollY, height: r.height };
      });
    await page.locator('header.top').evaluate((h) => {
      h.style.position = 'static';
    });
    mkdirSync('docs', { recursive: true });
    const findings = await box('#findings');
    const height = Math.min(findings.y + findings.height + 40, 1500);
    await page.screenshot({ path: OUT, fullPage: true, clip: { x: 0, y: 0, width: 1280, height } });
    // The flame graph filtered to the first lab container, with the fadvise frames searched.
    const labels = await page.locator('#flame select.flame-filter option').allTextContents();
    const query = labels.find((l) => /^query-\d+$/.test(l));
    if (query) await page.locator('#flame select.flame-filter').selectOption({ label: query });
    await page.locator('#flame .flame-search').fill('fadvise');
    const flame = await box('#flame');
    await page.screenshot({
      path: 'docs/lab-report-flame.png',
      fullPage: true,
      clip: { x: 0, y: flame.y - 10, width: 1280, height: Math.min(flame.height + 20, 900) },
    });
  } finally {
    await context.close();
  }
}

try {
  let report = option('--report');
  if (!report) {
    report = join(work, 'lab-report.html');
    await labReport(report);
  }
  if (!existsSync(report)) throw new Error(`no report at ${report}`);
  const keep = option('--keep');
  if (keep) copyFileSync(report, keep);
  await screenshot(report);
  console.log(`wrote ${OUT} and docs/lab-report-flame.png from ${report}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
