import type Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { MIGRATIONS } from './migrations.ts';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';

/**
 * Key of the advisory lock replicas take to migrate PostgreSQL one at a time:
 * any constant no other user of the database takes ('smok' in ASCII).
 */
const MIGRATION_LOCK = 0x736d6f6b;

/** A database a newer smoke has written: this one cannot know what its data means. */
function newer(applied: number, known: number): Error {
  return new Error(`the database was written by a newer smoke (schema ${applied}, this one knows ${known}): upgrade this smoke, or point it at another database`);
}

/**
 * Applies SQLite's pending migrations in one `BEGIN IMMEDIATE` transaction:
 * the version is read under the write lock, so two processes opening one
 * file do not both migrate, and a failed migration leaves the file as it was.
 */
export function migrateSqlite(db: Database.Database): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const applied = db.pragma('user_version', { simple: true }) as number;
    if (applied > MIGRATIONS.length) throw newer(applied, MIGRATIONS.length);
    for (let i = applied; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]!);
    if (applied !== MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/**
 * Applies PostgreSQL's pending migrations in one transaction holding an
 * advisory lock, so replicas starting at once migrate exactly once: the
 * others wait for the lock and then find nothing left to do.
 */
export async function migratePostgres(db: Kysely<unknown>): Promise<void> {
  // Up to date already (every start but the first after an upgrade): nothing to write, nothing to
  // lock, and a database that only takes reads (a standby) still opens.
  const current = await appliedPostgres(db);
  if (current > POSTGRES_MIGRATIONS.length) throw newer(current, POSTGRES_MIGRATIONS.length);
  if (current === POSTGRES_MIGRATIONS.length) return;
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK)})`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS smoke_schema (version INTEGER NOT NULL)`.execute(trx);
    const { rows } = await sql<{ version: number }>`SELECT version FROM smoke_schema`.execute(trx);
    const applied = rows[0]?.version ?? 0;
    if (applied > POSTGRES_MIGRATIONS.length) throw newer(applied, POSTGRES_MIGRATIONS.length);
    // Without parameters pg sends a query as one simple-protocol message, which may hold several statements.
    for (let i = applied; i < POSTGRES_MIGRATIONS.length; i++) await sql.raw(POSTGRES_MIGRATIONS[i]!).execute(trx);
    if (rows.length === 0) await sql`INSERT INTO smoke_schema (version) VALUES (${POSTGRES_MIGRATIONS.length})`.execute(trx);
    else if (applied !== POSTGRES_MIGRATIONS.length) await sql`UPDATE smoke_schema SET version = ${POSTGRES_MIGRATIONS.length}`.execute(trx);
  });
}

/** The schema version a PostgreSQL database has: 0 before smoke's first start on it. */
async function appliedPostgres(db: Kysely<unknown>): Promise<number> {
  try {
    const { rows } = await sql<{ version: number }>`SELECT version FROM smoke_schema`.execute(db);
    return rows[0]?.version ?? 0;
  } catch (err) {
    if ((err as { code?: unknown }).code === UNDEFINED_TABLE) return 0;
    throw err;
  }
}

const UNDEFINED_TABLE = '42P01';
