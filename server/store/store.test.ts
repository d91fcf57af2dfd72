import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.ts';
import { openStore } from './store.ts';

const tempDb = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-store-')), 'nested', 'smoke.db');

describe('store', () => {
  it('keeps deployments, runs, results and verdicts across a reopen of the file', () => {
    const file = tempDb();
    const store = openStore(file);
    const { deployment, run } = store.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version: '1.0.0' });
    assert.ok(run);
    assert.deepEqual(run.environments, ['canary', 'production']);
    store.markRunRunning(run.id);
    store.recordFlowResult(run.id, { environment: 'canary', flow: 'f', file: 'f.spec.ts', outcome: 'failed', durationMs: 12.6, retries: 2, error: 'boom', artifacts: [] });
    // A result recorded twice (a replayed report line) replaces, never duplicates.
    store.recordFlowResult(run.id, { environment: 'canary', flow: 'f', file: 'f.spec.ts', outcome: 'failed', durationMs: 13, retries: 2, error: 'boom', artifacts: [] });
    const verdict = { kind: 'fail' as const, reasons: ['r'], failed: [{ flow: 'f', environment: 'canary' }] };
    store.finishRun(run.id, { status: 'done', verdict, outcome: { kind: 'completed' } });
    store.finishDeployment(deployment.id, verdict);
    store.close();

    const reopened = openStore(file);
    const again = reopened.getDeployment(deployment.id)!;
    assert.equal(again.status, 'done');
    assert.deepEqual(again.verdict, verdict);
    const stored = reopened.getRun(run.id)!;
    assert.equal(stored.status, 'done');
    assert.equal(stored.results.length, 1);
    assert.equal(stored.results[0]!.durationMs, 13);
    reopened.close();
  });

  it('returns the existing deployment for a known idempotency key', () => {
    const store = openStore(tempDb());
    const first = store.createDeployment({ idempotencyKey: 'k', service: 's', environment: 'canary', version: '1' });
    const second = store.createDeployment({ idempotencyKey: 'k', service: 's', environment: 'canary', version: '1' });
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.deployment.id, first.deployment.id);
    assert.equal(second.run, undefined);
    assert.equal(store.listRuns({ limit: 10 }).length, 1);
  });

  it('never finishes a run or deployment twice', () => {
    const store = openStore(tempDb());
    const { deployment, run } = store.createDeployment({ service: 's', environment: 'canary', version: '1' });
    store.finishRun(run!.id, { status: 'cancelled', note: 'first' });
    store.finishRun(run!.id, { status: 'done', note: 'second' });
    assert.equal(store.getRun(run!.id)!.note, 'first');
    store.finishDeployment(deployment.id, undefined, 'dep_newer');
    store.finishDeployment(deployment.id, { kind: 'pass', reasons: [], flaky: [] });
    assert.equal(store.getDeployment(deployment.id)!.verdict, undefined);
    assert.equal(store.getDeployment(deployment.id)!.supersededBy, 'dep_newer');
  });

  it('lists runs newest first, by any environment they touched', () => {
    const store = openStore(tempDb());
    store.createDeployment({ service: 's', environment: 'canary', baseline: 'production', version: '1' });
    store.createDeployment({ service: 's', environment: 'staging', version: '2' });
    store.createRun({ trigger: 'schedule', target: 'prod_eu', environments: ['prod_eu'] });
    assert.deepEqual(store.listRuns({ limit: 10 }).map((r) => r.target), ['prod_eu', 'staging', 'canary']);
    assert.deepEqual(store.listRuns({ environment: 'production', limit: 10 }).map((r) => r.target), ['canary']);
    // `_` is a LIKE wildcard; the filter must not treat it as one.
    assert.deepEqual(store.listRuns({ environment: 'prod-eu', limit: 10 }), []);
  });

  it("finds a schedule's newest ended run, not one still going", () => {
    const store = openStore(':memory:');
    assert.equal(store.lastFinishedRunOfSchedule('nightly'), undefined);
    const older = store.createRun({ trigger: 'schedule', target: 'canary', environments: ['canary'], schedule: 'nightly' });
    const newer = store.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'], schedule: 'nightly' });
    store.createRun({ trigger: 'schedule', target: 'canary', environments: ['canary'], schedule: 'hourly' });
    store.finishRun(older.id, { status: 'done', verdict: { kind: 'pass', reasons: [], flaky: [] } });
    store.finishRun(newer.id, { status: 'interrupted', note: 'shut down' });
    store.createRun({ trigger: 'schedule', target: 'canary', environments: ['canary'], schedule: 'nightly' });
    assert.equal(store.lastFinishedRunOfSchedule('nightly')?.id, newer.id);
    assert.equal(store.lastFinishedRunOfSchedule('hourly'), undefined);
    store.close();
  });

  it('names the replica that started a run, and no replica before it starts', () => {
    const file = tempDb();
    const store = openStore(file);
    const { run } = store.createDeployment({ service: 's', environment: 'canary', version: '1' });
    assert.equal(store.getRun(run!.id)!.replica, undefined);
    store.markRunRunning(run!.id, 'smoke-0');
    // Only a queued run is claimed: a second start, by this or another replica, changes nothing.
    store.markRunRunning(run!.id, 'smoke-1');
    assert.equal(store.getRun(run!.id)!.replica, 'smoke-0');
    const other = store.createRun({ trigger: 'schedule', target: 'canary', environments: ['canary'], schedule: 'nightly' });
    store.finishRun(other.id, { status: 'cancelled', note: 'never started' });
    assert.deepEqual(store.listRuns({ limit: 10 }).map((r) => [r.id, r.replica]), [[other.id, undefined], [run!.id, 'smoke-0']]);
    assert.equal(store.runsOfDeployment(run!.deploymentId!)[0]!.replica, 'smoke-0');
    store.close();
    assert.equal(openStore(file).getRun(run!.id)!.replica, 'smoke-0');
  });

  it('keeps runs stored before replicas were recorded, with no replica', () => {
    const file = tempDb();
    const store = openStore(file);
    const { run } = store.createDeployment({ service: 's', environment: 'canary', version: '1' });
    store.markRunRunning(run!.id);
    store.close();
    // Back to the schema before the replica column, as a database from an older smoke is.
    const raw = new Database(file);
    const before = MIGRATIONS.findIndex((m) => m.includes('ADD COLUMN replica'));
    raw.exec('ALTER TABLE runs DROP COLUMN replica');
    // And what later migrations made, so they run again on top.
    raw.exec('DROP INDEX IF EXISTS runs_judged');
    raw.exec('DROP TABLE IF EXISTS tick_claims');
    raw.pragma(`user_version = ${before}`);
    raw.close();
    const upgraded = openStore(file);
    const stored = upgraded.getRun(run!.id)!;
    assert.equal(stored.status, 'running');
    assert.equal(stored.replica, undefined);
    upgraded.close();
  });

  it('gives each cron tick to the first of the connections sharing the file that claims it, and prunes old claims in batches', () => {
    const file = tempDb();
    const [one, two] = [openStore(file), openStore(file)];
    const slot = '2030-01-01T00:00:00.000Z';
    assert.equal(one.claimTick('nightly', slot, 'replica-1'), true);
    assert.equal(two.claimTick('nightly', slot, 'replica-2'), false, 'taken through the other connection');
    assert.equal(one.claimTick('nightly', slot, 'replica-1'), false, 'a claim is taken once, even by its owner');
    assert.equal(two.claimTick('hourly', slot, 'replica-2'), true, 'another schedule');
    assert.equal(two.claimTick('nightly', '2030-01-01T00:01:00.000Z'), true, 'another slot');
    assert.deepEqual(one.db.prepare('SELECT schedule, slot, replica FROM tick_claims ORDER BY slot, schedule').all(), [
      { schedule: 'hourly', slot, replica: 'replica-2' },
      { schedule: 'nightly', slot, replica: 'replica-1' },
      { schedule: 'nightly', slot: '2030-01-01T00:01:00.000Z', replica: null },
    ]);
    assert.equal(one.retention.pruneTickClaims('2030-01-01T00:01:00.000Z', 1), 1, 'a batch stops at its limit');
    assert.equal(one.retention.pruneTickClaims('2030-01-01T00:01:00.000Z', 10), 1);
    assert.equal(one.retention.pruneTickClaims('2030-01-01T00:01:00.000Z', 10), 0, 'a claim of the slot itself is kept');
    assert.equal(two.claimTick('nightly', '2030-01-01T00:01:00.000Z'), false);
    one.close();
    two.close();
  });

  it('refuses a database written by a newer schema', () => {
    const file = tempDb();
    openStore(file).close();
    const raw = new Database(file);
    raw.pragma('user_version = 999');
    raw.close();
    assert.throws(() => openStore(file), (err: Error) => /cannot open the SQLite store/.test(err.message) && /newer smoke/.test(String((err.cause as Error).message)));
  });
});
