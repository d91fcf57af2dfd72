import { sql, type RawBuilder, type SelectQueryBuilder } from 'kysely';

/** The database behind the store: SQLite (one replica, embedded) or PostgreSQL (any number of replicas). */
export type Engine = 'sqlite' | 'postgres';

/**
 * Locks the rows a claim's subquery picks and skips rows another replica's
 * claim holds, on PostgreSQL. SQLite has no row locks (and no FOR UPDATE
 * syntax): its single writer already serialises claims. Use with `$call`.
 */
export function skipLocked(engine: Engine) {
  return <QB extends SelectQueryBuilder<any, any, any>>(query: QB): QB => (engine === 'postgres' ? (query.forUpdate().skipLocked() as QB) : query);
}

/**
 * Now in epoch milliseconds, for leases: the database's clock on PostgreSQL,
 * so replicas whose clocks disagree still agree on when a lease runs out;
 * this process's clock on SQLite, where every writer is on one machine.
 * `clock_timestamp()`, not `now()`: `now()` is frozen at the transaction's start.
 */
export function nowMs(engine: Engine): RawBuilder<number> {
  return engine === 'postgres' ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint` : sql<number>`${Date.now()}`;
}

/** True when an insert hit a unique or primary key (SQLite's `SQLITE_CONSTRAINT_UNIQUE`/`_PRIMARYKEY`, PostgreSQL's 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

type Counts = { numUpdatedRows?: bigint; numDeletedRows?: bigint; numInsertedOrUpdatedRows?: bigint; numAffectedRows?: bigint };

/** Rows an insert, update or delete touched, as a number: Kysely reports bigints, under a name per kind of statement. */
export function affected(result: Counts | readonly Counts[]): number {
  const results: readonly Counts[] = Array.isArray(result) ? result : [result as Counts];
  return results.reduce((sum, r) => sum + Number(r.numUpdatedRows ?? r.numDeletedRows ?? r.numInsertedOrUpdatedRows ?? r.numAffectedRows ?? 0n), 0);
}
