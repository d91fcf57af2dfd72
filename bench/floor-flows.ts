import { expect } from '@playwright/test';
import { chromium, devices, request, type Browser } from 'playwright-core';
import { chooseBrowser, launchOptionsFor } from '../server/runner/browser.ts';

/**
 * The demo's critical flows (tests/*.spec.ts tagged @critical), step for step
 * and assertion for assertion, on the bare library: one browser launched
 * once and kept, a fresh context per flow, no test runner. What running
 * these flows costs with every fixed cost taken away: the floor a
 * verification service can approach but not beat.
 */

/** The suite's `expect.timeout` (playwright.config.ts). */
const EXPECT_TIMEOUT_MS = 5_000;
const check = expect.configure({ timeout: EXPECT_TIMEOUT_MS });

interface FloorFlow {
  readonly name: string;
  run(browser: Browser, baseURL: string): Promise<void>;
}

/** The project's device (`devices['Desktop Chrome']`) and the environment's base URL, as the runner would set them. */
const pageContext = (browser: Browser, baseURL: string) => browser.newContext({ ...devices['Desktop Chrome'], baseURL });

const FLOWS: readonly FloorFlow[] = Object.freeze([
  {
    name: 'storefront.spec.ts › storefront lists products',
    async run(browser, baseURL) {
      const context = await pageContext(browser, baseURL);
      try {
        const page = await context.newPage();
        await page.goto('/');
        await check(page.getByRole('heading', { name: 'Smoke Shop' })).toBeVisible();
        const products = page.getByTestId('product');
        await check(products.nth(2)).toBeVisible();
        await check(products.first().getByRole('button', { name: 'Add to cart' })).toBeVisible();
      } finally {
        await context.close();
      }
    },
  },
  {
    name: 'checkout.spec.ts › customer can check out',
    async run(browser, baseURL) {
      const context = await pageContext(browser, baseURL);
      try {
        const page = await context.newPage();
        await page.goto('/');
        const products = page.getByTestId('product');
        await products.nth(0).getByRole('button', { name: 'Add to cart' }).click();
        await products.nth(1).getByRole('button', { name: 'Add to cart' }).click();
        await check(page.getByTestId('cart-count')).toHaveText('2');
        await page.getByRole('button', { name: 'Checkout', exact: true }).click();
        await check(page.getByRole('status')).toContainText(/Order confirmed #\w+/);
      } finally {
        await context.close();
      }
    },
  },
  {
    name: 'api.spec.ts › products API lists the catalogue',
    async run(_browser, baseURL) {
      const api = await request.newContext({ baseURL });
      try {
        const response = await api.get('/api/products');
        check(response.status()).toBe(200);
        const body = (await response.json()) as { products: { id: string; name: string; priceCents: number }[] };
        check(body.products.length).toBeGreaterThanOrEqual(3);
        check(body.products[0]).toMatchObject({ id: expect.any(String), name: expect.any(String), priceCents: expect.any(Number) });
      } finally {
        await api.dispose();
      }
    },
  },
  {
    name: 'api.spec.ts › checkout API accepts an order',
    async run(_browser, baseURL) {
      const api = await request.newContext({ baseURL });
      try {
        const response = await api.post('/api/checkout', { data: { items: [{ id: 'enamel-mug', qty: 2 }] } });
        check(response.status()).toBe(201);
        check(await response.json()).toMatchObject({ orderId: expect.any(String), totalCents: expect.any(Number) });
      } finally {
        await api.dispose();
      }
    },
  },
]);

export const FLOOR_FLOW_COUNT = FLOWS.length;

export class FloorError extends Error {
  override name = 'FloorError';
}

export interface Target {
  readonly name: string;
  readonly baseURL: string;
}

/** The same browser choice as the suite's config: Playwright's own Chromium, else the system one. */
export async function launchFloorBrowser(): Promise<Browser> {
  const choice = chooseBrowser();
  if (choice.kind === 'missing') throw new FloorError(`no Chromium to launch; tried ${choice.tried.join(', ')}`);
  return chromium.launch(launchOptionsFor(choice));
}

/**
 * Every flow against every target in `lanes` parallel lanes (the run's
 * workers), target and baseline interleaved so both run at the same time.
 * Resolves with the wall time in ms; rejects naming the first flow that failed.
 */
export async function runFloor(browser: Browser, targets: readonly Target[], lanes: number, signal?: AbortSignal): Promise<number> {
  const jobs = FLOWS.flatMap((flow) => targets.map((target) => ({ flow, target })));
  const start = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      signal?.throwIfAborted();
      const { flow, target } = jobs[next++]!;
      try {
        await flow.run(browser, target.baseURL);
      } catch (err) {
        throw new FloorError(`floor flow "${flow.name}" failed on ${target.name} (${target.baseURL}): ${(err as Error).message}`, { cause: err });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, lanes) }, lane));
  return performance.now() - start;
}
