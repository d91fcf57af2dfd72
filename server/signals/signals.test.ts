import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nock from 'nock';
import { StoreUnavailable } from '../errors.ts';
import { FAIL, freshSqlite, judged, open, rig, rollbackConfig, SECRET, until } from '../testing/signals-rig.ts';
import { startReceiver, verifyStandardWebhook } from '../testing/webhook-receiver.ts';
import { signalReplicasContract } from './replicas-contract.ts';

describe('rollback signals', () => {
  it('a fail verdict sends one signed rollback request that an independent verifier accepts', async () => {
    const receiver = await startReceiver(SECRET);
    open.receivers.push(receiver);
    const r = await rig(rollbackConfig(receiver.url));
    r.signals.start();
    const deployment = await judged(r);
    await until('delivery', () => (receiver.received.length === 1 ? true : undefined));
    const [got] = receiver.received;
    assert.deepEqual(got!.verification, { ok: true });
    assert.equal(got!.headers['x-team'], 'checkout');
    assert.equal(got!.headers['content-type'], 'application/json');
    const body = JSON.parse(got!.body);
    assert.equal(body.type, 'deployment.rollback_requested');
    assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
    assert.equal(body.data.deploymentId, deployment.id);
    assert.equal(body.data.idempotencyKey, 'k-1.2.0');
    assert.deepEqual([body.data.service, body.data.environment, body.data.version, body.data.verdict], ['shop', 'canary', '1.2.0', 'fail']);
    assert.deepEqual(body.data.reasons, FAIL.reasons);
    assert.deepEqual(body.data.failedFlows.map((f: { flow: string; error: string }) => [f.flow, f.error]), [['checkout', 'HTTP 500']]);
    assert.equal(body.data.links.deployment, `https://smoke.example.com/api/v1/deployments/${deployment.id}`);
    assert.equal(body.data.links.page, `https://smoke.example.com/deployments/${deployment.id}`, 'the page a person opens');

    const [signal] = await until('delivered status', async () => {
      const s = await r.signals.ofDeployment(deployment.id);
      return s[0]?.status === 'delivered' ? s : undefined;
    });
    assert.equal(signal!.id, got!.headers['webhook-id']);
    assert.equal(signal!.attemptLog.length, 1);
    assert.equal(signal!.attemptLog[0]!.statusCode, 200);
    assert.deepEqual(r.metrics.outcomes, ['delivered']);
  });

  it('the independent verifier rejects a wrong secret and a stale timestamp', async () => {
    const receiver = await startReceiver(SECRET);
    open.receivers.push(receiver);
    const r = await rig(rollbackConfig(receiver.url));
    r.signals.start();
    await judged(r);
    const got = await until('delivery', () => receiver.received[0]);
    const wrong = `whsec_${Buffer.from('another-secret-of-32-bytes-long!').toString('base64')}`;
    assert.deepEqual(verifyStandardWebhook(wrong, got.headers, got.body), { ok: false, reason: 'no matching signature' });
    assert.deepEqual(verifyStandardWebhook(SECRET, got.headers, `${got.body} `), { ok: false, reason: 'no matching signature' });
    const stale = Number(got.headers['webhook-timestamp']) + 10 * 60;
    assert.deepEqual(verifyStandardWebhook(SECRET, got.headers, got.body, stale), { ok: false, reason: 'timestamp outside tolerance' });
  });

  it('500, 500, 200: delivered once, the same webhook-id on every attempt', async () => {
    const receiver = await startReceiver(SECRET);
    open.receivers.push(receiver);
    receiver.script.push({ status: 500 }, { status: 503 });
    const r = await rig(rollbackConfig(receiver.url));
    r.signals.start();
    const deployment = await judged(r);
    await until('three attempts', () => (receiver.received.length === 3 ? true : undefined));
    const ids = new Set(receiver.received.map((x) => x.headers['webhook-id']));
    assert.equal(ids.size, 1);
    assert.ok(receiver.received.every((x) => x.verification.ok));
    const [signal] = await until('delivered', async () => { const s = await r.signals.ofDeployment(deployment.id); return s[0]?.status === 'delivered' ? s : undefined; });
    assert.deepEqual(signal!.attemptLog.map((a) => a.statusCode), [500, 503, 200]);
    // Backoff doubles: at least 0.5 s, then 1 s, between attempts (random() = 0 takes the shortest).
    assert.ok(receiver.received[1]!.at - receiver.received[0]!.at >= 450);
    assert.ok(receiver.received[2]!.at - receiver.received[1]!.at >= 950);
    assert.deepEqual(r.metrics.attempts, ['5xx', '5xx', '2xx']);
    await new Promise((res) => setTimeout(res, 1_200));
    assert.equal(receiver.received.length, 3, 'nothing sent after the 2xx');
  });

  for (const status of [400, 410]) {
    it(`${status}: rejected after one attempt, never retried`, async () => {
      const receiver = await startReceiver(SECRET);
      open.receivers.push(receiver);
      receiver.script.push({ status });
      const r = await rig(rollbackConfig(receiver.url));
      r.signals.start();
      const deployment = await judged(r);
      const [signal] = await until('rejected', async () => { const s = await r.signals.ofDeployment(deployment.id); return s[0]?.status === 'rejected' ? s : undefined; });
      assert.match(signal!.lastError!, new RegExp(`HTTP ${status}`));
      await new Promise((res) => setTimeout(res, 1_500));
      assert.equal(receiver.received.length, 1);
      assert.deepEqual(r.metrics.outcomes, ['rejected']);
      assert.equal((await r.signals.list({ status: 'rejected', limit: 10 })).length, 1);
    });
  }

  it('a receiver that does not answer in time is retried', async () => {
    const receiver = await startReceiver(SECRET);
    open.receivers.push(receiver);
    receiver.script.push({ status: 200, hang: true });
    const r = await rig(rollbackConfig(receiver.url, { attemptTimeoutSeconds: 1 }));
    r.signals.start();
    const deployment = await judged(r);
    const [signal] = await until('delivered after a timeout', async () => { const s = await r.signals.ofDeployment(deployment.id); return s[0]?.status === 'delivered' ? s : undefined; });
    assert.deepEqual(signal!.attemptLog.map((a) => a.statusClass), ['timeout', '2xx']);
    assert.match(signal!.attemptLog[0]!.error!, /no answer within 1000 ms/);
  });

  it('honours Retry-After on a 429', async () => {
    nock.disableNetConnect();
    const scope = nock('https://deployer.example.com')
      .post('/hook')
      .reply(429, 'slow down', { 'Retry-After': '2' })
      .post('/hook')
      .reply(204);
    const r = await rig(rollbackConfig('https://deployer.example.com/hook'));
    r.signals.start();
    const deployment = await judged(r);
    const [signal] = await until('delivered', async () => { const s = await r.signals.ofDeployment(deployment.id); return s[0]?.status === 'delivered' ? s : undefined; }, 10_000);
    const [first, second] = signal!.attemptLog;
    assert.equal(first!.statusCode, 429);
    assert.ok(Date.parse(second!.at) - Date.parse(first!.at) >= 1_950, `retried after ${Date.parse(second!.at) - Date.parse(first!.at)} ms`);
    assert.ok(scope.isDone());
  });

  it('connection errors are retried until the signal is too old, then it is dead and can be redelivered', async () => {
    nock.disableNetConnect();
    nock('https://deployer.example.com').post('/hook').times(3).replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
    const r = await rig(rollbackConfig('https://deployer.example.com/hook', { maxAgeSeconds: 2 }));
    r.signals.start();
    const deployment = await judged(r);
    const [dead] = await until('dead', async () => { const s = await r.signals.ofDeployment(deployment.id); return s[0]?.status === 'dead' ? s : undefined; });
    assert.ok(dead!.attemptLog.every((a) => a.statusClass === 'network'));
    assert.match(dead!.lastError!, /not delivered within 2 s/);
    assert.deepEqual(r.metrics.outcomes, ['dead']);

    nock('https://deployer.example.com').post('/hook').reply(200);
    assert.equal(await r.signals.redeliver(dead!.id), true);
    assert.equal(await r.signals.redeliver(dead!.id), false, 'a pending signal is not redelivered twice');
    const [again] = await until('redelivered', async () => { const s = await r.signals.ofDeployment(deployment.id); return s[0]?.status === 'delivered' ? s : undefined; });
    assert.equal(again!.id, dead!.id);
  });

  it('exactly one signal per deployment, however often its verdict is announced', async () => {
    const receiver = await startReceiver(SECRET);
    open.receivers.push(receiver);
    const r = await rig(rollbackConfig(receiver.url));
    r.signals.start();
    const deployment = await judged(r);
    await Promise.all([r.signals.observer.deploymentFinished!(deployment), r.signals.observer.deploymentFinished!((await r.store.getDeployment(deployment.id))!)]);
    await until('delivery', () => (receiver.received.length >= 1 ? true : undefined));
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(receiver.received.length, 1);
    assert.equal((await r.signals.list({ limit: 10 })).length, 1);
  });

  it('pass and inconclusive send nothing unless a webhook subscribes to them', async () => {
    const receiver = await startReceiver(SECRET);
    open.receivers.push(receiver);
    const quiet = await rig(rollbackConfig(receiver.url));
    quiet.signals.start();
    await judged(quiet, { kind: 'pass', reasons: ['ok'], flaky: [] }, '1.0.0');
    await judged(quiet, { kind: 'inconclusive', reasons: ['baseline broken'], cause: 'baseline' }, '1.0.1');
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(receiver.received.length, 0);

    const chatty = await rig(rollbackConfig(receiver.url, {}, ['deployment.rollback_requested', 'deployment.verified', 'deployment.inconclusive']));
    chatty.signals.start();
    await judged(chatty, { kind: 'pass', reasons: ['ok'], flaky: ['slow flow'] }, '2.0.0');
    await judged(chatty, { kind: 'inconclusive', reasons: ['baseline broken'], cause: 'baseline' }, '2.0.1');
    await until('two events', () => (receiver.received.length === 2 ? true : undefined));
    assert.deepEqual(receiver.received.map((x) => JSON.parse(x.body).type).sort(), ['deployment.inconclusive', 'deployment.verified']);
  });

  it('a signal pending at a crash is delivered once after the restart', async () => {
    nock.disableNetConnect();
    nock('https://deployer.example.com').post('/hook').replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    const first = await rig(rollbackConfig('https://deployer.example.com/hook', { initialBackoffSeconds: 60, maxBackoffSeconds: 60 }));
    first.signals.start();
    const deployment = await judged(first);
    await until('first attempt', async () => ((await first.signals.ofDeployment(deployment.id))[0]?.attempts === 1 ? true : undefined));
    // The crash: no graceful stop, the file is simply opened again by a new incarnation.
    nock.cleanAll();
    nock.enableNetConnect('127.0.0.1');
    const receiver = await startReceiver(SECRET);
    open.receivers.push(receiver);
    // Its next attempt is half a minute away: the new incarnation starts as if that had passed.
    const second = await rig(rollbackConfig(receiver.url, { initialBackoffSeconds: 60, maxBackoffSeconds: 60 }), first.location, { now: () => Date.now() + 61_000 });
    second.signals.start();
    await until('delivery after restart', () => (receiver.received.length === 1 ? true : undefined));
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(receiver.received.length, 1);
    assert.ok(receiver.received[0]!.verification.ok);
    // A third start finds it delivered and sends nothing.
    const third = await rig(rollbackConfig(receiver.url), first.location);
    third.signals.start();
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(receiver.received.length, 1);
  });

  it('a signal the store refused to queue (read-only, full) is sent once the store writes again, without a restart', async () => {
    const receiver = await startReceiver(SECRET);
    open.receivers.push(receiver);
    let refuse = false;
    const r = await rig(rollbackConfig(receiver.url), freshSqlite(), {
      // The store's refusal as a read-only volume, a full disk or PostgreSQL down gives it.
      outbox: (outbox) => ({
        ...outbox,
        enqueue: async (signal) => {
          if (refuse) throw new StoreUnavailable('queue a rollback signal', { cause: Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY' }) });
          return outbox.enqueue(signal);
        },
      }),
    });
    r.signals.start();
    const { deployment } = await r.store.createDeployment({ service: 'shop', environment: 'canary', version: '7.0.0' });
    await r.store.finishDeployment(deployment.id, FAIL);
    refuse = true;
    await r.signals.observer.deploymentFinished!((await r.store.getDeployment(deployment.id))!);
    assert.equal((await r.signals.ofDeployment(deployment.id)).length, 0);
    refuse = false;
    await until('delivery once the store writes again', () => (receiver.received.length === 1 ? true : undefined));
    assert.equal(JSON.parse(receiver.received[0]!.body).data.deploymentId, deployment.id);
    await until('delivered status', async () => ((await r.signals.ofDeployment(deployment.id))[0]?.status === 'delivered' ? true : undefined));
    assert.equal(receiver.received.length, 1);
  });

  it('a verdict stored just before a crash, with no signal yet, is signalled at the next start', async () => {
    const receiver = await startReceiver(SECRET);
    open.receivers.push(receiver);
    const first = await rig(rollbackConfig(receiver.url));
    // Not started and the observer never called: as if the process died between the two writes.
    const { deployment } = await first.store.createDeployment({ service: 'shop', environment: 'canary', version: '9.0.0' });
    await first.store.finishDeployment(deployment.id, FAIL);
    const second = await rig(rollbackConfig(receiver.url), first.location);
    second.signals.start();
    await until('delivery', () => (receiver.received.length === 1 ? true : undefined));
    assert.equal(JSON.parse(receiver.received[0]!.body).data.deploymentId, deployment.id);
  });
});

signalReplicasContract('sqlite', async () => freshSqlite());
