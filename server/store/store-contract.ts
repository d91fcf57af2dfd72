import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FlowResult, Verdict } from '../verdict/types.ts';
import { openStore } from './open.ts';
import type { Store, StoreLocation } from './store.ts';

/**
 * What every engine's store must do alike: the shared suite the SQLite and
 * PostgreSQL tests both run. `fresh` gives an empty database per test; a
 * test that plays two replicas opens it twice. `raw` runs SQL on it behind
 * the store's back (a trigger that refuses updates).
 */
export interface ContractDatabase {
  fresh(): Promise<StoreLocation>;
  raw(location: StoreLocation, statements: string): Promise<void>;
}

const PASS: Verdict = { kind: 'pass', reasons: [], flaky: [] };
const FAIL: Verdict = { kind: 'fail', reasons: ['r'], failed: [] };
const LONG_LEASE_MS = 24 * 3600_000;
/** A lease that ran out the moment it was taken: expiry without waiting on a clock. */
const EXPIRED_LEASE_MS = -60_000;

const result = (environment: string, flow: string, outcome: FlowResult['outcome'], extra: Partial<FlowResult> = {}): FlowResult => ({
  environment,
  flow,
  file: `${flow}.spec.ts`,
  outcome,
  durationMs: 1000,
  retries: 0,
  artifacts: [],
  ...extra,
});

/** The trigger that refuses updates of deployments, per engine, and how to drop it. */
const REFUSE_DEPLOYMENT_UPDATES = {
  sqlite: [`CREATE TRIGGER refuse BEFORE UPDATE ON deployments BEGIN SELECT RAISE(ABORT, 'refused'); END`, 'DROP TRIGGER refuse'],
  postgres: [
    `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
     CREATE TRIGGER refuse BEFORE UPDATE ON deployments FOR EACH ROW EXECUTE FUNCTION refuse()`,
    'DROP TRIGGER refuse ON deployments; DROP FUNCTION refuse()',
  ],
} as const;

export function storeContract(engine: 'sqlite' | 'postgres', database: ContractDatabase): void {
  /** Opens `count` stores on one fresh database (replicas sharing it), and closes them after `use`. */
  async function withStores(count: number, use: (stores: Store[], location: StoreLocation) => Promise<void>): Promise<void> {
    const location = await database.fresh();
    const stores: Store[] = [];
    try {
      for (let i = 0; i < count; i++) stores.push(await openStore(location));
      await use(stores, location);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  }
  const withStore = (use: (store: Store, location: StoreLocation) => Promise<void>) => withStores(1, ([store], location) => use(store!, location));

  describe(`store contract on ${engine}`, () => {
    it('keeps deployments, runs, results and verdicts across a reopen', async () => {
      const location = await database.fresh();
      const store = await openStore(location);
      assert.equal(store.kind, engine);
      const { deployment, run } = await store.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version: '1.0.0' });
      assert.ok(run);
      assert.deepEqual(run.environments, ['canary', 'production']);
      await store.markRunRunning(run.id);
      await store.recordFlowResult(run.id, result('canary', 'f', 'failed', { durationMs: 12.6, retries: 2, error: 'boom' }));
      // A result recorded twice (a replayed report line) replaces, never duplicates.
      await store.recordFlowResult(run.id, result('canary', 'f', 'failed', { durationMs: 13, retries: 2, error: 'boom', line: 7, fault: 'browser', artifacts: [{ name: 'trace', path: 't.zip', contentType: 'application/zip' }] }));
      const verdict = { kind: 'fail' as const, reasons: ['r'], failed: [{ flow: 'f', environment: 'canary' }] };
      await store.finishRun(run.id, { status: 'done', verdict, outcome: { kind: 'completed' }, diagnostics: ['d'] });
      await store.finishDeployment(deployment.id, verdict);
      await store.close();

      const reopened = await openStore(location);
      try {
        const again = (await reopened.getDeployment(deployment.id))!;
        assert.equal(again.status, 'done');
        assert.deepEqual(again.verdict, verdict);
        const stored = (await reopened.getRun(run.id))!;
        assert.equal(stored.status, 'done');
        assert.deepEqual(stored.diagnostics, ['d']);
        assert.deepEqual(stored.outcome, { kind: 'completed' });
        assert.equal(stored.results.length, 1);
        assert.equal(stored.results[0]!.durationMs, 13);
        assert.equal(stored.results[0]!.line, 7);
        assert.equal(stored.results[0]!.fault, 'browser');
        assert.equal(stored.results[0]!.artifacts.length, 1);
      } finally {
        await reopened.close();
      }
    });

    it('returns the existing deployment for a known idempotency key', () =>
      withStore(async (store) => {
        const first = await store.createDeployment({ idempotencyKey: 'k', service: 's', environment: 'canary', version: '1' });
        const second = await store.createDeployment({ idempotencyKey: 'k', service: 's', environment: 'canary', version: '1' });
        assert.equal(first.created, true);
        assert.equal(second.created, false);
        assert.equal(second.deployment.id, first.deployment.id);
        assert.equal(second.run, undefined);
        assert.equal((await store.listRuns({ limit: 10 })).length, 1);
        assert.equal((await store.getDeploymentByKey('k'))?.id, first.deployment.id);
        assert.equal(await store.getDeploymentByKey('other'), undefined);
      }));

    it('creates one deployment when replicas race with one idempotency key', () =>
      withStores(2, async ([one, two]) => {
        for (const key of ['a', 'b', 'c']) {
          const input = { idempotencyKey: key, service: 's', environment: 'canary', version: '1' };
          const results = await Promise.all([one!, two!, one!, two!].map((s) => s.createDeployment(input)));
          assert.equal(results.filter((r) => r.created).length, 1, `one created for key ${key}`);
          assert.equal(new Set(results.map((r) => r.deployment.id)).size, 1);
        }
        assert.equal((await one!.listRuns({ limit: 10 })).length, 3, 'one run per deployment');
      }));

    it('never finishes a run or deployment twice', () =>
      withStore(async (store) => {
        const { deployment, run } = await store.createDeployment({ service: 's', environment: 'canary', version: '1' });
        await store.finishRun(run!.id, { status: 'cancelled', note: 'first' });
        await store.finishRun(run!.id, { status: 'done', note: 'second' });
        assert.equal((await store.getRun(run!.id))!.note, 'first');
        await store.finishDeployment(deployment.id, undefined, 'dep_newer');
        await store.finishDeployment(deployment.id, PASS);
        assert.equal((await store.getDeployment(deployment.id))!.verdict, undefined);
        assert.equal((await store.getDeployment(deployment.id))!.supersededBy, 'dep_newer');
      }));

    it('settles a run and its deployment in one transaction: both or neither', () =>
      withStore(async (store, location) => {
        const { deployment, run } = await store.createDeployment({ service: 'shop', environment: 'canary', version: '1' });
        await store.markRunRunning(run!.id);
        assert.equal((await store.getDeployment(deployment.id))!.status, 'running', 'starting the run starts its deployment');
        const verdict = { kind: 'inconclusive' as const, cause: 'service' as const, reasons: ['r'] };
        const settlement = { run: { id: run!.id, end: { status: 'done' as const, verdict } }, deployment: { id: deployment.id, verdict } };
        const [refuse, allow] = REFUSE_DEPLOYMENT_UPDATES[engine];
        await database.raw(location, refuse);
        await assert.rejects(store.settle(settlement), /refused/);
        assert.equal((await store.getRun(run!.id))!.status, 'running', 'the run is not finished without its deployment');
        await database.raw(location, allow);
        assert.deepEqual(await store.settle(settlement), { run: true, deployment: true });
        assert.deepEqual(await store.settle(settlement), { run: false, deployment: false }, 'a second ending changes nothing');
        assert.deepEqual((await store.getDeployment(deployment.id))!.verdict, verdict);
      }));

    it('lists deployments newest first, also within one millisecond, filtered by environment and verdict', () =>
      withStore(async (store) => {
        const created = [];
        for (let i = 0; i < 12; i++) created.push((await store.createDeployment({ service: 's', environment: i % 2 ? 'canary' : 'staging', version: String(i) })).deployment);
        assert.deepEqual((await store.listDeployments({ limit: 100 })).map((d) => d.version), created.map((d) => d.version).reverse());
        assert.deepEqual((await store.listDeployments({ environment: 'canary', limit: 2 })).map((d) => d.version), ['11', '9']);
        await store.finishDeployment(created[3]!.id, FAIL);
        assert.deepEqual((await store.listDeployments({ verdict: 'fail', limit: 10 })).map((d) => d.version), ['3']);
        assert.equal((await store.listDeployments({ verdict: 'pending', limit: 100 })).length, 11);
        assert.deepEqual((await store.openDeployments()).map((d) => d.version), created.filter((d) => d.version !== '3').map((d) => d.version));
        assert.deepEqual((await store.latestDeployments()).map((d) => [d.environment, d.version]).sort(), [['canary', '11'], ['staging', '10']]);
      }));

    it('lists runs newest first, by any environment they touched', () =>
      withStore(async (store) => {
        await store.createDeployment({ service: 's', environment: 'canary', baseline: 'production', version: '1' });
        await store.createDeployment({ service: 's', environment: 'staging', version: '2' });
        await store.createRun({ trigger: 'schedule', target: 'prod_eu', environments: ['prod_eu'] });
        assert.deepEqual((await store.listRuns({ limit: 10 })).map((r) => r.target), ['prod_eu', 'staging', 'canary']);
        assert.deepEqual((await store.listRuns({ environment: 'production', limit: 10 })).map((r) => r.target), ['canary']);
        // `_` is a LIKE wildcard; the filter must not treat it as one.
        assert.deepEqual(await store.listRuns({ environment: 'prod-eu', limit: 10 }), []);
        assert.deepEqual((await store.listRuns({ environment: 'prod_eu', limit: 10 })).map((r) => r.target), ['prod_eu']);
      }));

    it("finds a schedule's newest ended run, not one still going", () =>
      withStore(async (store) => {
        assert.equal(await store.lastFinishedRunOfSchedule('nightly'), undefined);
        const older = (await store.createRun({ trigger: 'schedule', target: 'canary', environments: ['canary'], schedule: 'nightly' }))!;
        const newer = (await store.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'], schedule: 'nightly' }))!;
        await store.createRun({ trigger: 'schedule', target: 'canary', environments: ['canary'], schedule: 'hourly' });
        await store.finishRun(older.id, { status: 'done', verdict: PASS });
        await store.finishRun(newer.id, { status: 'interrupted', note: 'shut down' });
        await store.createRun({ trigger: 'schedule', target: 'canary', environments: ['canary'], schedule: 'nightly' });
        assert.equal((await store.lastFinishedRunOfSchedule('nightly'))?.id, newer.id);
        assert.equal(await store.lastFinishedRunOfSchedule('hourly'), undefined);
        assert.deepEqual((await store.listRuns({ schedule: 'nightly', limit: 10 })).length, 3);
      }));

    it('names the replica that started a run, and no replica before it starts', () =>
      withStore(async (store) => {
        const { run } = await store.createDeployment({ service: 's', environment: 'canary', version: '1' });
        assert.equal((await store.getRun(run!.id))!.replica, undefined);
        await store.markRunRunning(run!.id, 'smoke-0');
        // Only a queued run is started: a second start, by this or another replica, changes nothing.
        await store.markRunRunning(run!.id, 'smoke-1');
        assert.equal((await store.getRun(run!.id))!.replica, 'smoke-0');
        const other = (await store.createRun({ trigger: 'schedule', target: 'canary', environments: ['canary'], schedule: 'nightly' }))!;
        await store.finishRun(other.id, { status: 'cancelled', note: 'never started' });
        assert.deepEqual((await store.listRuns({ limit: 10 })).map((r) => [r.id, r.replica]), [[other.id, undefined], [run!.id, 'smoke-0']]);
        assert.equal((await store.runsOfDeployment(run!.deploymentId!))[0]!.replica, 'smoke-0');
        assert.deepEqual((await store.openRuns()).map((r) => r.id), [run!.id]);
      }));

    it('gives each cron tick to the first replica that claims it, and prunes old claims in batches', () =>
      withStores(2, async ([one, two]) => {
        const slot = '2030-01-01T00:00:00.000Z';
        const later = '2030-01-01T00:01:00.000Z';
        assert.equal(await one!.claimTick('nightly', slot, 'replica-1'), true);
        assert.equal(await two!.claimTick('nightly', slot, 'replica-2'), false, 'taken through the other store');
        assert.equal(await one!.claimTick('nightly', slot, 'replica-1'), false, 'a claim is taken once, even by its owner');
        assert.equal(await two!.claimTick('hourly', slot, 'replica-2'), true, 'another schedule');
        assert.equal(await two!.claimTick('nightly', later), true, 'another slot');
        const raced = await Promise.all([one!, two!, one!, two!].map((s, i) => s.claimTick('race', slot, `replica-${i}`)));
        assert.equal(raced.filter(Boolean).length, 1, 'concurrent claims: one wins');
        assert.equal(await one!.retention.pruneTickClaims(later, 1), 1, 'a batch stops at its limit');
        assert.equal(await one!.retention.pruneTickClaims(later, 10), 2);
        assert.equal(await one!.retention.pruneTickClaims(later, 10), 0, 'a claim of the slot itself is kept');
        assert.equal(await two!.claimTick('nightly', later), false);
      }));

    it('claims queued runs deploys first, then manual, then scheduled, oldest first within each', () =>
      withStore(async (store) => {
        const scheduled = (await store.createRun({ trigger: 'schedule', target: 'prod', environments: ['prod'], schedule: 'nightly' }))!;
        const manual = (await store.createRun({ trigger: 'manual', target: 'prod', environments: ['prod'] }))!;
        const { deployment, run: deploy } = await store.createDeployment({ service: 's', environment: 'canary', version: '1' });
        const manual2 = (await store.createRun({ trigger: 'manual', target: 'prod', environments: ['prod'] }))!;
        const claimed = [];
        for (let i = 0; i < 4; i++) claimed.push((await store.claimNextRun('smoke-0', LONG_LEASE_MS))?.id);
        assert.deepEqual(claimed, [deploy!.id, manual.id, manual2.id, scheduled.id]);
        assert.equal(await store.claimNextRun('smoke-0', LONG_LEASE_MS), undefined, 'nothing left');
        const run = (await store.getRun(deploy!.id))!;
        assert.equal(run.status, 'running');
        assert.equal(run.replica, 'smoke-0');
        assert.ok(run.startedAt);
        const started = (await store.getDeployment(deployment.id))!;
        assert.equal(started.status, 'running', 'its deployment runs with it');
        assert.equal(started.startedAt, run.startedAt);
      }));

    it('never gives one run to two replicas, however many claim at once', () =>
      withStores(2, async ([one, two]) => {
        const queued = [];
        for (let i = 0; i < 10; i++) queued.push((await one!.createRun({ trigger: 'schedule', target: `t${i}`, environments: [`t${i}`] }))!.id);
        const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? two! : one!).claimNextRun(`replica-${i % 2}`, LONG_LEASE_MS)));
        const taken = claims.filter((r) => r !== undefined).map((r) => r.id);
        assert.equal(taken.length, 10, 'every queued run taken, none twice');
        assert.deepEqual([...taken].sort(), [...queued].sort());
        assert.equal(claims.filter((r) => r === undefined).length, 10);
        for (const run of claims.filter((r) => r !== undefined)) assert.equal((await one!.getRun(run.id))!.replica, run.replica);
      }));

    it('keeps one open run per deployment: createRun writes nothing while one is queued or running', () =>
      withStores(2, async ([one, two]) => {
        const { deployment, run } = await one!.createDeployment({ service: 's', environment: 'canary', version: '1' });
        const again = { deploymentId: deployment.id, trigger: 'deploy' as const, target: 'canary', environments: ['canary'] };
        assert.equal(await two!.createRun(again), undefined, 'queued');
        await one!.claimNextRun('replica-1', LONG_LEASE_MS);
        assert.equal(await two!.createRun(again), undefined, 'running');
        await one!.finishRun(run!.id, { status: 'interrupted', note: 'stopped' });
        const resumed = await Promise.all([one!.createRun(again), two!.createRun(again), one!.createRun(again)]);
        assert.equal(resumed.filter((r) => r !== undefined).length, 1, 'two replicas resuming it at once start one run');
        assert.equal((await one!.runsOfDeployment(deployment.id)).length, 2);
        // Runs without a deployment are never limited.
        assert.ok(await one!.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'] }));
        assert.ok(await one!.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'] }));
      }));

    it('renews a lease only for the replica holding it, and says when its deployment ended elsewhere', () =>
      withStores(2, async ([one, two]) => {
        const { deployment, run } = await one!.createDeployment({ service: 's', environment: 'canary', version: '1' });
        await one!.claimNextRun('replica-1', LONG_LEASE_MS);
        assert.deepEqual(await one!.renewLease(run!.id, 'replica-1', LONG_LEASE_MS), { held: true, deploymentDone: false });
        assert.deepEqual(await two!.renewLease(run!.id, 'replica-2', LONG_LEASE_MS), { held: false }, 'another replica holds nothing');
        // A newer deploy, posted to the other replica, supersedes this one.
        const newer = await two!.createDeployment({ service: 's', environment: 'canary', version: '2' });
        await two!.finishDeployment(deployment.id, undefined, newer.deployment.id);
        assert.deepEqual(await one!.renewLease(run!.id, 'replica-1', LONG_LEASE_MS), { held: true, deploymentDone: true, supersededBy: newer.deployment.id });
        await one!.finishRun(run!.id, { status: 'cancelled', note: 'superseded' });
        assert.deepEqual(await one!.renewLease(run!.id, 'replica-1', LONG_LEASE_MS), { held: false }, 'an ended run holds no lease');

        const scheduled = (await one!.createRun({ trigger: 'schedule', target: 'prod', environments: ['prod'] }))!;
        await one!.markRunRunning(scheduled.id, 'replica-1', LONG_LEASE_MS);
        assert.deepEqual(await one!.renewLease(scheduled.id, 'replica-1', LONG_LEASE_MS), { held: true, deploymentDone: false }, 'a run without a deployment');
      }));

    it('expires leases that ran out, each run to exactly one replica, and leaves its deployment to be resumed', () =>
      withStores(2, async ([one, two]) => {
        const lost = await one!.createDeployment({ service: 's', environment: 'canary', version: '1' });
        const kept = await one!.createDeployment({ service: 's', environment: 'staging', version: '1' });
        assert.deepEqual(await one!.orphanedDeployments(), [], 'queued runs are nobody’s orphans');
        assert.equal((await one!.claimNextRun('replica-1', EXPIRED_LEASE_MS))?.id, lost.run!.id);
        assert.equal((await two!.claimNextRun('replica-2', LONG_LEASE_MS))?.id, kept.run!.id);
        assert.deepEqual(await one!.renewLease(lost.run!.id, 'replica-1', LONG_LEASE_MS), { held: false }, 'a lease that ran out is lost, noticed or not');

        const expired = (await Promise.all([one!.expireLeases(), two!.expireLeases(), two!.expireLeases(), one!.expireLeases()])).flat();
        assert.deepEqual(expired.map((r) => r.id), [lost.run!.id], 'returned once across replicas');
        const run = (await one!.getRun(lost.run!.id))!;
        assert.equal(run.status, 'interrupted');
        assert.ok(run.finishedAt);
        assert.equal(run.note, 'replica replica-1 stopped renewing its lease (it crashed, was killed or lost the database)');
        assert.equal(expired[0]!.note, run.note);
        assert.equal((await one!.getRun(kept.run!.id))!.status, 'running', 'a held lease stays');
        assert.deepEqual(await one!.expireLeases(), []);

        assert.deepEqual((await two!.orphanedDeployments()).map((d) => d.id), [lost.deployment.id]);
        const resumed = await two!.createRun({ deploymentId: lost.deployment.id, trigger: 'deploy', target: 'canary', environments: ['canary'] });
        assert.ok(resumed);
        assert.deepEqual(await one!.orphanedDeployments(), []);
        assert.equal((await one!.claimNextRun('replica-1', LONG_LEASE_MS))?.id, resumed.id);
      }));

    it('never expires a run started without a lease (a test driving the store by hand)', () =>
      withStore(async (store) => {
        const run = (await store.createRun({ trigger: 'manual', target: 'prod', environments: ['prod'] }))!;
        await store.markRunRunning(run.id, 'replica-1');
        assert.deepEqual(await store.expireLeases(), []);
        assert.deepEqual(await store.renewLease(run.id, 'replica-1', LONG_LEASE_MS), { held: true, deploymentDone: false });
      }));

    it('finds the newest deployment of each environment', () =>
      withStore(async (store) => {
        await store.createDeployment({ service: 'shop', environment: 'canary', version: '1.0.0' });
        await store.createDeployment({ service: 'shop', environment: 'production', version: '0.9.0' });
        await store.createDeployment({ service: 'shop', environment: 'canary', version: '1.1.0' });
        assert.deepEqual((await store.latestDeployments()).map((d) => [d.environment, d.version]).sort(), [
          ['canary', '1.1.0'],
          ['production', '0.9.0'],
        ]);
      }));

    it('gives per target and trigger the last judged run and the last pass', () =>
      withStore(async (store) => {
        const passed = (await store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] }))!;
        await store.finishRun(passed.id, { status: 'done', verdict: PASS });
        const failed = (await store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] }))!;
        await store.finishRun(failed.id, { status: 'done', verdict: FAIL });
        // Never judged: not a run that happened, as far as these times go.
        const cancelled = (await store.createRun({ trigger: 'manual', target: 'production', environments: ['production'] }))!;
        await store.finishRun(cancelled.id, { status: 'cancelled', note: 'n' });
        const other = (await store.createRun({ trigger: 'deploy', target: 'canary', environments: ['canary'] }))!;
        await store.finishRun(other.id, { status: 'done', verdict: FAIL });
        assert.deepEqual(await store.lastFinishedRuns(), [
          { target: 'canary', trigger: 'deploy', finishedAt: (await store.getRun(other.id))!.finishedAt! },
          { target: 'production', trigger: 'schedule', finishedAt: (await store.getRun(failed.id))!.finishedAt!, passedAt: (await store.getRun(passed.id))!.finishedAt! },
        ]);
      }));

    it("lists the flows of each environment's newest run with results, with their newest decisive outcome", () =>
      withStore(async (store) => {
        const first = (await store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] }))!;
        await store.recordFlowResult(first.id, result('production', 'checkout', 'failed'));
        await store.recordFlowResult(first.id, result('production', 'renamed-away', 'passed'));
        await store.recordFlowResult(first.id, result('production', 'storefront', 'passed'));
        const second = (await store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] }))!;
        // Errored this time: the newest thing known about whether it works is the earlier failure.
        await store.recordFlowResult(second.id, result('production', 'checkout', 'error'));
        await store.recordFlowResult(second.id, result('production', 'storefront', 'flaky'));
        await store.recordFlowResult(second.id, result('production', 'new-and-skipped', 'skipped'));
        // A later run that never reached this environment's flows (unreachable) changes nothing.
        await store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] });
        assert.deepEqual(await store.latestFlowOutcomes(), [
          { environment: 'production', flow: 'checkout', outcome: 'failed' },
          { environment: 'production', flow: 'new-and-skipped' },
          { environment: 'production', flow: 'storefront', outcome: 'flaky' },
        ]);
      }));

    it('answers readiness: ping, a write probe, and its size', () =>
      withStore(async (store) => {
        await store.ping();
        await store.probeWrite();
        await store.probeWrite();
        assert.ok((await store.sizeBytes()) > 0);
      }));
  });
}
