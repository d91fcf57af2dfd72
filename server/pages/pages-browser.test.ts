import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from '@playwright/test';
import express from 'express';
import { assertAccessible, launchBrowser, watchedPage } from '../integration/pages-harness.ts';
import { scheduleStatus } from '../testing/schedule-status.ts';
import { openStore, type Store } from '../store/store.ts';
import type { Verdict } from '../verdict/types.ts';
import { assetRoutes } from './assets.ts';
import { pagePaths } from './paths.ts';
import { pageRoutes } from './routes.ts';

/**
 * The pages in a real Chromium: what axe finds, that the screenshot loads,
 * and that live.js follows a run to its verdict without reloading. Artifacts
 * are served by a stand-in here (run-files.ts owns the real route).
 */

/** A 2×2 red PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR4nGP4z8DAwMDAwMAAAA0EAQDh3jVbAAAAAElFTkSuQmCC', 'base64');

const nightly = scheduleStatus({ name: 'nightly', cron: '0 3 * * *', environments: ['production'] }, { nextRunAt: new Date('2026-03-02T03:00:00Z'), failing: true });

describe('pages in a browser', () => {
  let browser: Browser;
  let store: Store;
  let base: string;
  let close: () => Promise<unknown>;

  before(async () => {
    store = await openStore({ kind: 'sqlite', file: path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-pages-browser-')), 'smoke.db') });
    const app = express();
    app.use('/assets', assetRoutes());
    app.get('/runs/:id/artifacts/*artifact', (_req, res) => void res.type('png').send(PNG));
    app.use(
      pageRoutes({
        store,
        scheduler: { list: async () => [nightly] },
        signals: { ofDeployment: async () => [] },
        paths: pagePaths(''),
        environments: ['canary', 'production'],
      }),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
    close = () => new Promise((resolve) => server.close(resolve));
  });
  after(async () => {
    await browser?.close();
    await close?.();
    await store?.close();
  });

  const failing = async (): Promise<{ deploymentId: string; runId: string }> => {
    const { deployment, run } = await store.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version: '2.4.1' });
    await store.markRunRunning(run!.id);
    const flow = 'shop.spec.ts › <script>alert(1)</script>';
    await store.recordFlowResult(run!.id, { environment: 'canary', flow: 'shop.spec.ts › login', file: 'shop.spec.ts', outcome: 'passed', durationMs: 800, retries: 0, artifacts: [] });
    await store.recordFlowResult(run!.id, {
      environment: 'canary',
      flow,
      file: 'shop.spec.ts',
      line: 3,
      outcome: 'failed',
      durationMs: 5_900,
      retries: 1,
      error: 'Error: <img src=x onerror=alert(1)>',
      artifacts: [
        { name: 'screenshot', contentType: 'image/png', path: 'target/f/test-failed-1.png' },
        { name: 'trace', contentType: 'application/zip', path: 'target/f/trace.zip' },
      ],
    });
    await store.recordFlowResult(run!.id, { environment: 'production', flow, file: 'shop.spec.ts', outcome: 'passed', durationMs: 900, retries: 0, artifacts: [] });
    const verdict: Verdict = { kind: 'fail', reasons: [`${flow} failed on canary, passed on production`], failed: [{ flow, environment: 'canary' }] };
    await store.settle({ run: { id: run!.id, end: { status: 'done', verdict, outcome: { kind: 'completed' } } }, deployment: { id: deployment.id, verdict } });
    return { deploymentId: deployment.id, runId: run!.id };
  };

  it("shows a failing deploy's page with its screenshot loaded, no injected markup, and no serious accessibility violation", async () => {
    const { deploymentId, runId } = await failing();
    const { page, dialogs, close } = await watchedPage(browser, base);
    try {
      await page.goto(`/deployments/${deploymentId}`);
      await page.locator('.banner .verdict', { hasText: 'FAIL' }).waitFor();
      const img = page.getByRole('img', { name: /Screenshot of shop\.spec\.ts › <script>alert\(1\)<\/script> on canary/ });
      await page.waitForFunction((el) => (el as HTMLImageElement).complete, await img.elementHandle());
      assert.ok((await img.evaluate((el) => (el as HTMLImageElement).naturalWidth)) > 0, 'the screenshot loaded');
      assert.match(await page.locator('pre.error').first().innerText(), /Error: <img src=x onerror=alert\(1\)>/);
      assert.equal(await page.getByRole('link', { name: 'Open trace' }).getAttribute('href'), `/trace/index.html?trace=${encodeURIComponent(`/runs/${runId}/artifacts/target/f/trace.zip`)}`);
      await assertAccessible(page, 'the deployment page');
      for (const url of ['/', '/?verdict=fail', `/runs/${runId}`, '/schedules', '/deployments/dep_nope']) {
        await page.goto(url);
        await assertAccessible(page, url);
      }
      assert.deepEqual(dialogs, []);
    } finally {
      await close();
    }
  });

  it('follows a running deployment to its verdict without reloading', async () => {
    const { deployment, run } = await store.createDeployment({ service: 'shop', environment: 'canary', version: '2.5.0' });
    await store.markRunRunning(run!.id);
    const { page, close } = await watchedPage(browser, base);
    try {
      await page.goto(`/deployments/${deployment.id}`);
      await page.locator('.banner .verdict', { hasText: 'RUNNING' }).waitFor();
      await assertAccessible(page, 'a running deployment');
      await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));

      await store.recordFlowResult(run!.id, { environment: 'canary', flow: 'shop.spec.ts › cart', file: 'shop.spec.ts', outcome: 'failed', durationMs: 1_200, retries: 0, error: 'cart is empty', artifacts: [] });
      await page.getByRole('rowheader', { name: /shop\.spec\.ts › cart/ }).waitFor();
      const verdict: Verdict = { kind: 'fail', reasons: ['cart failed on canary'], failed: [{ flow: 'shop.spec.ts › cart', environment: 'canary' }] };
      await store.settle({ run: { id: run!.id, end: { status: 'done', verdict, outcome: { kind: 'completed' } } }, deployment: { id: deployment.id, verdict } });
      await page.locator('.banner .verdict', { hasText: 'FAIL' }).waitFor();
      assert.equal(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed), true, 'the page was not reloaded');
      assert.equal(await page.locator('#live').getAttribute('data-status'), 'done');
      await page.waitForFunction(() => document.title.startsWith('FAIL'));
    } finally {
      await close();
    }
  });
});
