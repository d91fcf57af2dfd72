import { chromium } from '@playwright/test';
import { launchOptionsFor, type BrowserChoice } from './browser.ts';

/** How long a probe result stands before /readyz launches the browser again. */
const PROBE_TTL_MS = 60_000;
const LAUNCH_TIMEOUT_MS = 30_000;

export type BrowserHealth = { readonly ok: true; readonly checkedAt: number } | { readonly ok: false; readonly error: string; readonly checkedAt: number };

export interface BrowserProbe {
  /** Launches the browser once (or reuses a recent result) to prove runs can use it. */
  check(): Promise<BrowserHealth>;
}

export function createBrowserProbe(choice: BrowserChoice, now: () => number = Date.now): BrowserProbe {
  let last: BrowserHealth | undefined;
  let inflight: Promise<BrowserHealth> | undefined;

  async function probe(): Promise<BrowserHealth> {
    if (choice.kind === 'missing') {
      return { ok: false, error: `no Chromium found (tried ${choice.tried.join(', ')}); install one or set CHROMIUM_PATH`, checkedAt: now() };
    }
    try {
      const browser = await chromium.launch({ ...launchOptionsFor(choice), timeout: LAUNCH_TIMEOUT_MS });
      await browser.close();
      return { ok: true, checkedAt: now() };
    } catch (err) {
      return { ok: false, error: `cannot launch ${choice.executablePath}: ${(err as Error).message.split('\n')[0]}`, checkedAt: now() };
    }
  }

  return {
    async check() {
      if (last && now() - last.checkedAt < PROBE_TTL_MS) return last;
      inflight ??= probe().then((result) => {
        last = result;
        inflight = undefined;
        return result;
      });
      return inflight;
    },
  };
}
