/**
 * The HTML report in a real browser, from real recordings: two cgroups on this machine (one
 * calling posix_fadvise(DONTNEED) after every log line, one spinning in user space, and in the
 * target a third sleeping in a loop), recorded system-wide with perf (with context switches, as
 * crosstalk record does, except the recording without call graphs); a baseline with the spinner
 * alone makes the diff. The reports are opened from disk in Debian's Chromium and used as a person would: look, click, search, filter.
 * Needs root, perf, a C compiler and /usr/bin/chromium; skips with the reason otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterSet } from '../src/analysis/counters.ts';
import { diffAnalyses } from '../src/analysis/diff.ts';
import { profileEventArgs } from '../src/collect/recording-session.ts';
import { importProfile } from '../src/formats/input.ts';
import { type Analyzed, analyzeLoaded } from '../src/pipeline/analyze.ts';
import { type LoadedInput, loadedProfile } from '../src/pipeline/load.ts';
import { analysisReport, diffReport as diffReportInput } from '../src/pipeline/report.ts';
import { writeHtmlReport } from '../src/report/html/html-report.ts';
import { CPU_BOUND, compileFixture, TestCgroups } from './record-cgroups.ts';
import { browserSkipReason, type OpenReport, ReportBrowser, visibleText } from './support/html-browser.ts';

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (perf record -a, cgroup creation)';
  if (spawnSync('perf', ['--version']).status !== 0) return 'perf is not installed';
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler (cc)';
  return browserSkipReason();
}
const reason = skipReason();

interface Analysed extends Analyzed {
  loaded: LoadedInput;
}

/** With `offCpu`, context switches are recorded beside the profile, as `crosstalk record` does. */
async function recordAndAnalyse(file: string, callGraphs = true, offCpu = false): Promise<Analysed> {
  const g = callGraphs ? ['-g'] : [];
  const events = profileEventArgs(499, offCpu, []);
  execFileSync(
    'perf',
    ['record', '-q', '-a', '--all-cgroups', ...g, ...events, '-o', file, '--', 'sleep', '2'],
    {
      stdio: 'ignore',
    },
  );
  const loaded = loadedProfile(await importProfile(file));
  return { loaded, ...analyzeLoaded(loaded) };
}

/** Canvas pixels (device pixels) whose colour passes `test`, counted in the page. */
async function countPixels(r: OpenReport, selector: string, colour: 'any' | 'magenta'): Promise<number> {
  return r.page.evaluate(
    ([sel, which]) => {
      const c = document.querySelector(sel) as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
        if (which === 'any' ? a > 0 : r === 230 && g === 0 && b === 210) n++;
      }
      return n;
    },
    [selector, colour] as const,
  );
}

interface FrameBox {
  node: number;
  name: string;
  x: number;
  y: number;
  w: number;
}

function frames(r: OpenReport, which: 'flame' | 'diffFlame'): Promise<FrameBox[]> {
  return r.page.evaluate(
    (w) =>
      (window as unknown as Record<string, Record<string, { frames(): FrameBox[] }>>).crosstalkReport[
        w
      ].frames(),
    which,
  );
}

describe.skipIf(reason !== null)(`HTML report in Chromium${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-html-e2e-'));
  let cgroups: TestCgroups | null = null;
  let browser: ReportBrowser | null = null;
  let report: OpenReport;
  let diffReport: OpenReport;
  /** Recorded without -g: the data cannot answer. */
  let flatReport: OpenReport;
  let target: Analysed;

  beforeAll(async () => {
    const bin = compileFixture('fadvise-logger', dir);
    cgroups = await TestCgroups.create('crosstalk-html');
    if (!cgroups) throw new Error('no writable cgroup v2 hierarchy');
    await cgroups.start('spinner', CPU_BOUND);
    const baseline = await recordAndAnalyse(join(dir, 'baseline.data'), true, true);
    await cgroups.start('logger', [bin, join(dir, 'app.log')]);
    await cgroups.start('sleeper', ['sh', '-c', 'while :; do sleep 0.01; done']);
    target = await recordAndAnalyse(join(dir, 'target.data'), true, true);
    const flat = await recordAndAnalyse(join(dir, 'flat.data'), false);
    await cgroups.cleanup();
    const file = join(dir, 'report.html');
    // Counters as a recorded run carries them (the runs here are plain perf recordings).
    const counters = (negative: number): CounterSet => ({
      windowSeconds: 2,
      host: new Map([
        ['dentry.negative.delta', negative],
        ['psi.host.cpu.some', 0.125],
      ]),
      byContainer: new Map(),
    });
    await writeHtmlReport(file, analysisReport({ ...target.loaded, counters: counters(1_289_652) }, target));
    const diff = diffAnalyses(baseline.result, target.result, counters(1), counters(1_289_652));
    const diffFile = join(dir, 'diff.html');
    await writeHtmlReport(
      diffFile,
      diffReportInput(baseline.loaded, target.loaded, {
        diff,
        findings: target.findings,
        target: target.result,
        baseline: baseline.result,
      }),
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const flatFile = join(dir, 'flat.html');
    await writeHtmlReport(flatFile, analysisReport(flat.loaded, flat));
    browser = await ReportBrowser.launch();
    report = await browser.open(file);
    diffReport = await browser.open(diffFile);
    flatReport = await browser.open(flatFile);
  }, 180_000);

  afterAll(async () => {
    await cgroups?.cleanup();
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the findings: the fadvise storm, its antagonist, syscall and fix', async () => {
    const cards = report.page.locator('#findings .finding');
    // The cards come in the analysis's order.
    await expect(visibleText(cards.first())).resolves.toContain(target.findings[0].title);
    // The spinner shares two CPUs with the logger, and a system-wide recording sees every other
    // task on the host: a CPU finding from the context switches may rank above the storm.
    const k = target.findings.findIndex((f) => f.signature === 'fadvise-dontneed-storm');
    expect(k, target.findings.map((f) => f.signature ?? f.title).join(', ')).toBeGreaterThanOrEqual(0);
    const storm = cards.nth(k);
    await expect(storm.isVisible()).resolves.toBe(true);
    const text = await visibleText(storm);
    expect(text).toContain(target.findings[k].title);
    expect(text).toMatch(/antagonist\s+logger/);
    expect(text).toContain('fadvise64');
    expect(text).toContain('fix');
    await expect(visibleText(report.page.locator('#containers'))).resolves.toMatch(
      /logger[\s\S]*spinner|spinner[\s\S]*logger/,
    );
    await expect(visibleText(report.page.locator('#syscalls'))).resolves.toContain('fadvise64');
  });

  it('shows off-CPU time when the recording has context switches, and no such section without', async () => {
    const section = report.page.locator('#offcpu');
    await expect(section.isVisible()).resolves.toBe(true);
    const text = await visibleText(section);
    expect(text).toMatch(/[\d,]+ context switches over \d/);
    expect(text).toMatch(/sleeper\s+\d+\.\d\d s/);
    expect(text).toContain('clock_nanosleep');
    await expect(report.page.locator('nav a[href="#offcpu"]').count()).resolves.toBe(1);
    await expect(flatReport.page.locator('#offcpu').count()).resolves.toBe(0);
    await expect(flatReport.page.locator('nav a[href="#offcpu"]').count()).resolves.toBe(0);
  });

  it('draws the flame graph: frames laid out and pixels on the canvas', async () => {
    const canvas = report.page.locator('#flame canvas');
    expect(Number(await canvas.getAttribute('data-drawn'))).toBeGreaterThan(20);
    expect(await countPixels(report, '#flame canvas', 'any')).toBeGreaterThan(10_000);
    const names = (await frames(report, 'flame')).map((f) => f.name);
    expect(names).toContain('generic_fadvise');
  });

  it('zooms on a click: the clicked frame spans the width; reset zooms out', async () => {
    const canvas = report.page.locator('#flame canvas');
    const box = (await canvas.boundingBox())!;
    const before = await frames(report, 'flame');
    const target = before.find((f) => f.name === 'generic_fadvise')!;
    expect(target.w).toBeLessThan(box.width * 0.95);
    await canvas.click({ position: { x: target.x + Math.min(target.w / 2, 20), y: target.y + 9 } });
    await expect(canvas.getAttribute('data-zoom')).resolves.toBe('generic_fadvise');
    const after = (await frames(report, 'flame')).find((f) => f.node === target.node)!;
    expect(after.x).toBe(0);
    expect(after.w).toBeCloseTo(box.width, 0);
    await report.page.locator('#flame .flame-reset').click();
    await expect(canvas.getAttribute('data-zoom')).resolves.toBe('all');
  });

  it('search highlights matching frames and says how much they cover', async () => {
    const canvas = report.page.locator('#flame canvas');
    expect(await countPixels(report, '#flame canvas', 'magenta')).toBe(0);
    await report.page.locator('#flame .flame-search').fill('fadvise');
    expect(Number(await canvas.getAttribute('data-highlighted'))).toBeGreaterThan(0);
    expect(await countPixels(report, '#flame canvas', 'magenta')).toBeGreaterThan(100);
    await expect(visibleText(report.page.locator('#flame .flame-status'))).resolves.toMatch(
      /frames match, \d/,
    );
    await report.page.locator('#flame .flame-search').fill('');
    expect(await countPixels(report, '#flame canvas', 'magenta')).toBe(0);
  });

  it('the container filter changes the graph to that container only', async () => {
    const canvas = report.page.locator('#flame canvas');
    const select = report.page.locator('#flame select.flame-filter');
    const options = await select.locator('option').allInnerTexts();
    expect(options).toEqual(expect.arrayContaining(['all containers', 'logger', 'spinner']));
    const processesIn = async () => [
      ...new Set((await frames(report, 'flame')).filter((f) => f.y === 18).map((f) => f.name)),
    ];
    expect((await processesIn()).length).toBeGreaterThan(1);
    await select.selectOption({ label: 'spinner' });
    const spinnerId = target.result.containers.find((c) => c.identity.name === 'spinner')!.identity.id;
    await expect(canvas.getAttribute('data-view')).resolves.toBe(spinnerId);
    expect(await processesIn()).toEqual(['sh']);
    expect((await frames(report, 'flame')).map((f) => f.name)).not.toContain('generic_fadvise');
    await select.selectOption({ label: 'all containers' });
    expect((await frames(report, 'flame')).map((f) => f.name)).toContain('generic_fadvise');
  });

  it('draws the timeline: kernel time per container and per syscall over the recording', async () => {
    const charts = report.page.locator('#timeline .uplot');
    await expect(charts.count()).resolves.toBe(2);
    const legend = await visibleText(report.page.locator('#timeline'));
    expect(legend).toContain('logger (antagonist)');
    expect(legend).toContain('fadvise64 (finding)');
    const series = await report.page.evaluate(() => {
      const r = (window as unknown as { crosstalkReport: { charts(): { data: number[][] }[] } })
        .crosstalkReport;
      return r.charts().map((c) => c.data.length);
    });
    expect(series[0]).toBeGreaterThanOrEqual(3);
    expect(await countPixels(report, '#timeline .uplot canvas', 'any')).toBeGreaterThan(1000);
  });

  it('reads at a glance: axis in CPUs busy, legend values, flame height, counters with labels', async () => {
    const charts = await report.page.evaluate(() => {
      type Plot = { axes: { label?: string }[]; data: number[][] };
      const r = (window as unknown as { crosstalkReport: { charts(): Plot[] } }).crosstalkReport;
      return r.charts().map((c) => ({ label: c.axes[1].label, max: Math.max(...c.data.slice(1).flat()) }));
    });
    // cpu-clock/freq=499/ weights are CPU time: CPUs busy (this host has 2), not ns per second.
    expect(charts[0].label).toBe('CPUs busy in the kernel');
    expect(charts[0].max).toBeGreaterThan(0);
    expect(charts[0].max).toBeLessThanOrEqual(availableParallelism() * 1.05);
    const values = await report.page.locator('#timeline .u-legend .u-value').allTextContents();
    expect(values.length).toBeGreaterThan(2);
    for (const v of values) expect(v.trim()).not.toBe('');
    // The canvas is as tall as its content: its bottom row holds a frame, no blank band below.
    const canvas = report.page.locator('#flame canvas');
    const height = Number(await canvas.evaluate((c) => (c as HTMLCanvasElement).clientHeight));
    const boxes = await frames(report, 'flame');
    const deepest = Math.max(...boxes.map((f) => f.y)) + 18;
    expect(height).toBe(deepest);
    expect(boxes.some((f) => f.y + 18 === deepest && f.w >= 3)).toBe(true);
    const run = await visibleText(report.page.locator('#run'));
    expect(run).toMatch(/negative dentries added during the window\s+1,289,652/);
    expect(run).toMatch(/host CPU pressure: time some task stalled\s+12\.5%/);
    const key = report.page.locator('#run .counter[title="dentry.negative.delta"]');
    await expect(key.count()).resolves.toBe(1);
    const diffRun = await visibleText(diffReport.page.locator('#run'));
    expect(diffRun).not.toContain('No kernel counters');
    expect(diffRun).toMatch(/negative dentries added during the window\s+1\s+1,289,652\s+\+1,289,651/);
  });

  it('shows the run metadata', async () => {
    const run = await visibleText(report.page.locator('#run'));
    expect(run).toMatch(/perf version\s+\S/);
    expect(run).toMatch(/call graphs\s+fp/);
    expect(run).toMatch(/frequency \(Hz\)\s+499/);
  });

  it('diff: draws the differential flame graph, with frames new in the target in red', async () => {
    const canvas = diffReport.page.locator('#diff-flame canvas');
    expect(Number(await canvas.getAttribute('data-drawn'))).toBeGreaterThan(20);
    const changed = await visibleText(diffReport.page.locator('#findings'));
    expect(changed).toContain('What changed');
    // Both runs recorded switches: the sleeper, new in the target, blocks about one task on average.
    expect(changed).toMatch(
      /Blocked tasks by container \(off-CPU\)[\s\S]*sleeper\s+0\.000\s+\d\.\d{3}\s+\+\d\.\d{3}/,
    );
    const grown = (await frames(diffReport, 'diffFlame')).find(
      (f) => f.name === 'generic_fadvise' && f.w > 2,
    )!;
    expect(grown).toBeDefined();
    const [r, g, b] = await diffReport.page.evaluate(
      ([x, y]) => {
        const c = document.querySelector('#diff-flame canvas') as HTMLCanvasElement;
        const dpr = c.width / c.clientWidth;
        return Array.from(
          c.getContext('2d')!.getImageData(Math.floor((x + 1) * dpr), Math.floor((y + 2) * dpr), 1, 1).data,
        );
      },
      [grown.x, grown.y],
    );
    expect(r).toBeGreaterThan(200);
    expect(g).toBeLessThan(120);
    expect(b).toBeLessThan(120);
  });

  it('shows a "the data cannot answer" verdict as such, without a fix', async () => {
    const verdict = flatReport.page.locator('#findings .finding.kind-cannot-answer').first();
    await expect(verdict.isVisible()).resolves.toBe(true);
    const text = await visibleText(verdict);
    expect(text).toMatch(/^the data cannot answer/i);
    expect(text).toContain('call chains');
    expect(text).not.toMatch(/\bfix\b/);
    expect(Number(await flatReport.page.locator('#flame canvas').getAttribute('data-drawn'))).toBeGreaterThan(
      2,
    );
  });

  it('loads nothing from outside the file, with no console errors and no dialogs', () => {
    for (const r of [report, diffReport, flatReport]) {
      expect(r.errors).toEqual([]);
      expect(r.dialogs).toEqual([]);
      expect(r.requests).toEqual([]);
    }
  });
});
