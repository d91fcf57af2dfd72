import type Database from 'better-sqlite3';
import type { CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Engine } from './engine.ts';
import type { Schema } from './schema.ts';

/** A query a transaction runs: a Kysely builder, or a `sql` template compiled with `.compile(db)`. */
export type Step = { compile(): CompiledQuery } | CompiledQuery;

/**
 * A transaction's body: a generator that yields each query and gets its
 * result back (`const { rows } = yield* step(query)`), so the same body runs
 * synchronously on SQLite and with awaits on PostgreSQL. Queries are built on
 * the store's `db` and only compiled here; build nothing else with side effects.
 */
export type TransactionBody<T> = (db: Kysely<Schema>) => Generator<Step, T, QueryResult<unknown>>;

/** Runs one query inside a transaction body and types its rows. */
export function* step<R>(query: { compile(): CompiledQuery<R> } | CompiledQuery<R>): Generator<Step, QueryResult<R>, QueryResult<unknown>> {
  return (yield query) as QueryResult<R>;
}

/** The better-sqlite3 handle behind each SQLite store's Kysely instance. */
const sqliteHandles = new WeakMap<Kysely<Schema>, Database.Database>();

/** Tells `transaction` which better-sqlite3 handle a SQLite Kysely instance uses. */
export function bindSqliteHandle(db: Kysely<Schema>, raw: Database.Database): void {
  sqliteHandles.set(db, raw);
}

/**
 * Runs `body` in one transaction: all of it or none of it.
 *
 * On SQLite the whole body runs synchronously on better-sqlite3 under
 * `BEGIN IMMEDIATE`, never yielding to the event loop while it holds the
 * write lock. Kysely's own transactions await between statements: another
 * connection to the same file in this process (two stores in one test, a
 * tool next to the service) would then block the event loop in its busy
 * wait, and the transaction holding the lock could never finish. Use this,
 * never `db.transaction()`, for the store's transactions on either engine.
 */
export async function transaction<T>(db: Kysely<Schema>, engine: Engine, body: TransactionBody<T>): Promise<T> {
  if (engine === 'sqlite') {
    const raw = sqliteHandles.get(db);
    if (!raw) throw new Error('transaction() needs the SQLite store made by connectSqlite');
    // Through Kysely's one SQLite connection, so no query of this store runs in the middle.
    return db.connection().execute(async () => raw.transaction(() => drive(body(db), (query) => runSync(raw, compiled(query)))).immediate());
  }
  return db.transaction().execute(async (trx) => {
    const steps = body(db);
    let next = steps.next();
    while (!next.done) next = steps.next(await trx.executeQuery(compiled(next.value)));
    return next.value;
  });
}

function drive<T>(steps: Generator<Step, T, QueryResult<unknown>>, run: (query: Step) => QueryResult<unknown>): T {
  let next = steps.next();
  while (!next.done) next = steps.next(run(next.value));
  return next.value;
}

function compiled(query: Step): CompiledQuery {
  return 'compile' in query ? query.compile() : query;
}

/** What Kysely's SQLite driver does, synchronously. */
function runSync(raw: Database.Database, query: CompiledQuery): QueryResult<unknown> {
  const statement = raw.prepare(query.sql);
  const parameters = query.parameters as unknown[];
  if (statement.reader) {
    const rows = statement.all(...parameters);
    return { rows, numAffectedRows: BigInt(rows.length) };
  }
  const { changes, lastInsertRowid } = statement.run(...parameters);
  return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
}
