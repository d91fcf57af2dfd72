import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { NewSignal } from '../signals/outbox.ts';
import { statusesContract } from './github-statuses-contract.ts';
import { retentionContract } from './retention-contract.ts';
import type { Store } from './store.ts';

/**
 * The store's side tables (signal outbox, gate deliveries, GitHub statuses,
 * retention) as every engine must keep them. `open` opens a store on the
 * current test's database: a fresh one per test, the same one for every call
 * within a test, so a test can stand two replicas on one database.
 * Times that matter are passed in (epoch ms), and leases are 0 (due again at
 * once) or a day (never due within a test): nothing races the clock.
 */
export function sectionsContract(engine: string, open: () => Promise<Store>): void {
  const opened: Store[] = [];
  const store = async () => {
    const s = await open();
    opened.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  describe(`${engine}: signal outbox`, () => {
    outboxContract(store);
  });
  describe(`${engine}: gate deliveries`, () => {
    deliveriesContract(store);
  });
  describe(`${engine}: GitHub statuses`, () => {
    statusesContract(store);
  });
  describe(`${engine}: retention`, () => {
    retentionContract(store);
  });
}

type Open = () => Promise<Store>;

const NOW = Date.parse('2027-03-01T12:00:00.000Z');
const DAY = 86_400_000;
/** A lease no test outlives. */
const HELD = DAY;

const deployment = async (s: Store, environment = 'canary') =>
  (await s.createDeployment({ service: 'shop', environment, version: '1.0.0' })).deployment.id;

const signalOf = (deploymentId: string, webhook = 'deployer', nowMs = NOW): NewSignal => ({
  deploymentId,
  webhook,
  event: 'deployment.rollback_requested',
  payload: `{"deployment":"${deploymentId}","webhook":"${webhook}"}`,
  nowMs,
  expiresAtMs: nowMs + DAY,
});

function outboxContract(store: Open): void {
  it('queues a signal once per deployment, webhook and event, and reads it back', async () => {
    const s = await store();
    const dep = await deployment(s);
    const signal = await s.outbox.enqueue(signalOf(dep));
    assert.ok(signal);
    assert.deepEqual(signal, {
      id: signal.id,
      deploymentId: dep,
      webhook: 'deployer',
      event: 'deployment.rollback_requested',
      status: 'pending',
      attempts: 0,
      nextAttemptAt: new Date(NOW).toISOString(),
      expiresAt: new Date(NOW + DAY).toISOString(),
      createdAt: new Date(NOW).toISOString(),
    });
    assert.equal(await s.outbox.enqueue(signalOf(dep)), undefined, 'the same signal again');
    assert.equal(await s.outbox.enqueue({ ...signalOf(dep), event: 'deployment.verified' }).then((x) => x?.event), 'deployment.verified');
    assert.deepEqual(await s.outbox.get(signal.id), { ...signal, payload: signalOf(dep).payload });
    assert.equal(await s.outbox.get('msg_unknown'), undefined);
    assert.equal(await s.outbox.has(dep, 'deployer', 'deployment.rollback_requested'), true);
    assert.equal(await s.outbox.has(dep, 'auditor', 'deployment.rollback_requested'), false);
    assert.equal(await s.outbox.pendingCount(), 2);
    assert.equal(await s.outbox.nextDueAtMs(), NOW);
  });

  it('lists newest first, and a deployment oldest first, in the order signals were raised', async () => {
    const s = await store();
    const dep = await deployment(s);
    const ids: string[] = [];
    // Three in one millisecond: the ids keep their order.
    for (const webhook of ['a', 'b', 'c']) ids.push((await s.outbox.enqueue(signalOf(dep, webhook)))!.id);
    ids.push((await s.outbox.enqueue(signalOf(dep, 'd', NOW + 1)))!.id);
    assert.deepEqual((await s.outbox.list({ limit: 10 })).map((x) => x.id), [...ids].reverse());
    assert.deepEqual((await s.outbox.list({ limit: 2 })).map((x) => x.id), [ids[3], ids[2]]);
    assert.deepEqual((await s.outbox.ofDeployment(dep)).map((x) => x.id), ids);
    await s.outbox.record(ids[1]!, { atMs: NOW, statusCode: 204, statusClass: '2xx', latencyMs: 5 }, { status: 'delivered' });
    assert.deepEqual((await s.outbox.list({ status: 'delivered', limit: 10 })).map((x) => x.id), [ids[1]]);
    assert.deepEqual((await s.outbox.list({ status: 'pending', limit: 10 })).map((x) => x.id), [ids[3], ids[2], ids[0]]);
    assert.equal(await s.outbox.pendingCount(), 3);
  });

  it('leases what it claims: a claimed signal is not due again until the lease ends', async () => {
    const s = await store();
    const dep = await deployment(s);
    const first = (await s.outbox.enqueue(signalOf(dep, 'a')))!;
    const second = (await s.outbox.enqueue(signalOf(dep, 'b')))!;
    await s.outbox.enqueue(signalOf(dep, 'later', NOW + 60_000));

    const claimed = await s.outbox.claimDue(NOW, 10, HELD);
    assert.deepEqual(claimed.map((x) => x.id), [first.id, second.id], 'the later one is not due yet');
    assert.equal(claimed[0]!.payload, signalOf(dep, 'a').payload);
    assert.equal(claimed[0]!.nextAttemptAt, new Date(NOW + HELD).toISOString(), 'due again when the lease ends');
    assert.deepEqual(await s.outbox.claimDue(NOW, 10, HELD), [], 'leased: no one takes them meanwhile');
    assert.deepEqual((await s.outbox.claimDue(NOW + 60_000, 10, HELD)).map((x) => x.webhook), ['later']);
    assert.equal(await s.outbox.nextDueAtMs(), NOW + HELD);
    assert.equal(await s.outbox.pendingCount(), 3, 'a leased signal is still pending');
    assert.deepEqual((await s.outbox.claimDue(NOW + HELD, 1, 0)).map((x) => x.id), [first.id], 'after the lease, due again; a batch stops at its limit');

    // A replica that died mid-attempt (lease 0 stands for one that ran out): the next claim takes it again.
    const [again] = await s.outbox.claimDue(NOW + HELD, 1, 0);
    assert.equal(again?.id, first.id);
  });

  it('never gives one signal to two replicas claiming at once', async () => {
    const [one, two] = [await store(), await store()];
    const dep = await deployment(one);
    const count = 24;
    for (let i = 0; i < count; i++) await one.outbox.enqueue(signalOf(dep, `hook-${i}`));
    const claims = Array.from({ length: 16 }, (_, i) => (i % 2 ? one : two).outbox.claimDue(NOW, 3, HELD));
    const ids = (await Promise.all(claims)).flat().map((x) => x.id);
    assert.equal(ids.length, count, 'every signal claimed');
    assert.equal(new Set(ids).size, count, 'none twice');
  });

  it('writes each attempt with what follows from it, numbering attempts across replicas', async () => {
    const [one, two] = [await store(), await store()];
    const dep = await deployment(one);
    const signal = (await one.outbox.enqueue(signalOf(dep)))!;
    const failed = { atMs: NOW, statusCode: 503, statusClass: '5xx' as const, latencyMs: 12.4, error: 'HTTP 503' };
    // Two replicas, the second after the first's lease ran out, record at once: attempts 1 and 2, never a clash.
    await Promise.all([
      one.outbox.record(signal.id, failed, { status: 'pending', nextAttemptAtMs: NOW + 1000, error: 'HTTP 503' }),
      two.outbox.record(signal.id, { ...failed, atMs: NOW + 1 }, { status: 'pending', nextAttemptAtMs: NOW + 2000, error: 'HTTP 503' }),
    ]);
    const attempts = await one.outbox.attemptsOf(signal.id);
    assert.deepEqual(attempts.map((a) => a.attempt), [1, 2]);
    assert.deepEqual(attempts[0], { attempt: 1, at: attempts[0]!.at, statusCode: 503, statusClass: '5xx', latencyMs: 12, error: 'HTTP 503' });
    let stored = (await one.outbox.get(signal.id))!;
    assert.equal(stored.attempts, 2);
    assert.equal(stored.lastError, 'HTTP 503');
    assert.ok([NOW + 1000, NOW + 2000].includes(Date.parse(stored.nextAttemptAt)));

    await two.outbox.record(signal.id, { atMs: NOW + 5000, statusCode: 204, statusClass: '2xx', latencyMs: 3 }, { status: 'delivered' });
    stored = (await one.outbox.get(signal.id))!;
    assert.equal(stored.status, 'delivered');
    assert.equal(stored.attempts, 3);
    assert.equal(stored.deliveredAt, new Date(NOW + 5000).toISOString());
    assert.equal(stored.lastError, undefined);
    assert.equal(await one.outbox.pendingCount(), 0);
    assert.equal(await one.outbox.nextDueAtMs(), undefined);

    // Once it is not pending, a late attempt (a replica whose lease ran out) changes nothing.
    await one.outbox.record(signal.id, failed, { status: 'dead', error: 'late' });
    assert.deepEqual(await one.outbox.get(signal.id), stored);
    assert.equal((await one.outbox.attemptsOf(signal.id)).length, 3);
  });

  it('gives a signal up without an attempt, and redelivers only a dead or rejected one', async () => {
    const s = await store();
    const dep = await deployment(s);
    const signal = (await s.outbox.enqueue(signalOf(dep)))!;
    assert.equal(await s.outbox.redeliver(signal.id, NOW, NOW + DAY), false, 'pending: nothing to redeliver');
    await s.outbox.record(signal.id, undefined, { status: 'dead', error: 'expired before any attempt' });
    assert.deepEqual(await s.outbox.attemptsOf(signal.id), []);
    assert.equal((await s.outbox.get(signal.id))!.status, 'dead');
    assert.equal((await s.outbox.get(signal.id))!.attempts, 0);

    assert.equal(await s.outbox.redeliver(signal.id, NOW + 10, NOW + 2 * DAY), true);
    const again = (await s.outbox.get(signal.id))!;
    assert.equal(again.status, 'pending');
    assert.equal(again.nextAttemptAt, new Date(NOW + 10).toISOString());
    assert.equal(again.expiresAt, new Date(NOW + 2 * DAY).toISOString());
    assert.equal(again.lastError, undefined);
    assert.equal(await s.outbox.redeliver('msg_unknown', NOW, NOW), false);
    await s.outbox.record(signal.id, { atMs: NOW, statusCode: 400, statusClass: '4xx', latencyMs: 1 }, { status: 'rejected', error: 'HTTP 400' });
    assert.equal(await s.outbox.redeliver(signal.id, NOW, NOW + DAY), true, 'rejected: redelivered');
  });

  it('prunes delivered signals with their attempts, oldest first and in batches; never an undelivered one', async () => {
    const s = await store();
    const dep = await deployment(s);
    const delivered: string[] = [];
    for (const [i, webhook] of ['a', 'b', 'c'].entries()) {
      const id = (await s.outbox.enqueue(signalOf(dep, webhook, NOW - 40 * DAY + i)))!.id;
      await s.outbox.record(id, { atMs: NOW - 40 * DAY + i, statusCode: 204, statusClass: '2xx', latencyMs: 1 }, { status: 'delivered' });
      delivered.push(id);
    }
    const recent = (await s.outbox.enqueue(signalOf(dep, 'recent', NOW - DAY)))!.id;
    await s.outbox.record(recent, { atMs: NOW - DAY, statusCode: 204, statusClass: '2xx', latencyMs: 1 }, { status: 'delivered' });
    const dead = (await s.outbox.enqueue(signalOf(dep, 'dead', NOW - 50 * DAY)))!.id;
    await s.outbox.record(dead, { atMs: NOW - 50 * DAY, statusCode: 500, statusClass: '5xx', latencyMs: 1 }, { status: 'dead', error: 'HTTP 500' });
    const pending = (await s.outbox.enqueue(signalOf(dep, 'pending', NOW - 50 * DAY)))!.id;

    const cutoff = new Date(NOW - 30 * DAY).toISOString();
    assert.equal(await s.outbox.pruneDelivered(cutoff, 2), 2);
    assert.equal(await s.outbox.get(delivered[0]!), undefined, 'oldest first');
    assert.deepEqual(await s.outbox.attemptsOf(delivered[0]!), []);
    assert.ok(await s.outbox.get(delivered[2]!));
    assert.equal(await s.outbox.pruneDelivered(cutoff, 2), 1);
    assert.equal(await s.outbox.pruneDelivered(cutoff, 2), 0);
    assert.deepEqual((await s.outbox.ofDeployment(dep)).map((x) => x.id).sort(), [recent, dead, pending].sort());
    assert.equal((await s.outbox.attemptsOf(dead)).length, 1);
  });
}

function deliveriesContract(store: Open): void {
  it('remembers which deployment a delivery started, keeps the first, forgets it after retention', async () => {
    const [one, two] = [await store(), await store()];
    const [first, second] = [await deployment(one), await deployment(one, 'staging')];
    assert.equal(await one.gateDeliveries.seen('github', 'd-1'), undefined);
    await one.gateDeliveries.record('github', 'd-1', first, NOW - 40 * DAY);
    assert.deepEqual(await two.gateDeliveries.seen('github', 'd-1'), { deploymentId: first }, 'seen by another replica');
    await two.gateDeliveries.record('github', 'd-1', second, NOW - 40 * DAY);
    assert.deepEqual(await one.gateDeliveries.seen('github', 'd-1'), { deploymentId: first }, 'a redelivery keeps the first');

    await one.gateDeliveries.record('github', 'd-2', second, NOW - 35 * DAY);
    assert.equal(await one.gateDeliveries.prune(NOW - 6 * DAY), 1, 'd-1 is past 30 days then; d-2 not yet');
    assert.equal(await one.gateDeliveries.seen('github', 'd-1'), undefined);
    assert.deepEqual(await one.gateDeliveries.seen('github', 'd-2'), { deploymentId: second });
    // Recording forgets what is past retention too.
    await two.gateDeliveries.record('github', 'd-3', second, NOW);
    assert.equal(await one.gateDeliveries.seen('github', 'd-2'), undefined);
    assert.deepEqual(await one.gateDeliveries.seen('github', 'd-3'), { deploymentId: second });
    assert.equal(await one.gateDeliveries.prune(NOW), 0);
  });
}
