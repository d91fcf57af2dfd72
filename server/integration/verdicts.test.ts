import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../service.ts';
import { api, deadUrl, deploy, outcomes, startService, startShop, workspace, type Shop, type Workspace } from './harness.ts';

const CHECKOUT_UI = 'checkout.spec.ts › customer can check out';
const CHECKOUT_API = 'api.spec.ts › checkout API accepts an order';
const PRODUCTS_API = 'api.spec.ts › products API lists the catalogue';
const STOREFRONT = 'storefront.spec.ts › storefront lists products';

/**
 * The main job, end to end: the real service runs the demo suite in real
 * Chromium against a real production and canary shop, and judges deploys.
 */
describe('deploy verdicts against the demo shop', () => {
  let production: Shop;
  let canary: Shop;
  let ws: Workspace;
  let service: Service;
  let unreachable: string;

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary');
    unreachable = await deadUrl();
    ws = workspace({
      production: { baseURL: production.url },
      canary: { baseURL: canary.url, baseline: 'production' },
      gone: { baseURL: unreachable, baseline: 'production' },
    });
    service = await startService(ws);
  });

  after(async () => {
    await service?.close();
    await Promise.all([production?.close(), canary?.close()]);
    ws?.remove();
  });

  it('a good canary passes, every critical flow run on both environments', async () => {
    Object.assign(canary.state, { version: '1.1.0', fault: 'none' });
    const { status, body } = await deploy(service.url, { environment: 'canary', version: '1.1.0' });
    assert.equal(status, 200);
    assert.equal(body.status, 'done');
    assert.equal(body.verdict, 'pass', body.reasons.join('\n'));
    for (const env of ['canary', 'production']) {
      assert.deepEqual(outcomes(body, env), {
        [CHECKOUT_UI]: 'passed',
        [CHECKOUT_API]: 'passed',
        [PRODUCTS_API]: 'passed',
        [STOREFRONT]: 'passed',
      });
    }
    // The untagged flow is not a critical path: grep left it out.
    assert.ok(!JSON.stringify(body).includes('footer shows the version'));
  });

  it('a broken canary fails, naming the flows, with screenshot and trace to look at', async () => {
    Object.assign(canary.state, { version: '1.2.0', fault: 'checkout-500' });
    const { body } = await deploy(service.url, { environment: 'canary', version: '1.2.0' });
    assert.equal(body.verdict, 'fail', body.reasons.join('\n'));
    assert.deepEqual(body.failed.map((f: { flow: string }) => f.flow).sort(), [CHECKOUT_API, CHECKOUT_UI]);
    assert.match(body.reasons.join('\n'), /"api\.spec\.ts › checkout API accepts an order" failed on canary after 3 attempts: .*500.*it passes on production/);
    assert.equal(outcomes(body, 'production')[CHECKOUT_UI], 'passed');

    const uiFlow = body.run.environments.canary.flows.find((f: { flow: string }) => f.flow === CHECKOUT_UI);
    assert.equal(uiFlow.retries, 2);
    assert.match(uiFlow.error, /Order confirmed/);
    const names = uiFlow.artifacts.map((a: { name: string }) => a.name);
    assert.ok(names.includes('screenshot') && names.includes('trace'), `artifacts: ${names}`);
    const screenshot = await fetch(uiFlow.artifacts.find((a: { name: string }) => a.name === 'screenshot').url);
    assert.equal(screenshot.status, 200);
    assert.equal(screenshot.headers.get('content-type'), 'image/png');
    const png = Buffer.from(await screenshot.arrayBuffer());
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    const trace = await fetch(uiFlow.artifacts.find((a: { name: string }) => a.name === 'trace').url);
    assert.equal(trace.status, 200);
    assert.equal(Buffer.from(await trace.arrayBuffer()).subarray(0, 2).toString(), 'PK');
  });

  it('a button-only break fails just the UI flow', async () => {
    Object.assign(canary.state, { version: '1.2.1', fault: 'broken-button' });
    const { body } = await deploy(service.url, { environment: 'canary', version: '1.2.1' });
    assert.equal(body.verdict, 'fail');
    assert.deepEqual(body.failed.map((f: { flow: string }) => f.flow), [CHECKOUT_UI]);
    assert.equal(outcomes(body, 'canary')[CHECKOUT_API], 'passed');
  });

  it('a flaky canary passes, with the flow reported as flaky', async () => {
    Object.assign(canary.state, { version: '1.3.0', fault: 'flaky-products' });
    const { body } = await deploy(service.url, { environment: 'canary', version: '1.3.0' });
    assert.equal(body.verdict, 'pass', body.reasons.join('\n'));
    assert.deepEqual(body.flaky, [PRODUCTS_API]);
    const flow = body.run.environments.canary.flows.find((f: { flow: string }) => f.flow === PRODUCTS_API);
    assert.equal(flow.outcome, 'flaky');
    assert.equal(flow.retries, 1);
    assert.match(body.reasons.join('\n'), /flaky \(passed on retry\)/);
  });

  it('a broken baseline makes the verdict inconclusive, not a rollback', async () => {
    Object.assign(canary.state, { version: '1.4.0', fault: 'checkout-500' });
    Object.assign(production.state, { fault: 'checkout-500' });
    try {
      const { body } = await deploy(service.url, { environment: 'canary', version: '1.4.0' });
      assert.equal(body.verdict, 'inconclusive', body.reasons.join('\n'));
      assert.equal(body.cause, 'baseline');
      assert.match(body.reasons.join('\n'), /fails on canary and on its baseline production too/);
    } finally {
      Object.assign(production.state, { fault: 'none' });
    }
  });

  it('an unreachable canary fails while its baseline answers', async () => {
    const { body } = await deploy(service.url, { environment: 'gone', version: '2.0.0' });
    assert.equal(body.verdict, 'fail');
    assert.match(body.reasons[0], /gone is unreachable \(.*ECONNREFUSED.*\) while production answers/);
    assert.equal(body.run.environments.gone.reachability.reachable, false);
    assert.deepEqual(body.run.environments.gone.flows, []);
  });

  it('lists runs newest first and filters them by environment', async () => {
    const all = await api(service.url, 'GET', '/api/v1/runs?limit=2');
    assert.equal(all.status, 200);
    assert.equal(all.body.runs.length, 2);
    assert.equal(all.body.runs[0].target, 'gone');
    const gone = await api(service.url, 'GET', '/api/v1/runs?environment=gone');
    assert.deepEqual(gone.body.runs.map((r: { target: string }) => r.target), ['gone']);
    const production = await api(service.url, 'GET', '/api/v1/runs?environment=production');
    // production took part in every run as the baseline.
    assert.equal(production.body.runs.length, 6);
    const one = await api(service.url, 'GET', `/api/v1/runs/${all.body.runs[1].id}`);
    assert.equal(one.status, 200);
    assert.ok(one.body.environments.canary.flows.length === 4);
  });
});
