import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { StoreUnavailable } from '../errors.ts';
import { startPostgres, type Postgres } from '../testing/postgres.ts';
import { openStore } from './open.ts';
import { sectionsContract } from './sections-contract.ts';

/** The side tables' contract on a real PostgreSQL: one server for the file, a new database per test. */
let server: Postgres;
let url: string;
let tests = 0;
before(async () => {
  server = await startPostgres({ database: 'sections' });
});
beforeEach(async () => {
  url = await server.createDatabase(`sections_${++tests}`);
});
after(async () => {
  await server?.stop();
});

sectionsContract('postgres', () => openStore({ kind: 'postgres', url }));

test('postgres: every section answers StoreUnavailable while the server is down, and works again once it is back, without reopening', async () => {
  const store = await openStore({ kind: 'postgres', url });
  try {
    const { deployment } = await store.createDeployment({ service: 'shop', environment: 'canary', version: '1.0.0' });
    await server.stopServer('immediate');
    const down = [
      store.outbox.claimDue(0, 10, 1000),
      store.outbox.pendingCount(),
      store.gateDeliveries.record('github', 'd-1', deployment.id, 0),
      store.githubStatuses.claimDue(0, 10, 1000),
      store.retention.kept(),
      store.retention.pruneRuns('2999-01-01T00:00:00.000Z', { runs: [], deployments: [] }, 10),
    ];
    for (const [i, call] of down.entries()) await assert.rejects(call, StoreUnavailable, `call ${i}`);
    await server.startServer();
    const signal = await store.outbox.enqueue({ deploymentId: deployment.id, webhook: 'w', event: 'deployment.rollback_requested', payload: '{}', nowMs: 0, expiresAtMs: 1 });
    assert.deepEqual((await store.outbox.claimDue(0, 10, 1000)).map((s) => s.id), [signal!.id]);
    assert.equal(await store.gateDeliveries.seen('github', 'd-1'), undefined, 'nothing was written while it was down');
  } finally {
    if (!server.running) await server.startServer();
    await store.close();
  }
});
