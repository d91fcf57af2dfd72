import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/config.ts';
import { tmpRootFor, type Service } from '../service.ts';
import { startReceiver, type Receiver } from '../testing/webhook-receiver.ts';
import { api, deploy, quickRollback, REPO, runProcesses, startService, startShop, waitFor, workspace, type Shop, type Workspace } from './harness.ts';

const SUITE = path.join(REPO, 'server/integration/fixtures/fail-fast-suite/playwright.config.ts');
const REGRESSED = 'flows.spec.ts › checkout API accepts an order';
/** Held on the canary until the canary shop's version is GATE_OPEN (flows.spec.ts): it cannot finish before the test says so. */
const HELD = 'flows.spec.ts › storefront shows the shop once released';
const GATE_OPEN = 'gate-open';
const SECRET = `whsec_${Buffer.from('fail-fast-e2e-secret-0123456789').toString('base64')}`;

interface Instance {
  readonly ws: Workspace;
  readonly service: Service;
  readonly receiver: Receiver;
  readonly tmpRoot: string;
}

/** A flow's outcome on one environment of a run view, or undefined when it has no result there. */
function outcome(run: any, environment: string, flow: string): string | undefined {
  return (run.environments[environment].flows as { flow: string; outcome: string }[]).find((f) => f.flow === flow)?.outcome;
}

const failedFlows = (verdict: any): string[] => (verdict.failed as { flow: string }[]).map((f) => f.flow).sort();

async function ended(base: string, runId: string): Promise<any> {
  return waitFor(`run ${runId} to end`, async () => {
    const { body } = await api(base, 'GET', `/api/v1/runs/${runId}`);
    return body.status === 'queued' || body.status === 'running' ? undefined : body;
  });
}

/** The one rollback signal the receiver got, once the service has it delivered, after a pause for any duplicate. */
async function theOneSignal(instance: Instance, deploymentId: string): Promise<any> {
  await waitFor('the signal to be delivered', async () => {
    const { body } = await api(instance.service.url, 'GET', '/api/v1/signals');
    return body.signals.some((s: { deploymentId: string; status: string }) => s.deploymentId === deploymentId && s.status === 'delivered') ? true : undefined;
  });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal(instance.receiver.received.length, 1, 'exactly one rollback request');
  const [got] = instance.receiver.received;
  assert.deepEqual(got!.verification, { ok: true });
  return JSON.parse(got!.body);
}

/**
 * runs.failFast, end to end: a deploy whose checkout regresses is failed,
 * signalled and answered while another flow is still held on the canary, so
 * the verdict provably did not wait for the rest of the run; then the run is
 * cancelled (failFast true) or completes its report (false). Only deploys are
 * cut short: a scheduled run always completes.
 */
describe('fail fast at the first confirmed regression', () => {
  let production: Shop;
  let canary: Shop;
  let fast: Instance;
  let complete: Instance;

  async function instance(failFast: boolean, schedules?: string): Promise<Instance> {
    const receiver = await startReceiver(SECRET);
    const ws = workspace(
      { production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } },
      {
        suite: SUITE,
        retries: 1,
        failFast,
        ...(schedules && { schedules }),
        rollback: quickRollback(receiver.url, SECRET),
      },
    );
    return { ws, receiver, service: await startService(ws), tmpRoot: tmpRootFor(loadConfig(ws.configFile)) };
  }

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary', 'checkout-500');
    fast = await instance(true, '  - name: watch\n    cron: "0 0 1 1 *"\n    environments: [canary]\n');
    complete = await instance(false);
  });

  after(async () => {
    for (const i of [fast, complete]) {
      await i?.service.close();
      await i?.receiver.close();
      i?.ws.remove();
    }
    await Promise.all([production?.close(), canary?.close()]);
  });

  it('failFast true: fail and signal while a flow is still held, then the run is cancelled and leaves no process', async () => {
    canary.state.version = '2.0.0';
    const { status, body } = await deploy(fast.service.url, { environment: 'canary', version: '2.0.0', deploymentId: 'ff-2.0.0' }, 120);
    assert.equal(status, 200);
    assert.equal(body.verdict, 'fail', body.reasons.join('\n'));
    assert.deepEqual(failedFlows(body), [REGRESSED]);
    assert.equal(outcome(body.run, 'canary', HELD), undefined, 'the verdict came while the held flow had no result');
    assert.match(body.reasons.join('\n'), /decided at the first confirmed regression; the flows not yet finished were cancelled/);

    const event = await theOneSignal(fast, body.id);
    assert.equal(event.data.verdict, 'fail');
    assert.deepEqual(event.data.failedFlows.map((f: { flow: string }) => f.flow), [REGRESSED]);

    const run = await ended(fast.service.url, body.run.id);
    assert.equal(run.status, 'done');
    assert.equal(run.verdict, 'fail', run.reasons.join('\n'));
    assert.deepEqual(failedFlows(run), [REGRESSED]);
    assert.match(run.note, /^stopped early \(runs\.failFast\)/);
    // Cancelled, not waited for: the gate never opened, so a result here would mean the run ran on.
    assert.equal(outcome(run, 'canary', HELD), undefined);
    assert.deepEqual(runProcesses(fast.tmpRoot), [], 'no runner or browser outlives the cancelled run');
    const deployment = await api(fast.service.url, 'GET', `/api/v1/deployments/${body.id}`);
    assert.equal(deployment.body.verdict, 'fail');
    assert.deepEqual(failedFlows(deployment.body), [REGRESSED]);
  });

  it('a scheduled run is never cut short: it runs past its confirmed regression and sends no signal', async () => {
    canary.state.version = '2.0.1';
    const started = await api(fast.service.url, 'POST', '/api/v1/schedules/watch/run');
    assert.equal(started.status, 202);
    const runId = started.body.runs[0].id as string;
    const confirmed = await waitFor('the regression to be confirmed', async () => {
      const { body } = await api(fast.service.url, 'GET', `/api/v1/runs/${runId}`);
      return outcome(body, 'canary', REGRESSED) === 'failed' && outcome(body, 'production', REGRESSED) === 'passed' ? body : undefined;
    });
    assert.equal(confirmed.status, 'running', 'a deploy would have been decided here');
    assert.equal(outcome(confirmed, 'canary', HELD), undefined);

    canary.state.version = GATE_OPEN;
    const run = await ended(fast.service.url, runId);
    assert.equal(run.status, 'done');
    assert.equal(run.verdict, 'fail', run.reasons.join('\n'));
    assert.deepEqual(failedFlows(run), [REGRESSED]);
    assert.equal(outcome(run, 'canary', HELD), 'passed');
    assert.equal(run.note, null);
    assert.equal(fast.receiver.received.length, 1, 'still only the deploy\'s signal');
  });

  it('failFast false: the same early verdict and signal, then the run completes its report', async () => {
    canary.state.version = '3.0.0';
    const { body } = await deploy(complete.service.url, { environment: 'canary', version: '3.0.0', deploymentId: 'ff-3.0.0' }, 120);
    assert.equal(body.verdict, 'fail', body.reasons.join('\n'));
    assert.deepEqual(failedFlows(body), [REGRESSED]);
    assert.equal(outcome(body.run, 'canary', HELD), undefined, 'the verdict came while the held flow had no result');

    const event = await theOneSignal(complete, body.id);
    assert.deepEqual(event.data.failedFlows.map((f: { flow: string }) => f.flow), [REGRESSED]);
    const during = await api(complete.service.url, 'GET', `/api/v1/runs/${body.run.id}`);
    assert.equal(during.body.status, 'running', 'the signal went out while the run was still going');
    assert.equal(outcome(during.body, 'canary', HELD), undefined);

    canary.state.version = GATE_OPEN;
    const run = await ended(complete.service.url, body.run.id);
    assert.equal(run.status, 'done');
    assert.equal(run.verdict, 'fail', run.reasons.join('\n'));
    assert.deepEqual(failedFlows(run), [REGRESSED]);
    assert.equal(outcome(run, 'canary', HELD), 'passed');
    assert.match(run.note, /went on to complete the report/);
    assert.deepEqual(runProcesses(complete.tmpRoot), []);
    assert.equal(complete.receiver.received.length, 1);
  });
});
