/**
 * speedscope export: valid against the file-format schema the speedscope npm package ships
 * (dist/release/file-format-schema.json, JSON Schema draft-07, checked with ajv), totals equal to
 * crosstalk's, and loaded by speedscope's own viewer (the package's static build) in Chromium.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { SampleLabels } from '../src/analysis/sample-labels.ts';
import { type SpeedscopeFile, speedscopeOf } from '../src/formats/speedscope.ts';
import type { Profile } from '../src/model/profile.ts';
import { busyHostWithContainers, totalWeight } from './pprof-support.ts';

const require = createRequire(import.meta.url);
const speedscopeRelease = dirname(require.resolve('speedscope/dist/release/file-format-schema.json'));
const schema = JSON.parse(readFileSync(join(speedscopeRelease, 'file-format-schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

const CHROMIUM = '/usr/bin/chromium';
function browserSkipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium)`;
  try {
    require.resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed';
  }
  return null;
}

describe('speedscope export', () => {
  let busy: Profile;
  let byContainer: SpeedscopeFile;
  let byProcess: SpeedscopeFile;
  beforeAll(async () => {
    busy = await busyHostWithContainers();
    const labels = new SampleLabels(busy);
    byContainer = speedscopeOf(busy, { labels });
    byProcess = speedscopeOf(busy, { by: 'process' });
  });

  it('validates against speedscope’s published file-format schema', () => {
    for (const file of [byContainer, byProcess]) {
      const ok = validate(JSON.parse(JSON.stringify(file)));
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    }
    // The validator is not vacuous: a wrong unit is rejected.
    const broken = JSON.parse(JSON.stringify(byContainer));
    broken.profiles[0].unit = 'ticks';
    expect(validate(broken)).toBe(false);
  });

  it('has one profile per container, each with the container’s weight, and frame indexes in range', () => {
    const a = analyzeProfile(busy);
    expect(byContainer.profiles.map((p) => p.name).sort()).toEqual(
      a.containers.map((c) => c.identity.name).sort(),
    );
    for (const c of a.containers) {
      const p = byContainer.profiles.find((x) => x.name === c.identity.name)!;
      expect(p.endValue).toBeCloseTo(c.share * totalWeight(busy), 0);
      expect(p.weights.reduce((x, y) => x + y, 0)).toBe(p.endValue);
    }
    const sum = (f: SpeedscopeFile) => f.profiles.reduce((x, p) => x + p.endValue, 0);
    expect(sum(byContainer)).toBe(totalWeight(busy));
    expect(sum(byProcess)).toBe(totalWeight(busy));
    const n = byContainer.shared.frames.length;
    for (const p of byContainer.profiles)
      for (const s of p.samples) for (const f of s) expect(f >= 0 && f < n && Number.isInteger(f)).toBe(true);
    expect(byContainer.profiles[0].unit).toBe('nanoseconds');
    expect(byContainer.shared.frames.some((f) => f.name === 'do_syscall_64_[k]')).toBe(true);
  });

  it('gives nanosecond weights a time unit for the event name perf records (cpu-clock/freq=99/)', () => {
    // crosstalk record's perf.data names its event `cpu-clock/freq=99/`: this was exported as "none".
    for (const event of ['cpu-clock/freq=99/', 'cpu-clock:ppp', 'task-clock'])
      expect(speedscopeOf({ ...busy, meta: { ...busy.meta, event } }).profiles[0].unit, event).toBe(
        'nanoseconds',
      );
    expect(speedscopeOf({ ...busy, meta: { ...busy.meta, event: 'cycles' } }).profiles[0].unit).toBe('none');
  });

  it('lists stacks root first, as speedscope reads them', () => {
    const frames = byContainer.shared.frames;
    const idle = byContainer.profiles
      .flatMap((p) => p.samples)
      .find((s) => frames[s[s.length - 1]].name === 'pv_native_safe_halt_[k]');
    expect(idle).toBeDefined();
    expect(frames[idle![0]].name).toBe('common_startup_64_[k]');
  });

  it.skipIf(browserSkipReason())(
    `loads in speedscope’s viewer without errors (${browserSkipReason() ?? 'Chromium'})`,
    async () => {
      const server = await serveViewer(JSON.stringify(byContainer));
      const { launchChromium } = await import('./support/chromium.mjs');
      const profileDir = mkdtempSync(join(tmpdir(), 'crosstalk-chromium-'));
      const browser = await launchChromium(profileDir, { viewport: { width: 1280, height: 800 } });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(e.message));
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        await page.goto(`${base}/index.html#profileURL=${encodeURIComponent(`${base}/profile.json`)}`);
        // The toolbar names the active profile once the file is parsed and drawn.
        const first = byContainer.profiles[0].name;
        await page.getByText(first, { exact: false }).first().waitFor({ timeout: 30_000 });
        await page.locator('canvas').first().waitFor({ timeout: 30_000 });
        const body = (await page.locator('body').textContent()) ?? '';
        expect(body).toContain(`1/${byContainer.profiles.length}`);
        expect(body).not.toMatch(/Something went wrong|Unrecognized format/i);
        expect(errors).toEqual([]);
        if (process.env.SPEEDSCOPE_SCREENSHOT)
          await page.screenshot({ path: process.env.SPEEDSCOPE_SCREENSHOT });
      } finally {
        await browser.close();
        server.close();
        rmSync(profileDir, { recursive: true, force: true });
      }
    },
    90_000,
  );
});

/** speedscope's static build and the profile, on 127.0.0.1 only. */
function serveViewer(profileJson: string): Promise<Server> {
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
    '.json': 'application/json',
    '.wasm': 'application/wasm',
    '.png': 'image/png',
    '.woff2': 'font/woff2',
  };
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (path === '/profile.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(profileJson);
      return;
    }
    const file = join(speedscopeRelease, path);
    if (!file.startsWith(speedscopeRelease) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' })
      .end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
