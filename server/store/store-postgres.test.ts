import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ServiceFault, StoreUnavailable } from '../errors.ts';
import { startPostgres, type Postgres } from '../testing/postgres.ts';
import { openStore } from './open.ts';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';
import { storeContract } from './store-contract.ts';
import type { StoreLocation } from './store.ts';

/** How long a request may wait on a PostgreSQL that is down before it must have failed, ms: the pool's connect timeout and then some. */
const DOWN_FAILS_WITHIN_MS = 15_000;

let server: Postgres;
let databases = 0;
before(async () => {
  server = await startPostgres({ database: 'store' });
});
after(async () => {
  await server?.stop();
});

const fresh = async (): Promise<StoreLocation> => ({ kind: 'postgres', url: await server.createDatabase(`store_${++databases}`) });

async function raw(url: string, statements: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(statements)).rows;
  } finally {
    await client.end();
  }
}

storeContract('postgres', {
  fresh,
  raw: async (location, statements) => {
    if (location.kind !== 'postgres') throw new Error('a PostgreSQL location');
    await raw(location.url, statements);
  },
});

describe('store on PostgreSQL', () => {
  it('migrates once when replicas start at once, and opens a migrated database as it is', async () => {
    const location = await fresh();
    const stores = await Promise.all([openStore(location), openStore(location), openStore(location)]);
    await Promise.all(stores.map((s) => s.close()));
    const url = (location as { url: string }).url;
    assert.deepEqual(await raw(url, 'SELECT version FROM smoke_schema'), [{ version: POSTGRES_MIGRATIONS.length }]);
    const again = await openStore(location);
    await again.close();
    assert.deepEqual(await raw(url, 'SELECT version FROM smoke_schema'), [{ version: POSTGRES_MIGRATIONS.length }]);
  });

  it('refuses a database written by a newer smoke', async () => {
    const location = await fresh();
    await (await openStore(location)).close();
    await raw((location as { url: string }).url, 'UPDATE smoke_schema SET version = 999');
    await assert.rejects(openStore(location), (err: Error) => err instanceof ServiceFault && /cannot open the PostgreSQL store/.test(err.message) && /newer smoke/.test((err.cause as Error).message));
  });

  it('names where it is without the password, in its location and its errors', async () => {
    const url = new URL((await fresh() as { url: string }).url);
    // The test server trusts loopback connections: the password is sent to nobody, only carried.
    url.password = 's3cret-pass';
    const store = await openStore({ kind: 'postgres', url: url.toString() });
    assert.equal(store.kind, 'postgres');
    assert.match(store.location, /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/store_\d+$/);
    await store.close();
    url.pathname = '/no_such_database';
    const refused = await openStore({ kind: 'postgres', url: url.toString() }).then(
      () => assert.fail('opened a database that does not exist'),
      (err: Error) => err,
    );
    assert.match(refused.message, /cannot open the PostgreSQL store at postgres:\/\/postgres:\*\*\*@/);
    assert.doesNotMatch(JSON.stringify({ message: refused.message, cause: String(refused.cause), stack: refused.stack }), /s3cret-pass/);
  });

  it('refuses writes with StoreUnavailable on a read-only database, and still reads', async () => {
    const location = await fresh();
    const url = (location as { url: string }).url;
    const writable = await openStore(location);
    const { deployment } = await writable.createDeployment({ service: 's', environment: 'canary', version: '1' });
    await writable.close();
    await raw(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET default_transaction_read_only = on`);
    // An up-to-date schema is only read at start-up: a read-only database opens, for reads.
    const store = await openStore(location);
    try {
      await assert.rejects(store.createDeployment({ service: 's', environment: 'canary', version: '2' }), (err: Error) => err instanceof StoreUnavailable && /record the deployment/.test(err.message));
      await assert.rejects(store.probeWrite(), StoreUnavailable);
      await assert.rejects(store.claimTick('nightly', '2030-01-01T00:00:00.000Z'), StoreUnavailable);
      assert.equal((await store.getDeployment(deployment.id))?.id, deployment.id);
    } finally {
      await store.close();
    }
  });

  it('rejects reads and writes with StoreUnavailable while PostgreSQL is down, and works again once it is back', async () => {
    const store = await openStore(await fresh());
    try {
      const { deployment } = await store.createDeployment({ service: 's', environment: 'canary', version: '1' });
      await server.stopServer('immediate');
      const started = Date.now();
      await assert.rejects(store.getDeployment(deployment.id), (err: Error) => err instanceof StoreUnavailable && /read the deployment/.test(err.message));
      await assert.rejects(store.createDeployment({ service: 's', environment: 'canary', version: '2' }), StoreUnavailable);
      await assert.rejects(store.ping(), StoreUnavailable);
      await assert.rejects(store.probeWrite(), StoreUnavailable);
      assert.ok(Date.now() - started < DOWN_FAILS_WITHIN_MS, `failed fast, not after a hang (${Date.now() - started} ms)`);
      await server.startServer();
      // The same store, never reopened: its pool connects again.
      assert.equal((await store.getDeployment(deployment.id))?.id, deployment.id);
      const { created } = await store.createDeployment({ service: 's', environment: 'canary', version: '2' });
      assert.equal(created, true);
      await store.ping();
    } finally {
      if (!server.running) await server.startServer();
      await store.close();
    }
  });

  it('has the same tables and columns as the SQLite store', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'smoke-schema-'));
    const file = path.join(folder, 'smoke.db');
    try {
      const location = await fresh();
      await (await openStore(location)).close();
      await (await openStore({ kind: 'sqlite', file })).close();
      const pool = new pg.Pool({ connectionString: (location as { url: string }).url, max: 1 });
      pool.on('error', () => undefined);
      const engines = { postgres: new Kysely({ dialect: new PostgresDialect({ pool }) }), sqlite: new Kysely({ dialect: new SqliteDialect({ database: new Database(file) }) }) };
      const shapes: Record<string, string[]> = {};
      for (const [engine, db] of Object.entries(engines)) {
        const tables = await db.introspection.getTables();
        shapes[engine] = tables
          // PostgreSQL's own bookkeeping: SQLite keeps its schema version in `user_version`.
          .filter((t) => t.name !== 'smoke_schema')
          // Nullability too, but for primary keys named `id`: SQLite lets a non-integer primary key hold NULL (a quirk it keeps for old files).
          .flatMap((t) => t.columns.map((c) => `${t.name}.${c.name}${c.isNullable && c.name !== 'id' ? '?' : ''}`))
          .sort();
        await db.destroy();
      }
      assert.ok(shapes.sqlite!.includes('runs.lease_expires_at?'));
      assert.deepEqual(shapes.postgres, shapes.sqlite);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
