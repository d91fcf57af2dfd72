import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { startReceiver } from '../testing/webhook-receiver.ts';
import { api, freePort, spawnService, startShop, waitFor, workspace, type Shop, type Workspace } from './harness.ts';

const SECRET = `whsec_${Buffer.from('rollback-e2e-secret-0123456789ab').toString('base64')}`;

/**
 * The promise, end to end: a failed canary in the demo produces
 * exactly one signed rollback that an independent verifier accepts, even
 * when the receiver is down for a while and the service is killed and
 * restarted in between.
 */
describe('rollback signal through an outage and a crash', () => {
  let production: Shop;
  let canary: Shop;
  let ws: Workspace;
  let receiverPort: number;

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary', 'checkout-500');
    receiverPort = await freePort();
    ws = workspace(
      { production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } },
      {
        retries: 1,
        rollback: `  webhooks:
    - name: deployer
      url: http://127.0.0.1:${receiverPort}/hooks/rollback
      secret: ${SECRET}
  attemptTimeoutSeconds: 2
  initialBackoffSeconds: 1
  maxBackoffSeconds: 2
`,
      },
    );
  });

  after(async () => {
    await Promise.all([production?.close(), canary?.close()]);
    ws?.remove();
  });

  it('is delivered exactly once, signed, after the receiver comes back and the service restarts', async () => {
    const port = await freePort();
    const first = await spawnService(ws, port);
    let second: Awaited<ReturnType<typeof spawnService>> | undefined;
    const receiver = { current: undefined as Awaited<ReturnType<typeof startReceiver>> | undefined };
    try {
      const { body: judged } = await api(first.url, 'POST', '/api/v1/deployments?wait=180', {
        environment: 'canary',
        version: '1.2.0',
        deploymentId: 'release-1.2.0',
      });
      assert.equal(judged.verdict, 'fail', judged.reasons.join('\n'));

      // The receiver is down: attempts fail and are recorded, the signal stays pending.
      const pending = await waitFor('two failed attempts', async () => {
        const { body } = await api(first.url, 'GET', '/api/v1/signals?status=pending');
        return body.signals[0]?.attempts.length >= 2 ? body.signals[0] : undefined;
      });
      assert.equal(pending.deploymentId, judged.id);
      assert.equal(pending.event, 'deployment.rollback_requested');
      assert.ok(pending.attempts.every((a: { statusClass: string }) => a.statusClass === 'network'));

      first.child.kill('SIGKILL');
      await once(first.child, 'exit');
      receiver.current = await startReceiver(SECRET, receiverPort);
      second = await spawnService(ws, port);

      const delivered = await waitFor('delivery after the restart', async () => {
        const { body } = await api(second!.url, 'GET', `/api/v1/signals/${pending.id}`);
        return body.status === 'delivered' ? body : undefined;
      });
      // Give a duplicate every chance to show up.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const got = receiver.current.received;
      assert.equal(got.length, 1, 'exactly one request reached the receiver');
      assert.deepEqual(got[0]!.verification, { ok: true });
      assert.equal(got[0]!.headers['webhook-id'], pending.id);
      const event = JSON.parse(got[0]!.body);
      assert.equal(event.type, 'deployment.rollback_requested');
      assert.equal(event.data.deploymentId, judged.id);
      assert.equal(event.data.idempotencyKey, 'release-1.2.0');
      assert.equal(event.data.version, '1.2.0');
      assert.equal(event.data.verdict, 'fail');
      assert.equal(event.data.links.page, `${second.url}/deployments/${judged.id}`, 'the link a person opens is the page');
      // Failed fast: the signal names the regressions confirmed when the verdict was given, each a checkout flow that really broke.
      const broken = ['checkout.spec.ts › customer can check out', 'api.spec.ts › checkout API accepts an order'];
      assert.ok(event.data.failedFlows.length >= 1, JSON.stringify(event.data.failedFlows));
      for (const failed of event.data.failedFlows as { flow: string; screenshot: string | null; trace: string; traceViewer: string }[]) {
        assert.ok(broken.includes(failed.flow), JSON.stringify(failed));
        assert.match(failed.trace, new RegExp(`^${second.url}/api/v1/runs/run_\\w+/artifacts/.+\\.zip$`));
        assert.match(failed.traceViewer, new RegExp(`^${second.url}/trace/index\\.html\\?trace=%2Fruns%2Frun_\\w+%2Fartifacts%2F.+\\.zip$`));
        assert.equal((await fetch(failed.trace)).status, 200);
        if (failed.screenshot !== null) assert.equal((await fetch(failed.screenshot)).status, 200);
      }
      assert.equal(delivered.attempts.at(-1).statusCode, 200);

      // The same deploy again, and the deployment view: still one signal, visible with its attempts.
      const again = await api(second.url, 'POST', '/api/v1/deployments', { environment: 'canary', version: '1.2.0', deploymentId: 'release-1.2.0' });
      assert.equal(again.body.signals.length, 1);
      assert.equal(again.body.signals[0].status, 'delivered');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(got.length, 1);
    } finally {
      for (const child of [first.child, second?.child]) {
        if (child && child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          await once(child, 'exit');
        }
      }
      await receiver.current?.close();
    }
  });
});
