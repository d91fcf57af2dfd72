import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import type { Engine } from './engine.ts';
import type { Schema } from './schema.ts';
import { step, transaction } from './transaction.ts';

/** Bytes /readyz writes and deletes: a few pages, so a database that cannot grow says so. Random, so PostgreSQL cannot compress them away. */
const PROBE_BYTES = 8 * 1024;

/** What readiness and the size gauge ask of the database. `file` is SQLite's, absent on PostgreSQL. */
export function createHealth(db: Kysely<Schema>, engine: Engine, file?: string) {
  return {
    ping: async (): Promise<void> => {
      await sql`SELECT 1`.execute(db);
    },
    probeWrite: (): Promise<void> =>
      transaction(db, engine, function* (db) {
        yield* step(db.insertInto('write_probe').values({ payload: randomBytes(PROBE_BYTES) }));
        yield* step(db.deleteFrom('write_probe'));
      }),
    sizeBytes: async (): Promise<number> => {
      if (engine === 'postgres') {
        const { rows } = await sql<{ size: number }>`SELECT pg_database_size(current_database()) AS size`.execute(db);
        return Number(rows[0]!.size);
      }
      const { rows } = await sql<{ size: number }>`SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()`.execute(db);
      // The WAL holds committed pages not yet copied into the file: they take disk too.
      return rows[0]!.size + (file && file !== ':memory:' ? fileSize(`${file}-wal`) : 0);
    },
  };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // No WAL right now (checkpointed and removed at close).
  }
}
