import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/config.ts';
import { warmBrowserMark } from '../runner/browser-server.ts';
import { findMarkedProcesses } from '../runner/processes.ts';
import { tmpRootFor, type Service } from '../service.ts';
import { startReceiver, type Receiver } from '../testing/webhook-receiver.ts';
import { api, deploy, outcomes, quickRollback, REPO, startService, waitFor, workspace, type Workspace } from './harness.ts';

const SUITE = path.join(REPO, 'server/integration/fixtures/crash-suite/playwright.config.ts');
const BROWSER_KILLED = 'store.spec.ts › store page is open @critical';
const WORKER_KILLED = 'worker.spec.ts › worker lives through the flow @critical';
const SECRET = `whsec_${Buffer.from('browser-crash-secret-0123456789a').toString('base64')}`;

/** A target that serves one heading, on a free loopback port. */
async function startTarget(heading: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>store</title><h1>${heading}</h1>`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Issue 8: a canary whose Chromium, or whose Playwright worker, is SIGKILLed
 * in every attempt (the fixture suite does it to itself, on the environment
 * named `canary` only) is the service's problem, never a rollback; a canary
 * that really serves a broken page still fails.
 */
describe('a browser that dies under the flow never blames the deploy', () => {
  const targets: { close(): Promise<void> }[] = [];
  let ws: Workspace;
  let service: Service;
  let receiver: Receiver;

  before(async () => {
    const production = await startTarget('Store open');
    const canary = await startTarget('Store open');
    // Its page really is broken, and says "closed": a page failure, not a browser one.
    const badCanary = await startTarget('Store closed');
    targets.push(production, canary, badCanary);
    receiver = await startReceiver(SECRET);
    ws = workspace(
      {
        production: { baseURL: production.url },
        canary: { baseURL: canary.url, baseline: 'production' },
        'bad-canary': { baseURL: badCanary.url, baseline: 'production' },
      },
      {
        suite: SUITE,
        retries: 2,
        // Room for a machine busy with other browsers: the flows themselves take seconds.
        deadlineSeconds: 170,
        // The fixture kills the browsers its worker launched: there are none when workers share the warm browser.
        warmBrowser: false,
        // Every flow on both sides: the first case reads production's outcomes of flows that never failed on the page.
        baseline: 'always',
        rollback: quickRollback(receiver.url, SECRET),
      },
    );
    service = await startService(ws);
  });

  after(async () => {
    await service?.close();
    await Promise.all([...targets.map((t) => t.close()), receiver?.close()]);
    ws?.remove();
  });

  let crashedDeployment: string;

  it('a canary whose browser or worker is killed in every attempt is inconclusive, the service\'s fault', async () => {
    const { status, body } = await deploy(service.url, { environment: 'canary', version: '2.0.0' });
    assert.equal(status, 200);
    crashedDeployment = body.id;
    assert.equal(body.verdict, 'inconclusive', body.reasons.join('\n'));
    assert.equal(body.cause, 'service');
    const reasons = body.reasons.join('\n');
    assert.match(reasons, /"store\.spec\.ts › store page is open @critical" could not be run on canary: a browser or runner fault \(the browser closed under the flow\), not the page/);
    assert.match(reasons, /"worker\.spec\.ts › worker lives through the flow @critical" could not be run on canary: a browser or runner fault \(the worker process exited unexpectedly\)/);

    const flows = new Map(body.run.environments.canary.flows.map((f: { flow: string }) => [f.flow, f]));
    const browserFlow: any = flows.get(BROWSER_KILLED);
    assert.equal(browserFlow.outcome, 'error');
    assert.equal(browserFlow.retries, 2, 'every attempt ran and died');
    assert.match(browserFlow.error, /Target page, context or browser has been closed/);
    assert.equal(browserFlow.fault, 'the browser closed under the flow');
    const workerFlow: any = flows.get(WORKER_KILLED);
    assert.equal(workerFlow.outcome, 'error');
    assert.equal(workerFlow.retries, 2);
    assert.match(workerFlow.error, /worker process exited unexpectedly \(code=null, signal=SIGKILL\)/);
    assert.equal(workerFlow.fault, 'the worker process exited unexpectedly');
    assert.deepEqual(outcomes(body, 'production'), { [BROWSER_KILLED]: 'passed', [WORKER_KILLED]: 'passed' });
  });

  it('a canary that serves a broken page still fails, with its rollback signal', async () => {
    const { body } = await deploy(service.url, { environment: 'bad-canary', version: '2.0.1' });
    assert.equal(body.verdict, 'fail', body.reasons.join('\n'));
    // Decided at the first confirmed regression (runs.failFast): one or both flows, each really broken.
    assert.ok(body.failed.length >= 1);
    for (const failed of body.failed as { flow: string }[]) assert.ok([BROWSER_KILLED, WORKER_KILLED].includes(failed.flow), failed.flow);
    assert.match(body.reasons.join('\n'), /failed on bad-canary after 3 attempts: .*Store closed.*it passes on production/);

    await waitFor('the rollback for the broken page', () => (receiver.received.length > 0 ? true : undefined));
    const { body: listed } = await api(service.url, 'GET', '/api/v1/signals');
    const forDeployment = (id: string) => listed.signals.filter((s: { deploymentId: string }) => s.deploymentId === id);
    assert.deepEqual(forDeployment(body.id).map((s: { event: string }) => s.event), ['deployment.rollback_requested']);
    // The crashed canary was judged first: had it asked for a rollback, that signal would be out by now too.
    assert.deepEqual(forDeployment(crashedDeployment), []);
    assert.equal(receiver.received.length, 1);
    assert.match(receiver.received[0]!.body, /bad-canary/);
  });
});

/**
 * Issue 9: the browser the service keeps warm is SIGKILLed mid-run (the
 * fixture kills it from the canary's flow; production's workers share it
 * too). That run is the service's fault, never a rollback; the next deploy
 * gets a new warm browser and passes.
 */
describe('a warm browser that dies under a run never blames the deploy', () => {
  const targets: { url: string; close(): Promise<void> }[] = [];
  let ws: Workspace;
  let service: Service;
  let receiver: Receiver;

  before(async () => {
    for (let i = 0; i < 3; i += 1) targets.push(await startTarget('Store open'));
    const [production, canary, nextCanary] = targets.map((t) => t.url);
    receiver = await startReceiver(SECRET);
    ws = workspace(
      {
        production: { baseURL: production! },
        canary: { baseURL: canary!, baseline: 'production' },
        'next-canary': { baseURL: nextCanary!, baseline: 'production' },
      },
      {
        suite: SUITE,
        grep: '@warm-browser',
        retries: 1,
        deadlineSeconds: 170,
        warmBrowser: true,
        rollback: quickRollback(receiver.url, SECRET),
      },
    );
    service = await startService(ws);
  });

  after(async () => {
    await service?.close();
    await Promise.all([...targets.map((t) => t.close()), receiver?.close()]);
    ws?.remove();
  });

  it("the run is inconclusive, the service's fault, with no rollback; the next deploy passes in a new warm browser", async () => {
    const mark = warmBrowserMark(tmpRootFor(loadConfig(ws.configFile)));
    const { body } = await deploy(service.url, { environment: 'canary', version: '3.0.0' });
    assert.equal(body.verdict, 'inconclusive', body.reasons.join('\n'));
    assert.equal(body.cause, 'service');
    assert.match(body.reasons.join('\n'), /could not be run on canary: a browser or runner fault/);

    const { body: next } = await deploy(service.url, { environment: 'next-canary', version: '3.0.1' });
    assert.equal(next.verdict, 'pass', next.reasons.join('\n'));
    // Passing needs a live browser: the endpoint the killed one had refuses every connection.
    assert.ok(findMarkedProcesses(mark).length > 0, 'a new warm browser runs, kept for the next run');

    const { body: listed } = await api(service.url, 'GET', '/api/v1/signals');
    assert.deepEqual(listed.signals.filter((s: { deploymentId: string }) => s.deploymentId === body.id), []);
    assert.equal(receiver.received.length, 0);
  });
});
