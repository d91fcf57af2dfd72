import { defineConfig, devices } from '@playwright/test';
import { chooseBrowser, launchOptionsFor } from '../../server/runner/browser.ts';

/**
 * The time-to-rollback benchmark's suite, against the demo shops: healthy
 * flows, flows broken on production too (features the shop does not have),
 * and UI checkout flows that a canary with the `broken-button` fault
 * regresses. Short timeouts, so a flow waiting for an element that never
 * comes fails in seconds and the benchmark makes its point quickly.
 */
export default defineConfig({
  testDir: '.',
  timeout: 10_000,
  expect: { timeout: 3_000 },
  retries: 0,
  fullyParallel: true,
  reporter: 'list',
  use: {
    baseURL: process.env.BASE_URL || 'http://127.0.0.1:3001',
    launchOptions: launchOptionsFor(chooseBrowser()),
  },
  projects: [{ name: 'chromium', use: { ...devices['Desktop Chrome'] } }],
});
