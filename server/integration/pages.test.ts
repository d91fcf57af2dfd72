import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from '@playwright/test';
import type { Service } from '../service.ts';
import { startReceiver, type Receiver } from '../testing/webhook-receiver.ts';
import { api, quickRollback, startService, startShop, waitFor, workspace, type Shop, type Workspace } from './harness.ts';
import { accessibilityProblems, bodyText, launchBrowser, PAGE_TIMEOUT_MS, watchedPage } from './pages-harness.ts';

const TOKEN = 'pages-e2e-token-0123456789abcdef';
const SECRET = `whsec_${Buffer.from('pages-e2e-secret-0123456789abcdef').toString('base64')}`;
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** The demo suite's flows that the `checkout-500` fault breaks; the UI one leaves a screenshot. */
const BROKEN_UI_FLOW = 'customer can check out';

/** Signs in through the login form the way a person would; the page is then wherever `next` pointed. */
async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel(/token/i).fill(token);
  await page.getByRole('button', { name: /sign in|log in/i }).click();
}

/** The largest font size, in CSS pixels, of an element whose text is `word` (any case), maybe beside a mark such as ✗. */
async function largestWordSize(page: Page, word: string): Promise<number> {
  return page.evaluate((wanted) => {
    let largest = 0;
    for (const element of document.body.querySelectorAll('*')) {
      const words = ((element as HTMLElement).innerText ?? '').toLowerCase().match(/[a-z0-9]+/g) ?? [];
      if (words.length !== 1 || words[0] !== wanted) continue;
      largest = Math.max(largest, parseFloat(getComputedStyle(element).fontSize));
    }
    return largest;
  }, word.toLowerCase());
}

/**
 * Issue 10's promise, as a developer lives it: the rollback message's link,
 * a sign-in, and then what broke, its screenshot, its trace in Playwright's
 * trace viewer and the run's Playwright HTML report, all served by smoke;
 * the overview, schedule and run pages beside it, each accessible.
 */
describe('pages a person follows from a rollback message', () => {
  let production: Shop;
  let canary: Shop;
  let receiver: Receiver;
  let ws: Workspace;
  let service: Service;
  let browser: Browser;
  let failed: any;

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary', 'checkout-500');
    receiver = await startReceiver(SECRET);
    ws = workspace(
      { production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } },
      {
        apiToken: TOKEN,
        retries: 1,
        // Every flow to its end, so the UI checkout flow leaves its screenshot and trace even when the API one regresses first.
        failFast: false,
        rollback: quickRollback(receiver.url, SECRET),
        schedules: '  - name: nightly\n    cron: "0 4 * * *"\n    environments: [production]\n    grep: API\n',
      },
    );
    service = await startService(ws);
    browser = await launchBrowser();
    failed = (await api(service.url, 'POST', '/api/v1/deployments?wait=180', { environment: 'canary', version: '1.2.0', deploymentId: 'release-1.2.0' }, AUTH)).body;
    assert.equal(failed.verdict, 'fail', JSON.stringify(failed));
    // The verdict comes at the first confirmed regression; the run goes on to complete the report, the UI flow's screenshot included.
    await waitFor('the failing run to complete', async () => {
      const { body } = await api(service.url, 'GET', `/api/v1/runs/${failed.run.id}`, undefined, AUTH);
      return body.status === 'queued' || body.status === 'running' ? undefined : true;
    }, 180_000);
  });

  after(async () => {
    await browser?.close();
    await service?.close();
    await Promise.all([production?.close(), canary?.close(), receiver?.close()]);
    ws?.remove();
  });

  it('the rollback link leads, after signing in, to the verdict, the screenshot, the trace and the report', async () => {
    const message = await waitFor('the rollback webhook', () => (receiver.received.length > 0 ? JSON.parse(receiver.received[0]!.body) : undefined));
    assert.equal(message.data.deploymentId, failed.id);
    // The link for a person is the deployment's page, not the JSON.
    const link: string = message.data.links.page;
    assert.equal(link, `${service.url}/deployments/${failed.id}`);
    const { page, dialogs, close } = await watchedPage(browser);
    try {
      await page.goto(link);
      // Not signed in: the login form, which comes back here afterwards.
      assert.match(new URL(page.url()).pathname, /\/login$/);
      await signIn(page, TOKEN);
      await page.waitForURL((url) => url.pathname.endsWith(`/deployments/${failed.id}`));
      const cookie = (await page.context().cookies()).find((c) => c.name === 'smoke_session');
      assert.ok(cookie, 'signing in sets the session cookie');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      assert.ok(!cookie.value.includes(TOKEN), 'the cookie is not the token itself');

      // The verdict in large type, its reasons, the failing flow.
      assert.ok((await largestWordSize(page, 'fail')) >= 24, 'the verdict FAIL is shown in large type');
      const text = await bodyText(page);
      for (const reason of failed.reasons as string[]) assert.ok(text.includes(reason), `the page gives the reason "${reason}"`);
      assert.ok(text.includes(BROKEN_UI_FLOW), `the page names the failing flow: ${text}`);
      assert.ok(!(await page.content()).includes(TOKEN), 'the page never shows the token');
      // The canary beside its baseline, flow by flow, and every run of the deployment.
      for (const environment of ['canary', 'production']) {
        assert.ok((await page.getByRole('columnheader', { name: new RegExp(environment) }).count()) > 0, `a column for ${environment}`);
      }
      assert.ok(text.includes(failed.run.id), 'the run is listed');

      // The failure's screenshot, loaded inline beside what failed.
      const failure = page.getByRole('article').filter({ hasText: BROKEN_UI_FLOW }).first();
      const screenshot = await failure.locator('img').first().elementHandle();
      assert.ok(screenshot, 'the failure shows a screenshot');
      await page.waitForFunction((image) => (image as HTMLImageElement).complete, screenshot, { timeout: PAGE_TIMEOUT_MS });
      assert.ok((await screenshot.evaluate((image) => (image as HTMLImageElement).naturalWidth)) > 0, 'the screenshot loaded');
      assert.match((await screenshot.getAttribute('alt')) ?? '', /\S/, 'the screenshot has a text alternative');

      // Its trace, in the trace viewer served by smoke itself.
      const traceLink = failure.getByRole('link', { name: /trace/i }).first();
      const traceHref = (await traceLink.getAttribute('href')) ?? '';
      assert.match(traceHref, /\/trace\/index\.html\?trace=/);
      const viewer = (await traceLink.getAttribute('target')) === '_blank' ? await opened(page, () => traceLink.click()) : await followed(page, () => traceLink.click());
      assert.equal(new URL(viewer.url()).origin, new URL(service.url).origin, 'the trace viewer is smoke’s own');
      await viewer.locator('.action-title').first().waitFor({ timeout: PAGE_TIMEOUT_MS });
      const actions = await viewer.locator('.action-title').allInnerTexts();
      assert.ok(actions.some((a) => /navigate|goto|click/i.test(a)), `the trace shows the flow's actions: ${actions.join(' | ')}`);
      if (viewer !== page) await viewer.close();
      else await page.goBack();

      // The run's Playwright HTML report, built when first opened.
      const reportLink = page.getByRole('link', { name: /report/i }).first();
      assert.match((await reportLink.getAttribute('href')) ?? '', /\/runs\/[^/]+\/report\/$/);
      const report = (await reportLink.getAttribute('target')) === '_blank' ? await opened(page, () => reportLink.click()) : await followed(page, () => reportLink.click());
      const flowInReport = report.getByText(BROKEN_UI_FLOW).first();
      await flowInReport.or(report.getByText(/no report/i).first()).waitFor({ timeout: 3 * PAGE_TIMEOUT_MS });
      assert.ok(await flowInReport.isVisible(), `the report lists the flows: ${await bodyText(report)}`);
      assert.deepEqual(dialogs, []);
    } finally {
      await close();
    }
  });

  it('an unsigned visitor gets the login form or a 401; the token, as a bearer header, also opens every page', async () => {
    const deployment = `${service.url}/deployments/${failed.id}`;
    const browserLike = await fetch(deployment, { headers: { accept: 'text/html' }, redirect: 'manual' });
    assert.equal(browserLike.status, 303);
    assert.equal(browserLike.headers.get('location'), `/login?next=${encodeURIComponent(`/deployments/${failed.id}`)}`);
    assert.equal((await fetch(deployment, { redirect: 'manual' })).status, 401);
    const runId = failed.run.id as string;
    const { body: run } = await api(service.url, 'GET', `/api/v1/runs/${runId}`, undefined, AUTH);
    const artifact = new URL((run.environments.canary.flows as { artifacts: { url: string }[] }[]).flatMap((f) => f.artifacts)[0]!.url).pathname.replace('/api/v1', '');
    assert.equal((await fetch(`${service.url}${artifact}`, { headers: AUTH })).status, 200, `${artifact} with the token`);
    for (const path of [`/trace/index.html`, `/runs/${runId}/report/`, `/runs/${runId}`, artifact, '/schedules', '/']) {
      const response = await fetch(`${service.url}${path}`, { redirect: 'manual' });
      assert.ok([303, 401].includes(response.status), `${path} without credentials answers ${response.status}`);
    }
    const withBearer = await fetch(deployment, { headers: AUTH });
    assert.equal(withBearer.status, 200);
    assert.match(withBearer.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal((await fetch(`${service.url}/assets/smoke.css`)).status, 200);

    // A browser without JavaScript, sending the bearer header: the page still says everything.
    const plain = await browser.newContext({ javaScriptEnabled: false, extraHTTPHeaders: AUTH });
    try {
      const page = await plain.newPage();
      await page.goto(deployment);
      const text = await bodyText(page);
      assert.match(text, /\bFAIL\b/);
      assert.ok(text.includes(BROKEN_UI_FLOW), 'the failing flow is named without JavaScript');
    } finally {
      await plain.close();
    }

    const { page, close } = await watchedPage(browser);
    try {
      await page.goto(`${service.url}/login`);
      await signIn(page, 'not-the-token-0123456789abcdef');
      assert.match(new URL(page.url()).pathname, /\/login$/, 'a wrong token stays on the login form');
      assert.equal((await page.context().cookies()).find((c) => c.name === 'smoke_session'), undefined);
    } finally {
      await close();
    }
  });

  it('lists the deployments, the schedules and a scheduled run, each page accessible', async () => {
    const started = await api(service.url, 'POST', '/api/v1/schedules/nightly/run', undefined, AUTH);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const runId: string = started.body.runs?.[0]?.id ?? started.body.id;
    assert.ok(runId, JSON.stringify(started.body));
    await waitFor('the scheduled run to end', async () => {
      const { body } = await api(service.url, 'GET', `/api/v1/runs/${runId}`, undefined, AUTH);
      return body.status === 'queued' || body.status === 'running' ? undefined : body;
    }, 180_000);

    // Every page is looked at before failing, so one run lists every page's problems.
    const problems: string[] = [];
    const anonymous = await watchedPage(browser);
    try {
      await anonymous.page.goto(`${service.url}/login`);
      problems.push(...(await accessibilityProblems(anonymous.page, 'the login page')));
      await signIn(anonymous.page, TOKEN);
      const { page, dialogs } = anonymous;
      await page.waitForURL((url) => !url.pathname.endsWith('/login'));

      await page.goto(`${service.url}/`);
      const overview = await bodyText(page);
      for (const expected of ['canary', '1.2.0']) assert.ok(overview.includes(expected), `the overview shows ${expected}`);
      assert.match(overview, /fail/i);
      problems.push(...(await accessibilityProblems(page, 'the overview')));
      // The filters, used as a person would: pick, then submit the form.
      await page.getByLabel('Environment').selectOption('canary');
      await page.getByLabel('Verdict').selectOption('fail');
      await followed(page, () => page.getByRole('button', { name: 'Filter' }).click());
      assert.ok((await bodyText(page)).includes('1.2.0'), 'the failing deploy is listed under its filters');
      await page.getByLabel('Verdict').selectOption('pass');
      await followed(page, () => page.getByRole('button', { name: 'Filter' }).click());
      assert.ok(!(await bodyText(page)).includes('1.2.0'), 'the failing deploy is not listed among the passes');

      await page.goto(`${service.url}/deployments/${failed.id}`);
      problems.push(...(await accessibilityProblems(page, 'the deployment page')));

      await page.goto(`${service.url}/schedules`);
      assert.ok((await bodyText(page)).includes('nightly'), 'the schedules page names the schedule');
      problems.push(...(await accessibilityProblems(page, 'the schedules page')));

      await page.goto(`${service.url}/runs/${runId}`);
      assert.match(await bodyText(page), /pass/i);
      problems.push(...(await accessibilityProblems(page, 'the run page')));
      assert.deepEqual(dialogs, []);
      assert.equal(problems.length, 0, `serious or critical accessibility violations:\n${problems.join('\n')}`);
    } finally {
      await anonymous.close();
    }
  });
});

/** The tab a click opens. */
async function opened(page: Page, click: () => Promise<void>): Promise<Page> {
  const [tab] = await Promise.all([page.context().waitForEvent('page'), click()]);
  await tab.waitForLoadState();
  return tab;
}

/** The same tab, once the click has navigated it. */
async function followed(page: Page, click: () => Promise<void>): Promise<Page> {
  const before = page.url();
  await click();
  await page.waitForURL((url) => url.href !== before);
  return page;
}
