import { sql, type Kysely } from 'kysely';
import type { RunRecord } from '../verification/records.ts';
import { nowMs, skipLocked, type Engine } from './engine.ts';
import { toRun } from './rows.ts';
import type { Schema } from './schema.ts';
import type { LeaseState } from './store.ts';
import { step, transaction } from './transaction.ts';

/** Deploys first, then manual runs, then scheduled ones: the expression of the index `runs_queue`, word for word. */
const PRIORITY = sql`CASE trigger WHEN 'deploy' THEN 0 WHEN 'manual' THEN 1 ELSE 2 END`;

const LEASE_LOST = " stopped renewing its lease (it crashed, was killed or lost the database)";

/**
 * The run queue shared by every replica, and the leases that say which
 * replica holds a running run. Lease times are epoch ms on the database's
 * clock where replicas share one (PostgreSQL): see `nowMs`.
 */
export function createLeases(db: Kysely<Schema>, engine: Engine) {
  const leaseUntil = (leaseMs: number) => sql<number>`${nowMs(engine)} + ${leaseMs}`;

  /** Starts the deployment of a run that just started, unless it is done already. */
  const startDeployment = (runId: string, at: string) =>
    db
      .updateTable('deployments')
      .set({ status: 'running', started_at: sql<string>`COALESCE(started_at, ${at})` })
      .where('id', '=', (eb) => eb.selectFrom('runs').select('deployment_id').where('id', '=', runId))
      .where('status', '<>', 'done');

  return {
    claimNextRun: (replica: string, leaseMs: number): Promise<RunRecord | undefined> =>
      transaction(db, engine, function* (db) {
        const at = new Date().toISOString();
        const { rows } = yield* step(
          db
            .updateTable('runs')
            .set({ status: 'running', started_at: at, replica, lease_expires_at: leaseUntil(leaseMs) })
            // One statement: the pick and the update cannot be split by another replica's claim.
            .where('id', '=', (eb) =>
              eb.selectFrom('runs as q').select('q.id').where('q.status', '=', 'queued').orderBy(PRIORITY).orderBy('q.seq').limit(1).$call(skipLocked(engine)),
            )
            .where('status', '=', 'queued')
            .returningAll(),
        );
        const run = rows[0];
        if (!run) return undefined;
        if (run.deployment_id !== null) yield* step(startDeployment(run.id, at));
        return toRun(run);
      }),

    markRunRunning: (id: string, replica?: string, leaseMs?: number): Promise<void> =>
      transaction(db, engine, function* (db) {
        const at = new Date().toISOString();
        yield* step(
          db
            .updateTable('runs')
            // Without a lease (a test driving the store by hand) the run never expires.
            .set({ status: 'running', started_at: at, replica: replica ?? null, lease_expires_at: leaseMs === undefined ? null : leaseUntil(leaseMs) })
            .where('id', '=', id)
            .where('status', '=', 'queued'),
        );
        yield* step(startDeployment(id, at));
      }),

    renewLease: async (runId: string, replica: string, leaseMs: number): Promise<LeaseState> => {
      const now = nowMs(engine);
      const renewed = await db
        .updateTable('runs')
        .set({ lease_expires_at: leaseUntil(leaseMs) })
        .where('id', '=', runId)
        .where('status', '=', 'running')
        .where('replica', '=', replica)
        // A lease that ran out is lost even before another replica noticed: the run may be resumed elsewhere.
        .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '>=', now)]))
        .returning('deployment_id')
        .executeTakeFirst();
      if (!renewed) return { held: false };
      if (renewed.deployment_id === null) return { held: true, deploymentDone: false };
      const deployment = await db.selectFrom('deployments').select(['status', 'superseded_by']).where('id', '=', renewed.deployment_id).executeTakeFirst();
      const supersededBy = deployment?.superseded_by ?? undefined;
      return { held: true, deploymentDone: deployment?.status === 'done', ...(supersededBy !== undefined && { supersededBy }) };
    },

    expireLeases: async (): Promise<RunRecord[]> => {
      const rows = await db
        .updateTable('runs')
        .set({
          status: 'interrupted',
          finished_at: new Date().toISOString(),
          note: sql<string>`'replica ' || COALESCE(replica, '(unknown)') || ${LEASE_LOST}`,
        })
        .where('status', '=', 'running')
        .where('lease_expires_at', '<', nowMs(engine))
        .returningAll()
        .execute();
      return rows.sort((a, b) => a.seq - b.seq).map(toRun);
    },
  };
}
