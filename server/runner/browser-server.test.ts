import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import pino from 'pino';
import type { SuiteConfig } from '../config/config.ts';
import { chooseBrowser, type BrowserChoice } from './browser.ts';
import { createWarmBrowser, warmBrowserMark, type WarmBrowser } from './browser-server.ts';
import { findMarkedProcesses, killMarkedProcessesAndWait } from './processes.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SUITE: SuiteConfig = { path: path.join(REPO, 'playwright.config.ts'), kind: 'config', grep: '.', retries: 0, workers: 1 };
const browser = chooseBrowser();

/** A warm browser with its own temp root, and the messages it logged. */
function warm(choice: BrowserChoice = browser): { warm: WarmBrowser; tmpRoot: string; logged: () => string[] } {
  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'smoke-wb-'));
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line).msg) });
  const instance = createWarmBrowser({ browser: choice, suite: SUITE, tmpRoot, logger });
  cleanups.push(async () => {
    await instance.close();
    await killMarkedProcessesAndWait(warmBrowserMark(tmpRoot), 5_000);
    rmSync(tmpRoot, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });
  return { warm: instance, tmpRoot, logged: () => lines };
}
const cleanups: (() => Promise<void>)[] = [];
const launches = (logged: string[]) => logged.filter((m) => m === 'warm browser launched').length;

/** Proves the endpoint serves a working browser: a page renders through it. */
async function renders(endpoint: string): Promise<void> {
  const remote = await chromium.connect(endpoint);
  try {
    const page = await remote.newPage();
    await page.setContent('<h1>warm</h1>');
    assert.equal(await page.textContent('h1'), 'warm');
  } finally {
    await remote.close();
  }
}

/** SIGKILLs the Chromium processes carrying the mark, not the server process holding them. */
function killChromium(mark: string): number {
  const pids = findMarkedProcesses(mark).filter((pid) => {
    try {
      return /chrom/i.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
    } catch {
      return false;
    }
  });
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  return pids.length;
}

/** Asks for the endpoint until it is another than `before`: the service learns of an exit only once it has been reaped. Gives up after 10 s. */
async function nextEndpoint(warm: WarmBrowser, before: string | undefined): Promise<string | undefined> {
  for (let i = 0; i < 200; i += 1) {
    const endpoint = await warm.endpoint();
    if (endpoint !== before) return endpoint;
    await new Promise((r) => setTimeout(r, 50));
  }
  return before;
}

describe('the warm browser', { skip: browser.kind === 'missing' && 'no Chromium on this machine' }, () => {
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  describe('shared and relaunched', () => {
    let w: ReturnType<typeof warm>;
    before(() => {
      w = warm();
    });

    it('launches once for concurrent callers, lazily, and serves the same endpoint after', async () => {
      assert.deepEqual(findMarkedProcesses(warmBrowserMark(w.tmpRoot)), [], 'nothing runs before the first call');
      const endpoints = await Promise.all([w.warm.endpoint(), w.warm.endpoint(), w.warm.endpoint()]);
      assert.match(endpoints[0] ?? '', /^ws:\/\/127\.0\.0\.1:\d+\//);
      assert.deepEqual(new Set(endpoints).size, 1);
      assert.equal(await w.warm.endpoint(), endpoints[0]);
      assert.equal(launches(w.logged()), 1);
      await renders(endpoints[0]!);
    });

    it('carries the mark, so the next start can sweep it after a kill -9 of the service', () => {
      assert.ok(findMarkedProcesses(warmBrowserMark(w.tmpRoot)).length > 0);
    });

    it('launches a new browser after its browser alone was killed, as by the OOM killer', async () => {
      const before = await w.warm.endpoint();
      assert.ok(killChromium(warmBrowserMark(w.tmpRoot)) > 0);
      const after = await nextEndpoint(w.warm, before);
      assert.ok(after, 'a new endpoint');
      assert.notEqual(after, before);
      assert.equal(launches(w.logged()), 2);
      await renders(after);
    });

    it('launches a new browser after everything it ran was killed', async () => {
      const before = await w.warm.endpoint();
      assert.ok((await killMarkedProcessesAndWait(warmBrowserMark(w.tmpRoot), 5_000)) > 0);
      const after = await nextEndpoint(w.warm, before);
      assert.ok(after, 'a new endpoint');
      assert.notEqual(after, before);
      assert.equal(launches(w.logged()), 3);
      await renders(after);
    });

    it('closes its browser and answers undefined from then on', async () => {
      const endpoint = await w.warm.endpoint();
      await w.warm.close();
      assert.equal(await w.warm.endpoint(), undefined);
      assert.deepEqual(findMarkedProcesses(warmBrowserMark(w.tmpRoot)), []);
      await assert.rejects(chromium.connect(endpoint!, { timeout: 5_000 }));
    });
  });

  it('closed while launching: the launched browser is closed too', async () => {
    const w = warm();
    const pending = w.warm.endpoint();
    await w.warm.close();
    assert.equal(await pending, undefined);
    assert.deepEqual(findMarkedProcesses(warmBrowserMark(w.tmpRoot)), []);
  });

  const unusable: [string, BrowserChoice][] = [
    ['an executable that does not exist', { kind: 'system', executablePath: '/nonexistent/chromium', args: [] }],
    ['no browser at all', { kind: 'missing', tried: ['/nonexistent/chromium'] }],
  ];
  for (const [name, choice] of unusable) {
    it(`answers undefined, never throws, for ${name}`, async () => {
      const w = warm(choice);
      assert.equal(await w.warm.endpoint(), undefined);
      assert.equal(await w.warm.endpoint(), undefined);
    });
  }
});
