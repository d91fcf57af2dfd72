import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../server/config/config.ts';
import { verifyStandardWebhook, type Received } from '../server/testing/webhook-receiver.ts';
import { newWebhookSecret, writeSmokeConfig } from './demo-config.ts';
import { metricsExcerpt } from './demo-monitoring.ts';
import { judgeDeliveries, readDelivery, ROLLBACK_EVENT } from './demo-rollback.ts';

const SECRET = newWebhookSecret();

/** A request as the receiver records it, signed with `key` the Standard Webhooks way. */
function received(id: string, type: string, deploymentId: string, key = SECRET): Received {
  const body = JSON.stringify({ type, data: { deploymentId, failedFlows: [{ flow: 'checkout' }] } });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const mac = createHmac('sha256', Buffer.from(key.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64');
  const headers = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
  return { headers, body, verification: verifyStandardWebhook(SECRET, headers, body), at: Date.now() };
}

describe('judgeDeliveries', () => {
  const cases: { name: string; got: Received[]; expectRollback: boolean; ok: boolean; problem?: RegExp }[] = [
    { name: 'one signed rollback after a fail', got: [received('msg_1', ROLLBACK_EVENT, 'dep_1')], expectRollback: true, ok: true },
    { name: 'nothing after a pass', got: [], expectRollback: false, ok: true },
    { name: 'nothing after a fail', got: [], expectRollback: true, ok: false, problem: /no rollback webhook within 15 s/ },
    { name: 'a duplicate', got: [received('msg_1', ROLLBACK_EVENT, 'dep_1'), received('msg_1', ROLLBACK_EVENT, 'dep_1')], expectRollback: true, ok: false, problem: /received 2 webhooks/ },
    { name: 'a bad signature', got: [received('msg_1', ROLLBACK_EVENT, 'dep_1', newWebhookSecret())], expectRollback: true, ok: false, problem: /invalid signature: no matching signature/ },
    { name: 'another event', got: [received('msg_1', 'deployment.verified', 'dep_1')], expectRollback: true, ok: false, problem: /expected deployment.rollback_requested/ },
    { name: 'a rollback after a pass', got: [received('msg_1', ROLLBACK_EVENT, 'dep_1')], expectRollback: false, ok: false, problem: /needs no rollback/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const check = judgeDeliveries('deployer', c.got.map(readDelivery), c.expectRollback);
      assert.equal(check.ok, c.ok, JSON.stringify(check));
      if (!check.ok) assert.match(check.problem, c.problem!);
      if (check.ok && check.kind === 'sent') assert.deepEqual([check.delivery.webhookId, check.delivery.failedFlows], ['msg_1', ['checkout']]);
    });
  }
});

test('metricsExcerpt keeps the samples of the quoted families and names the missing ones', () => {
  const exposition = [
    '# HELP smoke_flow_success Whether …',
    '# TYPE smoke_flow_success gauge',
    'smoke_flow_success{environment="canary",flow="checkout"} 0',
    '# TYPE smoke_flow_success_other gauge',
    'smoke_flow_success_other 1',
    '# TYPE smoke_verdicts_total counter',
    'smoke_verdicts_total{environment="canary",verdict="fail"} 1',
    '',
  ].join('\n');
  assert.deepEqual(metricsExcerpt(exposition), {
    lines: ['smoke_flow_success{environment="canary",flow="checkout"} 0', 'smoke_verdicts_total{environment="canary",verdict="fail"} 1'],
    missing: ['smoke_deployment_info'],
    otherFamilies: 1,
  });
});

test('the demo config with a rollback webhook and a schedule is one smoke accepts', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-demo-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeSmokeConfig(dir, {
    port: 0,
    production: 'http://127.0.0.1:1',
    canary: 'http://127.0.0.1:2',
    runConcurrency: 1,
    webhooks: [{ name: 'demo-deployer', url: 'http://127.0.0.1:3/hooks/rollback', secret: SECRET }],
    schedules: [{ name: 'production-watch', cron: '*/15 * * * * *', environments: ['production'] }],
  });
  const config = loadConfig(file, {});
  assert.equal(config.runs.concurrency, 1);
  assert.deepEqual(
    config.rollback.webhooks.map((w) => [w.name, w.url, w.secret.reveal(), w.events]),
    [['demo-deployer', 'http://127.0.0.1:3/hooks/rollback', SECRET, [ROLLBACK_EVENT]]],
  );
  assert.deepEqual(
    config.schedules.map((s) => [s.name, s.cron, s.environments]),
    [['production-watch', '*/15 * * * * *', ['production']]],
  );
});
