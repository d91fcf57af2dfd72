import type Database from 'better-sqlite3';
import { writing } from './faults.ts';

/**
 * Claims on cron ticks, so a tick runs on one replica however many share the
 * store: each replica's cron fires the same slot, and the first to insert
 * (schedule, slot) wins. Plain SQL, so the PostgreSQL store can keep it as is.
 */
export interface TickClaims {
  /**
   * True when this call took the tick (schedule, slot), false when another
   * replica (or an earlier call) already had. `slot` is the tick's scheduled
   * time as ISO UTC, so every replica names the same tick the same way.
   * Raises `StoreUnavailable` when the store cannot write.
   */
  claim(schedule: string, slot: string, replica?: string): boolean;
  /** Deletes up to `limit` claims of slots before `before` (ISO); returns how many. */
  prune(before: string, limit: number): number;
}

export function createTickClaims(db: Database.Database): TickClaims {
  const q = {
    claim: db.prepare(
      `INSERT INTO tick_claims (schedule, slot, replica, claimed_at) VALUES (@schedule, @slot, @replica, @now)
       ON CONFLICT (schedule, slot) DO NOTHING`,
    ),
    // Oldest first through tick_claims_slot, a batch at a time.
    prune: db.prepare(
      `DELETE FROM tick_claims WHERE (schedule, slot) IN (
         SELECT schedule, slot FROM tick_claims WHERE slot < @before ORDER BY slot LIMIT @limit)`,
    ),
  };
  return {
    claim: (schedule, slot, replica) =>
      writing('claim the schedule tick', () => q.claim.run({ schedule, slot, replica: replica ?? null, now: new Date().toISOString() }).changes > 0),
    prune: (before, limit) => writing('prune old tick claims', () => q.prune.run({ before, limit }).changes),
  };
}
