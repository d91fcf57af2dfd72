import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ServiceFault } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';
import { openStore } from './open.ts';

/** What only the SQLite store does: its file, and upgrading files older smokes wrote. The shared suite is store-contract.ts. */

const tempDb = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-store-')), 'nested', 'smoke.db');
const sqlite = (file: string) => ({ kind: 'sqlite' as const, file });

/** Back to the schema an older smoke left: `version` migrations applied, `undo` reverting the later ones. */
function rewind(file: string, version: number, undo: string): void {
  const raw = new Database(file);
  raw.exec(undo);
  raw.pragma(`user_version = ${version}`);
  raw.close();
}

/** Reverts migration 14 (leases, one open run per deployment). */
const UNDO_LEASES = `
  DROP INDEX runs_one_open; DROP INDEX runs_queue; DROP INDEX runs_lease;
  ALTER TABLE runs DROP COLUMN lease_expires_at;`;

describe('store on SQLite', () => {
  it('keeps runs stored before replicas were recorded, with no replica', async () => {
    const file = tempDb();
    const store = await openStore(sqlite(file));
    const { run } = await store.createDeployment({ service: 's', environment: 'canary', version: '1' });
    await store.markRunRunning(run!.id);
    await store.close();
    // Back to the schema before the replica column, as a database from an older smoke is,
    // without what later migrations made, so they run again on top.
    const before = MIGRATIONS.findIndex((m) => m.includes('ADD COLUMN replica'));
    rewind(file, before, `${UNDO_LEASES} ALTER TABLE runs DROP COLUMN replica; DROP INDEX runs_judged; DROP TABLE tick_claims;`);
    const upgraded = await openStore(sqlite(file));
    const stored = (await upgraded.getRun(run!.id))!;
    assert.equal(stored.status, 'running');
    assert.equal(stored.replica, undefined);
    await upgraded.close();
  });

  it('upgrades to leases: keeps the newest open run of a deployment, and leaves runs an older smoke was running to expire', async () => {
    const file = tempDb();
    const store = await openStore(sqlite(file));
    const { deployment, run: first } = await store.createDeployment({ service: 's', environment: 'canary', version: '1' });
    const running = (await store.createRun({ trigger: 'schedule', target: 'prod', environments: ['prod'] }))!;
    await store.markRunRunning(running.id, 'old-smoke');
    await store.close();
    const leases = MIGRATIONS.findIndex((m) => m.includes('lease_expires_at'));
    rewind(file, leases, UNDO_LEASES);
    // Before, nothing stopped a deployment from having two open runs.
    const raw = new Database(file);
    raw.prepare(
      `INSERT INTO runs (id, seq, deployment_id, trigger, target, environments_json, status, created_at)
       VALUES ('run_second', (SELECT MAX(seq) + 1 FROM runs), ?, 'deploy', 'canary', '["canary"]', 'queued', ?)`,
    ).run(deployment.id, new Date().toISOString());
    raw.close();

    const upgraded = await openStore(sqlite(file));
    try {
      const runs = await upgraded.runsOfDeployment(deployment.id);
      assert.deepEqual(runs.map((r) => [r.id, r.status]), [[first!.id, 'cancelled'], ['run_second', 'queued']]);
      assert.match(runs[0]!.note!, /newer run of its deployment/);
      assert.deepEqual((await upgraded.expireLeases()).map((r) => r.id), [running.id], 'nobody renews what the old smoke was running');
      assert.equal((await upgraded.claimNextRun('smoke-0', 60_000))?.id, 'run_second');
    } finally {
      await upgraded.close();
    }
  });

  it('opens an in-memory database', async () => {
    const store = await openStore(sqlite(':memory:'));
    await store.createDeployment({ service: 's', environment: 'canary', version: '1' });
    assert.equal((await store.listDeployments({ limit: 10 })).length, 1);
    assert.ok((await store.sizeBytes()) > 0);
    await store.close();
  });

  it('refuses a database written by a newer schema', async () => {
    const file = tempDb();
    await (await openStore(sqlite(file))).close();
    const raw = new Database(file);
    raw.pragma('user_version = 999');
    raw.close();
    await assert.rejects(
      openStore(sqlite(file)),
      (err: Error) => err instanceof ServiceFault && /cannot open the SQLite store/.test(err.message) && /newer smoke/.test(String((err.cause as Error).message)),
    );
  });
});
