/**
 * Opens an HTML report in Debian's Chromium through playwright-core, as a user would: from disk
 * (file://), no server, with a fresh profile directory. Records console errors, page errors,
 * dialogs (alert/confirm/prompt) and every request that is not the report file itself.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './chromium.mjs';

/** Why browser tests cannot run here, or null. */
export function browserSkipReason(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install -y chromium)`;
}

export interface OpenReport {
  page: Page;
  /** Console messages of type error, page errors, dialogs opened, requests for other URLs. */
  errors: string[];
  dialogs: string[];
  requests: string[];
  /** Milliseconds from navigation start until the app marked the page ready. */
  readyMs: number;
}

export class ReportBrowser {
  private constructor(
    private readonly context: BrowserContext,
    private readonly profileDir: string,
  ) {}

  /** `bypassCSP`: ignore the page's Content-Security-Policy, to test what the page does without it. */
  static async launch(opts: { bypassCSP?: boolean } = {}): Promise<ReportBrowser> {
    const profileDir = mkdtempSync(join(tmpdir(), 'crosstalk-chromium-'));
    const context = await launchChromium(profileDir, {
      bypassCSP: opts.bypassCSP ?? false,
      viewport: { width: 1400, height: 900 },
    });
    return new ReportBrowser(context, profileDir);
  }

  async open(file: string): Promise<OpenReport> {
    const page = await this.context.newPage();
    const url = pathToFileURL(file).href;
    const r: OpenReport = { page, errors: [], dialogs: [], requests: [], readyMs: 0 };
    page.on('console', (m) => {
      if (m.type() === 'error') r.errors.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => r.errors.push(`page error: ${e.message}`));
    page.on('dialog', (d) => {
      r.dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    page.on('request', (req) => {
      if (req.url() !== url) r.requests.push(req.url());
    });
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 10_000 });
    r.readyMs = await page.evaluate(() => {
      const ready = performance.getEntriesByName('crosstalk-ready')[0];
      return ready ? ready.startTime : performance.now();
    });
    return r;
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profileDir, { recursive: true, force: true });
  }
}

/** The text a reader sees in an element (rendered text: hidden elements and closed <details> left out). */
export function visibleText(l: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a reader sees.
  return l.innerText();
}
