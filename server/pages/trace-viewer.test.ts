import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from '@playwright/test';
import { REPO } from '../integration/harness.ts';
import { assertAccessible } from '../integration/pages-harness.ts';
import { chooseBrowser, SYSTEM_CHROMIUM_ARGS } from '../runner/browser.ts';
import { startSite, type SiteRig } from '../testing/site-rig.ts';
import { pagePaths } from './paths.ts';
import { inlineScriptHashes } from './trace-viewer.ts';

const TOKEN = 'viewer-token-0123456789abcdef';
const choice = chooseBrowser();
const skip = choice.kind === 'missing' ? 'no Chromium on this machine' : false;

function launch(): Promise<Browser> {
  if (choice.kind === 'missing') throw new Error('no Chromium');
  return chromium.launch({ executablePath: choice.executablePath, args: [...SYSTEM_CHROMIUM_ARGS] });
}

/** A real trace: a page clicked under `context.tracing`, as a flow's trace.zip is written. */
async function recordTrace(browser: Browser, file: string): Promise<void> {
  const server = createServer((_req, res) => res.setHeader('content-type', 'text/html').end('<title>Shop</title><h1>Shop</h1><button>Buy now</button>'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const context = await browser.newContext();
    await context.tracing.start({ screenshots: true, snapshots: true });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.getByRole('button', { name: 'Buy now' }).click();
    await context.tracing.stop({ path: file });
    await context.close();
  } finally {
    server.close();
  }
}

/** Playwright's own HTML report of a one-test project that fails, trace and screenshot included. */
async function buildReport(outputFolder: string): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-report-'));
  try {
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    if (choice.kind === 'missing') throw new Error('no Chromium');
    writeFileSync(
      path.join(dir, 'playwright.config.mjs'),
      `export default { testDir: '.', reporter: [['html', { open: 'never', outputFolder: ${JSON.stringify(outputFolder)} }]],
  use: { trace: 'on', screenshot: 'on', launchOptions: { executablePath: ${JSON.stringify(choice.executablePath)}, args: ${JSON.stringify(SYSTEM_CHROMIUM_ARGS)} } } };\n`,
    );
    writeFileSync(
      path.join(dir, 'shop.spec.mjs'),
      `import { test, expect } from '@playwright/test';
test('checkout pays', async ({ page }) => {
  await page.setContent('<h1>Shop</h1><button>Buy now</button>');
  await page.getByRole('button', { name: 'Buy now' }).click();
  await expect(page.getByText('Paid')).toBeVisible({ timeout: 200 });
});\n`,
    );
    const child = spawn(process.execPath, [path.join(REPO, 'node_modules/@playwright/test/cli.js'), 'test', '-c', 'playwright.config.mjs'], {
      cwd: dir,
      env: { ...process.env, CI: '1' },
      stdio: 'ignore',
    });
    await once(child, 'exit');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `SMOKE_SCREENSHOTS=docs` keeps a picture of each screen for the README. */
async function keep(page: Page, name: string): Promise<void> {
  const folder = process.env.SMOKE_SCREENSHOTS;
  if (folder) await page.screenshot({ path: path.join(REPO, folder, `${name}.png`) });
}

/** Content-Security-Policy refusals the page reported: the policy must let Playwright's apps work. */
function watchPolicy(page: Page): string[] {
  const refused: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
  });
  return refused;
}

describe('trace viewer and report in Chromium, behind a prefix and the login', { skip }, () => {
  let browser: Browser;
  let rig: SiteRig;
  let page: Page;
  let refused: string[];
  const paths = pagePaths('/smoke');

  before(async () => {
    browser = await launch();
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'smoke-trace-'));
    await recordTrace(browser, path.join(tmp, 'trace.zip'));
    rig = await startSite({ apiToken: TOKEN, prefix: '/smoke', traceZip: readFileSync(path.join(tmp, 'trace.zip')) });
    rmSync(tmp, { recursive: true, force: true });
    page = await (await browser.newContext()).newPage();
    refused = watchPolicy(page);
  });
  after(async () => {
    await browser?.close();
    await rig?.close();
  });

  it('signs in through the form and lands where the link pointed', async () => {
    await page.goto(`${rig.url}${paths.run(rig.runId)}`);
    assert.match(new URL(page.url()).pathname, /^\/smoke\/login$/);
    await keep(page, 'login');
    await assertAccessible(page, 'the login page');
    await page.getByLabel('API token').fill('not-the-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await assertAccessible(page, 'the login page after a wrong token');
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === paths.run(rig.runId));
    const cookie = (await page.context().cookies()).find((c) => c.name === 'smoke_session');
    assert.ok(cookie, 'the session cookie is set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/smoke');
  });

  it('follows a link from another site (a chat message) to the page, though the SameSite=Strict cookie stays behind', async () => {
    const target = `${rig.url}${paths.run(rig.runId)}`;
    const chat = createServer((_req, res) => res.setHeader('content-type', 'text/html').end(`<a href="${target}">rolled back</a>`));
    chat.listen(0, '127.0.0.1');
    await once(chat, 'listening');
    try {
      // localhost and 127.0.0.1 are different sites to the browser.
      await page.goto(`http://localhost:${(chat.address() as AddressInfo).port}/`);
      const asked: string[] = [];
      page.on('request', (request) => asked.push(new URL(request.url()).pathname));
      await page.getByRole('link', { name: 'rolled back' }).click();
      await page.waitForURL((url) => url.pathname === paths.run(rig.runId), { timeout: 30_000 });
      // The way it went: the login page found the session with a same-site request and went on.
      assert.ok(asked.includes('/smoke/login/session'), asked.join(' '));
    } finally {
      chat.close();
    }
  });

  it('opens the run’s trace and lists its actions', async () => {
    await page.goto(`${rig.url}${paths.trace(paths.artifact(rig.runId, rig.trace))}`);
    await page.getByText('Buy now').first().waitFor({ timeout: 30_000 });
    const actions = await page.getByRole('treeitem').allInnerTexts();
    assert.ok(actions.some((a) => /Navigate/.test(a)), `actions: ${actions.join(' | ')}`);
    assert.ok(actions.some((a) => /Click/.test(a)), `actions: ${actions.join(' | ')}`);
    assert.deepEqual(refused, []);
    await page.getByRole('treeitem').filter({ hasText: /Click/ }).first().click();
    await keep(page, 'trace-viewer');
  });

  it('opens Playwright’s HTML report of the run, its screenshot and its trace', async () => {
    await buildReport(path.join(rig.artifactsDir, rig.runId, 'report'));
    await page.goto(`${rig.url}${paths.report(rig.runId)}`);
    await page.getByText('checkout pays').first().click({ timeout: 30_000 });
    const shot = page.locator('img[alt="screenshot"], img[src*="data/"]').first();
    await shot.waitFor({ timeout: 30_000 });
    assert.ok(await shot.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), 'the screenshot loaded');
    await keep(page, 'report');
    const traceLink = page.locator('a[href*="trace/index.html"]').first();
    await traceLink.click();
    await page.waitForURL(/\/smoke\/runs\/[^/]+\/report\/trace\/index\.html/);
    await page.getByRole('treeitem').filter({ hasText: /Click/ }).first().waitFor({ timeout: 30_000 });
    assert.deepEqual(refused, []);
  });
});

describe('inlineScriptHashes', () => {
  it('hashes each inline script as the parser ends it, and skips external ones', () => {
    const hashes = inlineScriptHashes('<script type="module">let s = "<script>x<\\/script>";</script><script src="a.js"></script><SCRIPT>b()</SCRIPT>');
    assert.equal(hashes.length, 2);
    assert.ok(hashes.every((h) => /^sha256-[A-Za-z0-9+/]+=*$/.test(h)));
  });
});
