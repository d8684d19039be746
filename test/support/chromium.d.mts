import type { BrowserContext, LaunchOptions } from 'playwright-core';

export declare const CHROMIUM: string;
/** A persistent context in `profileDir`; `options` adds playwright context options (viewport, ...). */
export declare function launchChromium(
  profileDir: string,
  options?: Parameters<typeof import('playwright-core').chromium.launchPersistentContext>[1] &
    Omit<LaunchOptions, 'args'>,
): Promise<BrowserContext>;
