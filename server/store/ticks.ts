import type { Kysely } from 'kysely';
import { affected } from './engine.ts';
import type { Schema } from './schema.ts';

/**
 * Claims on cron ticks, so a tick runs on one replica however many share the
 * store: each replica's cron fires the same slot, and the first to insert
 * (schedule, slot) wins. `slot` is the tick's scheduled time as ISO UTC, so
 * every replica names the same tick the same way. Retention prunes old claims.
 */
export function createTickClaims(db: Kysely<Schema>) {
  return async (schedule: string, slot: string, replica?: string): Promise<boolean> => {
    const result = await db
      .insertInto('tick_claims')
      .values({ schedule, slot, replica: replica ?? null, claimed_at: new Date().toISOString() })
      .onConflict((oc) => oc.columns(['schedule', 'slot']).doNothing())
      .executeTakeFirst();
    return affected(result) > 0;
  };
}
