import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoreLocation } from '../store/store.ts';
import { FAIL, judged, open, rig, rollbackConfig, SECRET, until, type Rig } from '../testing/signals-rig.ts';
import { startReceiver, type Receiver } from '../testing/webhook-receiver.ts';
import { LEASE_MARGIN_MS } from './signals.ts';

/**
 * Rollback signals delivered by several replicas sharing one store, each
 * signal exactly once: run on SQLite (`signals.test.ts`, two stores on one
 * file) and PostgreSQL (`signals-postgres.test.ts`). `fresh` gives a new
 * empty store's location per test.
 */
export function signalReplicasContract(engine: string, fresh: () => Promise<StoreLocation>): void {
  describe(`rollback signals across replicas sharing one store (${engine})`, () => {
    /** Replicas look for each other's signals this often in these tests, ms. */
    const POLL = 100;
    const deliveredIds = (receiver: Receiver) => receiver.received.map((x) => String(x.headers['webhook-id']));
    const allDelivered = (r: Rig, count: number) => async () => ((await r.signals.list({ status: 'delivered', limit: 100 })).length === count ? true : undefined);

    it('two replicas deliver each signal exactly once, whichever judged it', async () => {
      const receiver = await startReceiver(SECRET);
      open.receivers.push(receiver);
      const location = await fresh();
      const a = await rig(rollbackConfig(receiver.url), location, { pollMs: POLL });
      const b = await rig(rollbackConfig(receiver.url), location, { pollMs: POLL });
      a.signals.start();
      b.signals.start();
      await Promise.all(Array.from({ length: 12 }, (_, i) => judged(i % 2 ? a : b, FAIL, `1.0.${i}`)));
      await until('all delivered', allDelivered(a, 12));
      // A few more polls of both: nothing is sent again.
      await new Promise((res) => setTimeout(res, 4 * POLL));
      assert.equal(receiver.received.length, 12);
      assert.equal(new Set(deliveredIds(receiver)).size, 12);
      assert.ok(receiver.received.every((x) => x.verification.ok));
      assert.equal(a.metrics.attempts.length + b.metrics.attempts.length, 12);
    });

    it('a replica stopping mid-way finishes what it took, and the other delivers the rest, each once', async () => {
      const receiver = await startReceiver(SECRET);
      open.receivers.push(receiver);
      // The first answers are slow: the first replica is stopped with attempts under way.
      receiver.script.push(...Array.from({ length: 8 }, () => ({ status: 200, delayMs: 300 })));
      const location = await fresh();
      const a = await rig(rollbackConfig(receiver.url), location, { pollMs: POLL });
      const b = await rig(rollbackConfig(receiver.url), location, { pollMs: POLL });
      a.signals.start();
      const judging = Promise.all(Array.from({ length: 20 }, (_, i) => judged(a, FAIL, `2.0.${i}`)));
      await until('the first attempt under way', () => (receiver.received.length > 0 ? true : undefined));
      await a.signals.stop();
      await judging;
      const byA = a.metrics.attempts.length;
      assert.ok(byA > 0 && byA < 20, `the first replica made ${byA} attempts`);
      assert.deepEqual(a.metrics.attempts, Array(byA).fill('2xx'), 'what it took it finished');
      b.signals.start();
      await until('all delivered', allDelivered(b, 20));
      await new Promise((res) => setTimeout(res, 4 * POLL));
      assert.equal(receiver.received.length, 20);
      assert.equal(new Set(deliveredIds(receiver)).size, 20);
      assert.equal(b.metrics.attempts.length, 20 - byA);
    });

    it('a signal claimed by a replica killed mid-attempt waits out the lease, then another delivers it once', async () => {
      const receiver = await startReceiver(SECRET);
      open.receivers.push(receiver);
      const config = rollbackConfig(receiver.url);
      const location = await fresh();
      // Never started: it only judges, then "dies" holding the claim it took, without attempting.
      const dead = await rig(config, location);
      const deployment = await judged(dead);
      const leaseMs = config.attemptTimeoutSeconds * 1000 + LEASE_MARGIN_MS;
      assert.equal((await dead.store.outbox.claimDue(Date.now(), 10, leaseMs)).length, 1);
      let skewMs = 0;
      const other = await rig(config, location, { pollMs: POLL, now: () => Date.now() + skewMs });
      other.signals.start();
      await new Promise((res) => setTimeout(res, 4 * POLL));
      assert.equal(receiver.received.length, 0, 'not while the lease runs');
      // As if the lease had run out.
      skewMs = leaseMs;
      await until('delivered by the other replica', async () => ((await other.signals.ofDeployment(deployment.id))[0]?.status === 'delivered' ? true : undefined));
      await new Promise((res) => setTimeout(res, 4 * POLL));
      assert.equal(receiver.received.length, 1);
      assert.ok(receiver.received[0]!.verification.ok);
    });
  });
}
