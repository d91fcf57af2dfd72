import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FlowOutcome, FlowResult } from '../verdict/types.ts';
import type { TestError, TestResult, TestStep } from '@playwright/test/reporter';
import { AttemptLog } from './attempts.ts';
import { infrastructureFault } from './faults.ts';
import type { TestAttemptMessage } from './protocol.ts';
import { resultFault } from './stream-reporter.ts';

/** Error texts as Playwright 1.65 reports them to a reporter (ANSI stripped), one per family. */
const CLOSED_RELOAD = 'Error: page.reload: Target page, context or browser has been closed\nCall log:\n  - waiting for navigation until "load"';
const CLOSED_IN_EXPECT = `Error: expect(locator).toHaveText(expected) failed

Locator: locator('h1')
Expected: "Store open"
Error: Target page, context or browser has been closed
Browser logs:

<launching> /usr/bin/chromium --disable-field-trial-config --no-sandbox`;
const WORKER_EXIT = 'Error: worker process exited unexpectedly (code=null, signal=SIGKILL)';
const STORE_CLOSED = `Error: expect(locator).toHaveText(expected) failed

Locator:  locator('h1')
Expected: "Store open"
Received: "Store closed"
Timeout:  2000ms

Call log:
  - Expect "toHaveText" locator('h1') with timeout 2000ms
    14 × locator resolved to <h1>Store closed</h1>
       - unexpected value "Store closed"`;
const HTTP_500 = 'Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 201\nReceived: 500';
const PAGE_TIMEOUT = 'Test timeout of 10000ms exceeded.\n\nError: page.click: Test timeout of 10000ms exceeded.';

const infrastructureTexts: [string, string][] = [
  ['closed target in an API call', CLOSED_RELOAD],
  ['closed target inside an assertion', CLOSED_IN_EXPECT],
  ['closed target as its own class', 'TargetClosedError: locator.click: Target page, context or browser has been closed'],
  ['older closed-target wording', 'Error: Protocol error (Runtime.callFunctionOn): Target closed.'],
  ['browser closed', 'Error: browser.newPage: Browser has been closed.'],
  ['browser disconnected', 'Error: page.goto: browser has disconnected'],
  ['browser closed at launch', 'Error: browserType.launch: Browser closed unexpectedly!'],
  ['renderer crash', 'Error: page.goto: Target crashed '],
  ['page crash', 'Error: page.click: Page crashed'],
  ['worker exit', WORKER_EXIT],
  ['timeout setting up the browser', 'Test timeout of 10000ms exceeded while setting up "browser".'],
  ['timeout setting up the page', 'Test timeout of 5000ms exceeded while setting up "page".'],
  ['fixture timeout in setup', 'Fixture "context" timeout of 3000ms exceeded during setup.'],
  ['launch failure', 'Error: browserType.launch: Failed to launch the browser process.\nBrowser logs:\n\n<launching> /usr/bin/chromium'],
  ['missing executable', "Error: browserType.launch: Executable doesn't exist at /root/.cache/ms-playwright/chromium-1200/chrome-linux/chrome"],
  ['missing channel', 'Error: Failed to launch chromium because executable doesn\'t exist at /opt/chrome'],
  ['internal error', 'Error: page.goto: Internal error, unexpected response type: "x"'],
  ['protocol error', 'Error: page.evaluate: Protocol error (Runtime.evaluate): Session closed.'],
  ['connection closed', 'Error: browserType.connectOverCDP: Connection closed'],
  ['remote browser reset', 'Error: WebSocket error: read ECONNRESET'],
];

const pageTexts: [string, string][] = [
  ['an assertion whose page says "closed"', STORE_CLOSED],
  ['an assertion expecting the closed-target text', 'Error: expect(locator).toHaveText(expected) failed\n\nExpected: "Target page, context or browser has been closed"\nReceived: "Welcome"'],
  ['an HTTP error in an API flow', HTTP_500],
  ['an HTTP connection reset by the deploy', 'Error: apiRequestContext.post: read ECONNRESET\nCall log:\n  - → POST http://127.0.0.1:4000/api/orders'],
  ['a timeout waiting on the page', PAGE_TIMEOUT],
  ['a server\'s 500 body quoted in a custom assertion message', 'Error: Internal error\n\nexpect(received).toBeTruthy()\n\nReceived: false'],
  ['a timeout in a team fixture', 'Test timeout of 5000ms exceeded while setting up "loggedInPage".'],
];

describe('infrastructureFault', () => {
  for (const [name, text] of infrastructureTexts) {
    it(`is a fault: ${name}`, () => assert.ok(infrastructureFault(text), text));
  }
  for (const [name, text] of pageTexts) {
    it(`is the page's: ${name}`, () => assert.equal(infrastructureFault(text), undefined));
  }
  it('reads through ANSI colours', () => {
    assert.ok(infrastructureFault('\u001b[31mError: \u001b[2mpage.goto:\u001b[22m Target page, context or browser has been closed\u001b[39m'));
  });
});

type Attempt = Pick<TestAttemptMessage, 'status'> & Partial<Pick<TestAttemptMessage, 'error' | 'fault'>>;

/** Feeds one flow's attempts to a fresh log the way the reporter does, the last one final with Playwright's outcome. */
function fold(attempts: Attempt[], outcome: TestAttemptMessage['outcome']): FlowResult {
  const log = new AttemptLog('/tmp/smoke-out');
  let result: FlowResult | undefined;
  attempts.forEach((a, i) => {
    const final = i === attempts.length - 1;
    result = log.add({
      type: 'test',
      environment: 'canary',
      flow: 'shop.spec.ts › checkout',
      file: 'shop.spec.ts',
      line: 3,
      test: { file: '/suite/shop.spec.ts', titles: ['checkout'] },
      attempt: i,
      durationMs: 100,
      final,
      ...(final && { outcome }),
      attachments: [],
      ...a,
    });
    if (!final) assert.equal(result, undefined);
  });
  assert.ok(result);
  return result;
}

const failed = (error: string): Attempt => ({ status: 'failed', error });
const passed: Attempt = { status: 'passed' };
const crashed: Attempt = failed(CLOSED_RELOAD);

interface Case {
  name: string;
  attempts: Attempt[];
  outcome: TestAttemptMessage['outcome'];
  expected: FlowOutcome;
  /** Every string must appear in the result's error. */
  error?: string[];
}

const cases: Case[] = [
  { name: 'passes first time', attempts: [passed], outcome: 'expected', expected: 'passed' },
  { name: 'fails on the page every attempt', attempts: [failed(HTTP_500), failed(HTTP_500), failed(HTTP_500)], outcome: 'unexpected', expected: 'failed', error: ['Received: 500'] },
  { name: 'a page that says "closed" is still a page failure', attempts: [failed(STORE_CLOSED), failed(STORE_CLOSED), failed(STORE_CLOSED)], outcome: 'unexpected', expected: 'failed' },
  { name: 'page timeouts are the page\'s', attempts: [failed(PAGE_TIMEOUT), { status: 'timedOut', error: PAGE_TIMEOUT }], outcome: 'unexpected', expected: 'failed' },
  { name: 'the browser killed every attempt', attempts: [crashed, crashed, crashed], outcome: 'unexpected', expected: 'error', error: ['Target page, context or browser has been closed'] },
  {
    name: 'fails on the page, then the browser crashes: tainted, both kept',
    attempts: [failed(HTTP_500), failed(HTTP_500), crashed],
    outcome: 'unexpected',
    expected: 'error',
    error: ['Target page, context or browser has been closed', 'Attempt 1 failed on the page', 'Received: 500'],
  },
  {
    name: 'a crash in the first attempt taints later page failures',
    attempts: [failed(WORKER_EXIT), failed(STORE_CLOSED), failed(STORE_CLOSED)],
    outcome: 'unexpected',
    expected: 'error',
    error: ['worker process exited unexpectedly', 'Received: "Store closed"'],
  },
  { name: 'the reporter\'s structural verdict counts whatever the text', attempts: [failed(HTTP_500), { status: 'failed', error: 'Error: something odd', fault: 'the fixture "page" failed' }], outcome: 'unexpected', expected: 'error', error: ['something odd', 'Received: 500'] },
  { name: 'fails then passes: flaky, even after a crash', attempts: [crashed, passed], outcome: 'flaky', expected: 'flaky' },
  { name: 'page failure then pass: flaky', attempts: [failed(HTTP_500), passed], outcome: 'flaky', expected: 'flaky' },
  { name: 'interrupted: the flow did not run', attempts: [{ status: 'interrupted' }], outcome: 'skipped', expected: 'error' },
  { name: 'skipped', attempts: [{ status: 'skipped' }], outcome: 'skipped', expected: 'skipped' },
];

describe('AttemptLog', () => {
  for (const c of cases) {
    it(c.name, () => {
      const result = fold(c.attempts, c.outcome);
      assert.equal(result.outcome, c.expected, result.error);
      assert.equal(result.retries, c.attempts.length - 1);
      assert.equal(result.durationMs, 100 * c.attempts.length);
      // A fault is named exactly when the flow is the service's problem.
      assert.equal(result.fault !== undefined, c.expected === 'error', `fault: ${result.fault}`);
      for (const text of c.error ?? []) assert.ok(result.error?.includes(text), `expected error to include ${JSON.stringify(text)}, got:\n${result.error}`);
    });
  }

  it('names the fault for the judge', () => {
    assert.equal(fold([crashed], 'unexpected').fault, 'the browser closed under the flow');
    assert.equal(fold([failed(WORKER_EXIT)], 'unexpected').fault, 'the worker process exited unexpectedly');
  });

  it('quotes the same crash once, however many attempts it ended and whatever their call logs', () => {
    const bare = failed('Error: page.reload: Target page, context or browser has been closed');
    const { error } = fold([crashed, bare, bare], 'unexpected');
    assert.equal(error, bare.error);
  });

  it('keeps environments and flows apart', () => {
    const log = new AttemptLog('/tmp/smoke-out');
    const base = { type: 'test', flow: 'f', file: 'f.spec.ts', line: 1, durationMs: 1, attachments: [], test: { file: '/suite/f.spec.ts', titles: ['f'] } } as const;
    assert.equal(log.add({ ...base, environment: 'canary', attempt: 0, status: 'failed', error: CLOSED_RELOAD, final: false }), undefined);
    const production = log.add({ ...base, environment: 'production', attempt: 0, status: 'failed', error: HTTP_500, final: true, outcome: 'unexpected' });
    assert.equal(production?.outcome, 'failed');
    const canary = log.add({ ...base, environment: 'canary', attempt: 1, status: 'failed', error: HTTP_500, final: true, outcome: 'unexpected' });
    assert.equal(canary?.outcome, 'error');
  });
});

type Structure = Pick<TestResult, 'status' | 'errors' | 'steps'>;

/** A step as the runner reports it; only what the classification reads. */
function step(category: string, title: string, error?: TestError, steps: TestStep[] = []): TestStep {
  return { category, title, steps, ...(error && { error }) } as unknown as TestStep;
}

/** An error thrown in the flow's own code: Playwright gives it a stack and a location in the spec. */
function thrown(message: string): TestError {
  return { message, stack: `${message}\n    at /suite/shop.spec.ts:9:16`, location: { file: '/suite/shop.spec.ts', line: 9, column: 16 } };
}

const beforeHooks = (error?: TestError): TestStep =>
  step('hook', 'Before Hooks', undefined, [
    step('fixture', 'Fixture "browser"', error, [step('pw:api', 'Launch browser', error)]),
    step('fixture', 'Fixture "context"'),
    step('fixture', 'Fixture "page"'),
  ]);

const structures: { name: string; result: Structure; fault: RegExp | undefined }[] = [
  { name: 'a page assertion', result: { status: 'failed', errors: [thrown(STORE_CLOSED)], steps: [beforeHooks(), step('expect', 'Expect "toHaveText"', thrown(STORE_CLOSED))] }, fault: undefined },
  { name: 'a page timeout', result: { status: 'timedOut', errors: [thrown(PAGE_TIMEOUT)], steps: [beforeHooks()] }, fault: undefined },
  { name: 'an interrupted attempt', result: { status: 'interrupted', errors: [], steps: [] }, fault: /interrupted/ },
  { name: 'the worker exited (the runner\'s own bare error)', result: { status: 'failed', errors: [{ message: WORKER_EXIT }], steps: [beforeHooks()] }, fault: /^the worker process exited unexpectedly$/ },
  { name: 'any other error the runner made itself', result: { status: 'failed', errors: [{ message: 'Test not found in the worker process.' }], steps: [] }, fault: /^the test runner ended the attempt: Test not found/ },
  {
    name: 'the browser fixture failed, whatever its text',
    result: { status: 'failed', errors: [thrown('Error: something new in Playwright 2')], steps: [beforeHooks(thrown('Error: something new in Playwright 2'))] },
    fault: /^the fixture "browser" failed: Error: something new/,
  },
  { name: 'a team fixture failed: the team\'s code, judged by its text', result: { status: 'failed', errors: [thrown(HTTP_500)], steps: [step('hook', 'Before Hooks', undefined, [step('fixture', 'Fixture "loggedIn"', thrown(HTTP_500))])] }, fault: undefined },
  { name: 'a closed target thrown in the test body', result: { status: 'failed', errors: [thrown(CLOSED_RELOAD)], steps: [beforeHooks(), step('pw:api', 'Reload', thrown(CLOSED_RELOAD))] }, fault: /browser closed/ },
  { name: 'a closed target only in the cause', result: { status: 'failed', errors: [{ ...thrown('Error: checkout step failed'), cause: thrown(CLOSED_RELOAD) }], steps: [] }, fault: /browser closed/ },
];

describe('resultFault (the reporter, from the runner\'s structure)', () => {
  for (const c of structures) {
    it(c.name, () => {
      const fault = resultFault(c.result);
      if (c.fault === undefined) assert.equal(fault, undefined);
      else assert.match(fault ?? '(none)', c.fault);
    });
  }
});
