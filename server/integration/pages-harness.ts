import assert from 'node:assert/strict';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from '@playwright/test';
import { chooseBrowser } from '../runner/browser.ts';

/**
 * What the page tests share: a real Chromium (Playwright's own, else
 * Debian's) and the checks a person's visit implies.
 */

/** Generous: a page may wait on a run, a report being built, or the trace viewer loading a zip, on a busy 2-core machine. */
export const PAGE_TIMEOUT_MS = 60_000;

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchBrowser(): Promise<Browser> {
  const choice = chooseBrowser();
  if (choice.kind === 'missing') throw new Error(`no Chromium for the page tests; tried ${choice.tried.join(', ')}`);
  return chromium.launch({ executablePath: choice.executablePath, args: FLAGS });
}

/** A new page whose dialogs (an injected `alert`, say) fail the test instead of being dismissed quietly. */
export async function watchedPage(browser: Browser, baseURL?: string): Promise<{ page: Page; dialogs: string[]; close(): Promise<void> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...(baseURL && { baseURL }) });
  context.setDefaultTimeout(PAGE_TIMEOUT_MS);
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { page, dialogs, close: () => context.close() };
}

/** Runs axe on the page as it stands: every serious or critical violation, described with where it is; empty when none. */
export async function accessibilityProblems(page: Page, what: string): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `- ${what} (${new URL(page.url()).pathname}): [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${v.nodes
          .map((n) => `    ${n.target.join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ')}`)
          .join('\n')}`,
    );
}

/** Fails listing every serious or critical violation axe finds on the page. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  const problems = await accessibilityProblems(page, what);
  assert.deepEqual(problems, [], `accessibility violations:\n${problems.join('\n')}`);
}

/** Every URL the page points at (links, images, scripts, stylesheets, forms, frames), as written in the markup. */
export async function pageReferences(page: Page): Promise<string[]> {
  // No named functions inside: tsx would wrap them in a helper the page does not have.
  return page.evaluate(() =>
    [
      ['a[href]', 'href'],
      ['link[href]', 'href'],
      ['img[src]', 'src'],
      ['script[src]', 'src'],
      ['iframe[src]', 'src'],
      ['form[action]', 'action'],
    ].flatMap(([selector, attribute]) => [...document.querySelectorAll(selector!)].map((element) => element.getAttribute(attribute!) ?? '')),
  );
}

/** The visible text of the page's body, whitespace folded. */
export async function bodyText(page: Page): Promise<string> {
  return (await page.locator('body').innerText()).replace(/\s+/g, ' ');
}
