import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql, SqliteDialect, type Generated, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { startPostgres, type Postgres } from './postgres.ts';

/**
 * A spike for issue 7: one store, two engines, through Kysely. It pins down
 * what differs between SQLite (better-sqlite3) and PostgreSQL (pg) before the
 * store is written against both: migrations, transactions, `returning`, JSON,
 * dates, 64-bit counts, and PostgreSQL's row claim with SKIP LOCKED.
 */

type Engine = 'sqlite' | 'postgres';

interface JobTable {
  id: Generated<number>;
  name: string;
  state: 'queued' | 'claimed';
  /** JSON text on both engines: written as a string, read back as text (SQLite) or parsed (PostgreSQL jsonb). */
  details: string | Record<string, unknown>;
  /** ISO-8601 UTC text on both: sorts as it reads, and binds on both drivers (better-sqlite3 refuses a Date). */
  created_at: string;
}

interface Schema {
  job: JobTable;
}

/** Migrations kept in code, not read from a folder: the service ships as one bundle. */
function migrations(engine: Engine): MigrationProvider {
  const all: Record<string, Migration> = {
    '0001_job': {
      up: async (db) => {
        await db.schema
          .createTable('job')
          .addColumn('id', 'integer', (c) => (engine === 'postgres' ? c.generatedAlwaysAsIdentity() : c.autoIncrement()).primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull().defaultTo('queued'))
          .addColumn('details', engine === 'postgres' ? 'jsonb' : 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0002_job_state_index': {
      up: async (db) => {
        await db.schema.createIndex('job_state').on('job').columns(['state', 'id']).execute();
      },
    },
  };
  return { getMigrations: async () => all };
}

async function migrate(db: Kysely<Schema>, engine: Engine): Promise<string[]> {
  // migrateToLatest does not throw: a failure is in `error`, and must be checked.
  const { error, results } = await new Migrator({ db, provider: migrations(engine) }).migrateToLatest();
  if (error) throw new Error(`migrations failed on ${engine}`, { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

const AT = '2026-12-02T10:00:00.000Z';

/** What both engines must do the same way. */
function sharedBehaviour(engine: Engine, open: () => Kysely<Schema>) {
  test(`${engine}: migrates, inserts in a transaction with returning, reads back`, async () => {
    const db = open();
    assert.deepEqual(await migrate(db, engine), ['0001_job', '0002_job_state_index']);
    assert.deepEqual(await migrate(db, engine), [], 'a second run has nothing to do');

    const ids = await db.transaction().execute(async (trx) => {
      const rows = await trx
        .insertInto('job')
        .values(['a', 'b', 'c'].map((name) => ({ name, state: 'queued' as const, details: JSON.stringify({ name, tags: ['x'] }), created_at: AT })))
        .returning('id')
        .execute();
      return rows.map((r) => r.id);
    });
    assert.deepEqual(ids, [1, 2, 3], 'identity ids come back as numbers on both');

    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('job').values({ name: 'rolled back', state: 'queued', details: '{}', created_at: AT }).execute();
        throw new Error('abort');
      }),
      /abort/,
    );
    const rows = await db.selectFrom('job').selectAll().orderBy('id').execute();
    assert.deepEqual(rows.map((r) => r.name), ['a', 'b', 'c'], 'the rolled-back insert is gone');

    const details = rows[0]!.details;
    // The one JSON difference: jsonb comes back parsed, SQLite text as text.
    assert.equal(typeof details, engine === 'postgres' ? 'object' : 'string');
    assert.deepEqual(typeof details === 'string' ? JSON.parse(details) : details, { name: 'a', tags: ['x'] });
    assert.equal(rows[0]!.created_at, AT, 'ISO text round-trips unchanged');

    const { count } = await db.selectFrom('job').select((eb) => eb.fn.countAll().as('count')).executeTakeFirstOrThrow();
    // count(*) is a bigint on PostgreSQL, which pg returns as a string: convert with Number() in the store.
    assert.equal(count, engine === 'postgres' ? '3' : 3);
    await db.destroy();
  });
}

describe('Kysely on SQLite (better-sqlite3)', () => {
  let folder: string;
  before(() => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'smoke-kysely-'));
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  sharedBehaviour('sqlite', () => new Kysely<Schema>({ dialect: new SqliteDialect({ database: new Database(path.join(folder, 'store.db')) }) }));

  test('sqlite: better-sqlite3 binds neither Date nor boolean, and has no FOR UPDATE', async () => {
    const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: new Database(path.join(folder, 'other.db')) }) });
    await migrate(db, 'sqlite');
    await assert.rejects(
      db.insertInto('job').values({ name: 'd', state: 'queued', details: '{}', created_at: new Date() as unknown as string }).execute(),
      /can only bind numbers, strings, bigints, buffers, and null/,
    );
    await assert.rejects(sql`select ${true} as yes`.execute(db), /can only bind numbers, strings, bigints, buffers, and null/);
    await assert.rejects(db.selectFrom('job').selectAll().forUpdate().skipLocked().execute(), /syntax error/);
    await db.destroy();
  });
});

describe('Kysely on PostgreSQL (pg)', () => {
  let server: Postgres;
  const opened: Kysely<Schema>[] = [];
  const open = (url = server.url) => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    // Unhandled, an idle client's error (its server shutting down, even while the pool is
    // closing it) is thrown from the pool as an 'error' event and ends the process.
    pool.on('error', () => undefined);
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    opened.push(db);
    return db;
  };
  before(async () => {
    server = await startPostgres({ database: 'spike' });
  });
  after(async () => {
    // destroy() twice is harmless: the shared test already destroyed its own.
    await Promise.all(opened.map((db) => db.destroy().catch(() => undefined)));
    await server?.stop();
  });

  sharedBehaviour('postgres', () => open());

  test('postgres: two transactions claiming with FOR UPDATE SKIP LOCKED get different rows', async () => {
    const db = open();
    const claim = (trx: Kysely<Schema>) =>
      trx.selectFrom('job').select('id').where('state', '=', 'queued').orderBy('id').limit(1).forUpdate().skipLocked().executeTakeFirst();

    // A holds its claimed row locked until B has claimed too: the two overlap for certain.
    let bClaimed!: () => void;
    const bDone = new Promise<void>((resolve) => (bClaimed = resolve));
    let aClaimed!: () => void;
    const aDone = new Promise<void>((resolve) => (aClaimed = resolve));

    const a = db.transaction().execute(async (trx) => {
      const row = await claim(trx);
      aClaimed();
      await bDone;
      if (row) await trx.updateTable('job').set({ state: 'claimed' }).where('id', '=', row.id).execute();
      return row?.id;
    });
    const b = (async () => {
      await aDone;
      return db.transaction().execute(async (trx) => {
        const row = await claim(trx);
        bClaimed();
        if (row) await trx.updateTable('job').set({ state: 'claimed' }).where('id', '=', row.id).execute();
        return row?.id;
      });
    })();
    const [idA, idB] = await Promise.all([a, b]);
    assert.equal(idA, 1);
    assert.equal(idB, 2, 'B skipped the row A holds');
    const queued = await db.selectFrom('job').select('id').where('state', '=', 'queued').execute();
    assert.deepEqual(queued, [{ id: 3 }]);
  });

  test('postgres: a Date binds and a timestamptz comes back as a Date, in UTC', async () => {
    const db = open();
    const at = new Date(AT);
    const row = await sql<{ at: Date; text: string }>`select ${at}::timestamptz as at, ${at}::timestamptz::text as text`.execute(db);
    assert.ok(row.rows[0]!.at instanceof Date);
    assert.equal(row.rows[0]!.at.toISOString(), AT);
    assert.equal(row.rows[0]!.text, '2026-12-02 10:00:00+00', 'the test server runs in UTC');
  });

  test('postgres: replicas starting at once each run the migrator; every migration runs once', async () => {
    for (const round of [1, 2, 3]) {
      const url = await server.createDatabase(`replicas_${round}`);
      const replicas = [open(url), open(url), open(url)];
      const applied = await Promise.all(replicas.map((db) => migrate(db, 'postgres')));
      assert.deepEqual(applied.flat().sort(), ['0001_job', '0002_job_state_index'], `round ${round}: ${JSON.stringify(applied)}`);
      const recorded = await replicas[0]!.selectFrom(sql<{ name: string }>`kysely_migration`.as('m')).select('name').orderBy('name').execute();
      assert.deepEqual(recorded.map((r) => r.name), ['0001_job', '0002_job_state_index']);
    }
  });
});
