import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Schema } from './schema.ts';
import { bindSqliteHandle } from './transaction.ts';

/** PostgreSQL connections each replica keeps at most: a few runs, the HTTP API and the background loops share them. */
const POOL_SIZE = 10;
/** How long a query waits for a connection (or to connect) before it fails, ms: a server that is down says so quickly. */
const CONNECT_TIMEOUT_MS = 5_000;
/** How long one statement may take, ms, on the server and on the client: a server that stops answering never hangs a request. */
const STATEMENT_TIMEOUT_MS = 30_000;
/** How long an idle connection is kept, ms. */
const IDLE_TIMEOUT_MS = 30_000;

/** PostgreSQL type OIDs read as JS numbers: int8 (counts, BIGINT epoch ms, `seq`) and numeric. Both stay far below 2^53 here. */
const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** SQLite through better-sqlite3: the raw handle is kept for migrations, which run before Kysely takes it. */
export function connectSqlite(file: string): { db: Kysely<Schema>; raw: Database.Database } {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const raw = new Database(file);
  try {
    raw.pragma('journal_mode = WAL');
    // FULL, not NORMAL: a verdict acknowledged to a pipeline must survive a power cut.
    raw.pragma('synchronous = FULL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
  } catch (err) {
    raw.close();
    throw err;
  }
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: raw }) });
  bindSqliteHandle(db, raw);
  return { db, raw };
}

/**
 * A pool of PostgreSQL connections. Numbers are parsed per pool, not through
 * the global `pg.types`, so nothing else in the process changes. An idle
 * or checked-out connection's error (the server restarting) is handed to `onIdleError`:
 * unhandled, the pool would throw it as an 'error' event and end the process;
 * the pool drops that connection and the next query opens a new one.
 */
export function connectPostgres(url: string, onIdleError: (err: Error) => void = () => undefined): { db: Kysely<Schema>; pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    // The client's own limit, a little later than the server's: a server that vanished without closing the socket.
    query_timeout: STATEMENT_TIMEOUT_MS + CONNECT_TIMEOUT_MS,
    application_name: 'smoke',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID || oid === NUMERIC_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', onIdleError);
  // A connection checked out when the server goes away (a transaction between two statements)
  // also emits 'error', outside any query, where the pool's own listener is not attached:
  // without this one it would end the process. The query in progress rejects as usual.
  pool.on('connect', (client) => client.on('error', onIdleError));
  return { db: new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) }), pool };
}

/** The URL as logs and errors may show it: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL pg could have parsed either; it is never quoted, in case it holds a password.
    return 'postgres://(an unparsable URL)';
  }
}
