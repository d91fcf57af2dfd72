import { defineConfig, devices } from '@playwright/test';
import { chooseBrowser, launchOptionsFor } from './server/runner/browser.ts';

/**
 * The example flow suite. The smoke service points it at each environment
 * through BASE_URL and sets its own retries; run it by hand with
 * `BASE_URL=http://127.0.0.1:3001 npx playwright test`.
 */
export default defineConfig({
  testDir: './tests',
  timeout: 15_000,
  expect: { timeout: 5_000 },
  retries: 0,
  fullyParallel: true,
  reporter: 'list',
  use: {
    baseURL: process.env.BASE_URL || 'http://127.0.0.1:3001',
    // Falls back to the system Chromium where `npx playwright install` has not been run.
    launchOptions: launchOptionsFor(chooseBrowser()),
  },
  projects: [{ name: 'chromium', use: { ...devices['Desktop Chrome'] } }],
});
