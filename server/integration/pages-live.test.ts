import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from '@playwright/test';
import type { Service } from '../service.ts';
import { api, freePort, REPO, startService, startShop, waitFor, workspace, type Shop, type Workspace } from './harness.ts';
import { assertAccessible, bodyText, launchBrowser, pageReferences, PAGE_TIMEOUT_MS, watchedPage } from './pages-harness.ts';

const HOSTILE = '<script>alert(1)</script>';
const HOSTILE_ERROR = '<img src=x onerror=alert(2)>';
/** The canary shop version that releases the held flow. */
const GATE_OPEN = 'gate-open';

/**
 * A team's suite with a hostile flow title and error message, and a flow
 * held on the canary until the test "deploys" GATE_OPEN there: whether the
 * page is looked at while the run is still going is fixed by construction,
 * not by timing.
 */
const SPEC = `import { expect, test } from '@playwright/test';

test(${JSON.stringify(HOSTILE)}, { tag: '@critical' }, async ({ page }) => {
  await page.goto('/');
  const response = await page.request.post('/api/checkout', { data: { items: [{ id: 'enamel-mug', qty: 1 }] } });
  expect(response.status(), ${JSON.stringify(HOSTILE_ERROR)}).toBe(201);
});

test('storefront shows the shop once released', { tag: '@critical' }, async ({ page }, testInfo) => {
  await page.goto('/');
  if (testInfo.project.name === 'canary') {
    test.setTimeout(150_000);
    await expect
      .poll(async () => ((await (await page.request.get('/healthz')).json()) as { version: string }).version, { timeout: 140_000, intervals: [250] })
      .toBe(${JSON.stringify(GATE_OPEN)});
  }
  await expect(page.getByRole('heading', { name: 'Smoke Shop' })).toBeVisible();
});
`;

/**
 * The pages behind a path prefix (server.publicUrl with a path), showing
 * hostile flow data as text, and following a verification live without
 * reloading.
 */
describe('pages behind a path prefix, live and escaped', () => {
  let production: Shop;
  let canary: Shop;
  let suite: string;
  let ws: Workspace;
  let service: Service;
  let browser: Browser;
  let origin: string;

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary', 'checkout-500');
    suite = mkdtempSync(path.join(os.tmpdir(), 'smoke-pages-suite-'));
    writeFileSync(path.join(suite, 'flows.spec.ts'), SPEC);
    // As in a team's repo, the suite finds @playwright/test in its node_modules.
    symlinkSync(path.join(REPO, 'node_modules'), path.join(suite, 'node_modules'), 'dir');
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    ws = workspace(
      { production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } },
      { suite, retries: 0, failFast: false, port, publicUrl: `${origin}/smoke` },
    );
    service = await startService(ws);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await service?.close();
    await Promise.all([production?.close(), canary?.close()]);
    ws?.remove();
    if (suite) rmSync(suite, { recursive: true, force: true });
  });

  it('shows a hostile flow title and error as text, under the prefix, every link with it', async () => {
    Object.assign(canary.state, { version: GATE_OPEN, fault: 'checkout-500' });
    const { body: judged } = await api(service.url, 'POST', '/api/v1/deployments?wait=180', { environment: 'canary', version: '2.0.0' });
    assert.equal(judged.verdict, 'fail', JSON.stringify(judged));

    const { page, dialogs, close } = await watchedPage(browser);
    try {
      const response = await page.goto(`${origin}/smoke/deployments/${judged.id}`);
      assert.equal(response?.status(), 200);
      const text = await bodyText(page);
      assert.ok(text.includes(HOSTILE), 'the flow title is shown as text');
      assert.ok(text.includes(HOSTILE_ERROR), 'the error message is shown as text');
      const injected = await page.evaluate(
        (body) => [...document.scripts].filter((s) => s.textContent?.includes(body)).length + document.querySelectorAll('img[src="x"]').length,
        'alert(',
      );
      assert.equal(injected, 0, 'no script or image was injected into the page');
      assert.deepEqual(dialogs, [], 'no dialog fired');

      const references = await pageReferences(page);
      assert.ok(references.length > 0);
      const outside = references.filter((ref) => !ref.startsWith('/smoke/') && !ref.startsWith('#'));
      assert.deepEqual(outside, [], 'every link on the page is under the prefix');

      // Proxies that strip the prefix reach the same pages at the root.
      assert.equal((await fetch(`${origin}/deployments/${judged.id}`)).status, 200);
      // Without an apiToken there is nothing to sign in to.
      const login = await fetch(`${origin}/smoke/login`, { redirect: 'manual' });
      assert.ok([302, 303].includes(login.status), `GET /smoke/login answers ${login.status}`);
      assert.equal(login.headers.get('location'), '/smoke/');

      await page.goto(`${origin}/smoke/`);
      assert.ok((await bodyText(page)).includes('2.0.0'), 'the overview under the prefix lists the deployment');
      const outsideOverview = (await pageReferences(page)).filter((ref) => !ref.startsWith('/smoke/') && !ref.startsWith('#'));
      assert.deepEqual(outsideOverview, [], 'every link on the overview is under the prefix');
      assert.deepEqual(dialogs, []);
    } finally {
      await close();
    }
  });

  it('follows a running verification to its verdict without reloading', async () => {
    Object.assign(canary.state, { version: 'held', fault: 'none' });
    const started = await api(service.url, 'POST', '/api/v1/deployments', { environment: 'canary', version: '2.1.0' });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id: string = started.body.id;
    await waitFor('the verification to be running', async () => {
      const { body } = await api(service.url, 'GET', `/api/v1/deployments/${id}`);
      return body.status === 'running' ? true : undefined;
    });

    const { page, dialogs, close } = await watchedPage(browser);
    try {
      await page.goto(`${origin}/smoke/deployments/${id}`);
      assert.match(await bodyText(page), /running/i, 'the page says the verification is running');
      await page.evaluate(() => Object.assign(window, { __marker: 1 }));

      // Release the held flow: the run ends and passes.
      canary.state.version = GATE_OPEN;
      await page.waitForFunction(() => /\bpass\b/i.test(document.body.innerText) && !/\brunning\b/i.test(document.body.innerText), undefined, {
        timeout: 3 * PAGE_TIMEOUT_MS,
      });
      assert.equal(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker), 1, 'the page was updated in place, not reloaded');
      const { body } = await api(service.url, 'GET', `/api/v1/deployments/${id}`);
      assert.equal(body.verdict, 'pass', JSON.stringify(body));
      // What the update swapped in is as accessible as a page served whole.
      await assertAccessible(page, 'the deployment page after its live update');
      assert.deepEqual(dialogs, []);
    } finally {
      await close();
    }
  });
});
