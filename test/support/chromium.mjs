// Debian's Chromium as the tests and scripts/screenshot.mjs launch it through playwright-core:
// headless from a fresh profile, no sandbox (root), nothing fetched in the background.
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A persistent context in `profileDir`; `options` adds playwright context options (viewport, ...). */
export function launchChromium(profileDir, options = {}) {
  return chromium.launchPersistentContext(profileDir, {
    ...options,
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
  });
}
