import { existsSync } from 'node:fs';
import { chromium } from '@playwright/test';

/**
 * Flags for a distribution Chromium in a container or a closed network:
 * without the networking ones it keeps dialling Google's update and sync
 * hosts, and as root it refuses to start with its sandbox on.
 */
export const SYSTEM_CHROMIUM_ARGS: readonly string[] = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

export type BrowserChoice =
  | { kind: 'bundled'; executablePath: string }
  | { kind: 'system'; executablePath: string; args: readonly string[] }
  | { kind: 'missing'; tried: string[] };

/**
 * Playwright's own Chromium first (what users elsewhere have after
 * `npx playwright install`), else the system one: `CHROMIUM_PATH`, then
 * Debian's `/usr/bin/chromium`.
 */
export function chooseBrowser(env: NodeJS.ProcessEnv = process.env): BrowserChoice {
  const bundled = safeBundledPath();
  if (bundled && existsSync(bundled)) return { kind: 'bundled', executablePath: bundled };
  const candidates = [env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
    (p): p is string => Boolean(p),
  );
  for (const candidate of candidates) {
    if (existsSync(candidate)) return { kind: 'system', executablePath: candidate, args: SYSTEM_CHROMIUM_ARGS };
  }
  return { kind: 'missing', tried: [bundled ?? '(playwright chromium)', ...candidates] };
}

/** Launch options to merge into a Playwright config; empty when Playwright's own browser is there. */
export function launchOptionsFor(choice: BrowserChoice): { executablePath?: string; args?: string[] } {
  return choice.kind === 'system' ? { executablePath: choice.executablePath, args: [...choice.args] } : {};
}

function safeBundledPath(): string | undefined {
  try {
    return chromium.executablePath();
  } catch {
    // Throws when the browser registry has no entry for this platform.
    return undefined;
  }
}
