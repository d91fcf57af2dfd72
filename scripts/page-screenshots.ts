/**
 * The README's pictures of smoke's pages (`npm run docs:screenshots`): the
 * demo shops, the service with the demo suite and an API token, a good
 * deploy, a broken one (the checkout API answers 500) and a schedule that
 * has run a few times; then a real Chromium signs in and saves each page as
 * a PNG, 1280×900.
 *
 *   node --import tsx scripts/page-screenshots.ts [--out docs]
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Locator, Page } from '@playwright/test';
import { api, REPO, startService, startShop, waitFor, workspace } from '../server/integration/harness.ts';
import { launchBrowser, PAGE_TIMEOUT_MS } from '../server/integration/pages-harness.ts';

/** Above this a picture is too heavy for a README; the script says so rather than failing. */
const MAX_PNG_BYTES = 300 * 1024;
const SCHEDULE = 'production-watch';
/** Rounds of the schedule run by hand, so the schedules page has a strip of marks to show. */
const SCHEDULED_ROUNDS = 3;
const RUN_WAIT_MS = 240_000;
/** The demo flow that the broken checkout fails in the browser, leaving a screenshot. */
const UI_FLOW = 'customer can check out';

const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(REPO, 'docs') } } });
const out = path.resolve(values.out);
const token = `docs-${randomBytes(16).toString('hex')}`;
const auth = { authorization: `Bearer ${token}` };

async function main(): Promise<void> {
  const production = await startShop('production');
  const canary = await startShop('canary');
  const ws = workspace(
    { production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } },
    {
      apiToken: token,
      retries: 1,
      // Every flow to its end, so the broken UI checkout leaves its screenshot and trace.
      failFast: false,
      // Nightly: the runs shown are started by hand, and the page shows when the next one is due.
      schedules: `  - name: ${SCHEDULE}\n    cron: "0 4 * * *"\n    environments: [production, canary]\n`,
    },
  );
  const service = await startService(ws);
  const browser = await launchBrowser();
  try {
    const base = service.url;
    await scheduledRound(base);
    Object.assign(canary.state, { version: '1.1.0', fault: 'none' });
    const good = await deployed(base, '1.1.0', 'pass');
    await scheduledRound(base);
    Object.assign(canary.state, { version: '1.2.0', fault: 'checkout-500' });
    const bad = await deployed(base, '1.2.0', 'fail');
    let lastRuns: string[] = [];
    for (let round = 2; round < SCHEDULED_ROUNDS; round++) lastRuns = await scheduledRound(base);
    process.stdout.write(`deploys: ${good} (pass), ${bad} (fail)\n`);

    await mkdir(out, { recursive: true });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(PAGE_TIMEOUT_MS);
    const page = await context.newPage();

    // Where a link from a rollback message lands first.
    await page.goto(`${base}/deployments/${bad}`);
    await save(page, 'login.png');
    await page.getByLabel(/token/i).fill(token);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.waitForURL((url) => url.pathname.endsWith(`/deployments/${bad}`));
    await page.waitForFunction(() => [...document.images].length > 0 && [...document.images].every((image) => image.complete && image.naturalWidth > 0));
    await save(page, 'deployment-fail.png');

    // What failed in the UI flow: its error, trace link and screenshot.
    const failure = page.getByRole('article').filter({ hasText: UI_FLOW }).first();
    await save(failure, 'deployment-failure.png');

    const traceHref = await failure.getByRole('link', { name: /trace/i }).first().getAttribute('href');
    const reportHref = await page.getByRole('link', { name: /report/i }).first().getAttribute('href');
    if (!traceHref || !reportHref) throw new Error('the deployment page has no trace or report link');

    await page.goto(new URL(traceHref, base).href);
    await page.locator('.action-title').first().waitFor();
    // The failed assertion, with the page as it stood then, is what a reader wants to see.
    await page.locator('.action-title').filter({ hasText: /expect/i }).last().click();
    await save(page, 'trace-viewer.png');

    await page.goto(new URL(reportHref, base).href);
    const flow = page.getByText(UI_FLOW).first();
    await flow.or(page.getByText(/no report/i).first()).waitFor({ timeout: 3 * PAGE_TIMEOUT_MS });
    if (!(await flow.isVisible())) throw new Error(`the run's report did not open: ${await page.locator('body').innerText()}`);
    await save(page, 'report.png');

    await page.goto(`${base}/`);
    await save(page, 'overview.png');

    await page.goto(`${base}/schedules`);
    await save(page, 'schedules.png');

    const lastRun = lastRuns.at(-1);
    if (lastRun) {
      await page.goto(`${base}/runs/${lastRun}`);
      await save(page, 'run.png');
    }
    await context.close();
  } finally {
    await browser.close();
    await service.close();
    await Promise.all([production.close(), canary.close()]);
    ws.remove();
  }
}

/** Posts a deploy of the canary and waits for its verdict; fails unless it is the expected one. */
async function deployed(base: string, version: string, expected: string): Promise<string> {
  const { body } = await api(base, 'POST', '/api/v1/deployments?wait=300', { environment: 'canary', version, deploymentId: `release-${version}` }, auth);
  if (body.verdict !== expected) throw new Error(`deploy of ${version}: expected ${expected}, got ${JSON.stringify(body)}`);
  // A fail is decided at the first confirmed regression; the run goes on to record every flow, screenshots included.
  await runEnded(base, body.run.id as string);
  return body.id as string;
}

/** Runs the schedule by hand and waits until each of its runs has ended; their ids. */
async function scheduledRound(base: string): Promise<string[]> {
  const started = await api(base, 'POST', `/api/v1/schedules/${SCHEDULE}/run`, undefined, auth);
  if (started.status !== 202) throw new Error(`could not start ${SCHEDULE}: ${started.status} ${JSON.stringify(started.body)}`);
  const ids: string[] = (started.body.runs as { id: string }[]).map((r) => r.id);
  for (const id of ids) await runEnded(base, id);
  return ids;
}

async function runEnded(base: string, id: string): Promise<void> {
  await waitFor(
    `run ${id} to end`,
    async () => {
      const { body } = await api(base, 'GET', `/api/v1/runs/${id}`, undefined, auth);
      return body.status === 'queued' || body.status === 'running' ? undefined : true;
    },
    RUN_WAIT_MS,
  );
}

async function save(target: Page | Locator, name: string): Promise<void> {
  const file = path.join(out, name);
  await target.screenshot({ path: file });
  const bytes = statSync(file).size;
  const note = bytes > MAX_PNG_BYTES ? ` (over ${MAX_PNG_BYTES / 1024} KB: too heavy for the README)` : '';
  process.stdout.write(`${path.relative(REPO, file)}: ${Math.round(bytes / 1024)} KB${note}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`page-screenshots: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
