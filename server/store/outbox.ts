import type { Kysely, Selectable } from 'kysely';
import type { SignalEvent } from '../signals/config.ts';
import type { Outbox } from '../signals/outbox.ts';
import type { AttemptRecord, SignalRecord, SignalStatus, StatusClass } from '../signals/records.ts';
import { affected, skipLocked, type Engine } from './engine.ts';
import { reading, writing } from './faults.ts';
import { newId } from './ids.ts';
import type { Schema, SignalAttemptsTable, SignalsTable } from './schema.ts';
import { step, transaction } from './transaction.ts';

type SignalRow = Selectable<SignalsTable>;

/** The signal outbox's queries, the same on both engines but for PostgreSQL's row locks. */
export function createOutboxStore(db: Kysely<Schema>, engine: Engine): Outbox {
  const byId = (id: string) => db.selectFrom('signals').selectAll().where('id', '=', id).executeTakeFirst();

  return {
    enqueue: (signal) =>
      writing('queue the signal', async () => {
        const row = await db
          .insertInto('signals')
          .values({
            id: newId('msg'),
            deployment_id: signal.deploymentId,
            webhook: signal.webhook,
            event: signal.event,
            payload: signal.payload,
            status: 'pending',
            attempts: 0,
            next_attempt_at: signal.nowMs,
            expires_at: signal.expiresAtMs,
            created_at: new Date(signal.nowMs).toISOString(),
          })
          .onConflict((oc) => oc.columns(['deployment_id', 'webhook', 'event']).doNothing())
          .returningAll()
          .executeTakeFirst();
        return row && toSignal(row);
      }),

    get: (id) =>
      reading('read the signal', async () => {
        const row = await byId(id);
        return row && withPayload(row);
      }),

    attemptsOf: (id) =>
      reading('read the signal attempts', async () =>
        (await db.selectFrom('signal_attempts').selectAll().where('signal_id', '=', id).orderBy('attempt').execute()).map(toAttempt),
      ),

    claimDue: (nowMs, limit, leaseMs) =>
      writing('claim due signals', async () => {
        // One statement: the rows are picked and leased together, so two replicas
        // never take one signal (PostgreSQL skips rows another claim holds;
        // SQLite's statement holds the only write lock).
        const rows = await db
          .updateTable('signals')
          .set({ next_attempt_at: nowMs + leaseMs })
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('signals')
              .select('id')
              .where('status', '=', 'pending')
              .where('next_attempt_at', '<=', nowMs)
              .orderBy('next_attempt_at')
              .orderBy('id')
              .limit(limit)
              .$call(skipLocked(engine)),
          )
          .returningAll()
          .execute();
        return rows.sort(byCreation).map(withPayload);
      }),

    nextDueAtMs: () =>
      reading('read the next signal attempt', async () => {
        const row = await db
          .selectFrom('signals')
          .select((eb) => eb.fn.min('next_attempt_at').as('next'))
          .where('status', '=', 'pending')
          .executeTakeFirst();
        return row?.next == null ? undefined : Number(row.next);
      }),

    record: (id, attempt, then) =>
      writing('record the signal attempt', () =>
        transaction(db, engine, function* (db) {
          const at = new Date(attempt?.atMs ?? Date.now()).toISOString();
          // The update comes first: it takes the row's lock before the attempt
          // number is read from it, so two replicas recording at once number
          // their attempts one after the other.
          const { rows } = yield* step(
            db
              .updateTable('signals')
              .set((eb) => ({
                attempts: eb('attempts', '+', attempt ? 1 : 0),
                status: then.status,
                next_attempt_at: then.status === 'pending' ? then.nextAttemptAtMs : eb.ref('next_attempt_at'),
                last_error: then.error ?? null,
                delivered_at: then.status === 'delivered' ? at : eb.ref('delivered_at'),
              }))
              .where('id', '=', id)
              .where('status', '=', 'pending')
              .returning('attempts'),
          );
          const updated = rows[0];
          if (!updated || !attempt) return;
          yield* step(
            db.insertInto('signal_attempts').values({
              signal_id: id,
              attempt: Number(updated.attempts),
              started_at: at,
              status_code: attempt.statusCode ?? null,
              status_class: attempt.statusClass,
              latency_ms: Math.round(attempt.latencyMs),
              error: attempt.error ?? null,
            }),
          );
        }),
      ),

    list: ({ status, limit }) =>
      reading('list signals', async () =>
        (
          await db
            .selectFrom('signals')
            .selectAll()
            .$if(status !== undefined, (q) => q.where('status', '=', status!))
            .orderBy('created_at', 'desc')
            .orderBy('id', 'desc')
            .limit(limit)
            .execute()
        ).map(toSignal),
      ),

    ofDeployment: (deploymentId) =>
      reading('read the signals of the deployment', async () =>
        (await db.selectFrom('signals').selectAll().where('deployment_id', '=', deploymentId).orderBy('created_at').orderBy('id').execute()).map(
          toSignal,
        ),
      ),

    redeliver: (id, nowMs, expiresAtMs) =>
      writing('redeliver the signal', async () => {
        const result = await db
          .updateTable('signals')
          .set({ status: 'pending', next_attempt_at: nowMs, expires_at: expiresAtMs, last_error: null })
          .where('id', '=', id)
          .where('status', 'in', ['dead', 'rejected'])
          .executeTakeFirst();
        return affected(result) === 1;
      }),

    pendingCount: () =>
      reading('count pending signals', async () => {
        const row = await db
          .selectFrom('signals')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('status', '=', 'pending')
          .executeTakeFirstOrThrow();
        return Number(row.n);
      }),

    has: (deploymentId, webhook, event) =>
      reading('read the signal', async () => {
        const row = await db
          .selectFrom('signals')
          .select('id')
          .where('deployment_id', '=', deploymentId)
          .where('webhook', '=', webhook)
          .where('event', '=', event)
          .executeTakeFirst();
        return row !== undefined;
      }),

    pruneDelivered: (before, limit) =>
      writing('prune delivered signals', () =>
        transaction(db, engine, function* (db) {
          // Oldest first, a batch at a time; on PostgreSQL locked, so a signal
          // whose attempts this batch deletes cannot change under it.
          const { rows } = yield* step(
            db
              .selectFrom('signals')
              .select('id')
              .where('status', '=', 'delivered')
              .where((eb) => eb(eb.fn.coalesce('delivered_at', 'created_at'), '<', before))
              .orderBy('created_at')
              .orderBy('id')
              .limit(limit)
              .$call(skipLocked(engine)),
          );
          const ids = rows.map((r) => r.id);
          if (ids.length === 0) return 0;
          yield* step(db.deleteFrom('signal_attempts').where('signal_id', 'in', ids));
          return Number((yield* step(db.deleteFrom('signals').where('id', 'in', ids))).numAffectedRows);
        }),
      ),
  };
}

/** Oldest first: a claimed batch is attempted in the order its signals were raised. */
const byCreation = (a: SignalRow, b: SignalRow) => (a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1);

const withPayload = (row: SignalRow): SignalRecord & { payload: string } => ({ ...toSignal(row), payload: row.payload });

function toSignal(row: SignalRow): SignalRecord {
  return {
    id: row.id,
    deploymentId: row.deployment_id,
    webhook: row.webhook,
    event: row.event as SignalEvent,
    status: row.status as SignalStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: new Date(Number(row.next_attempt_at)).toISOString(),
    expiresAt: new Date(Number(row.expires_at)).toISOString(),
    createdAt: row.created_at,
    ...(row.delivered_at != null && { deliveredAt: row.delivered_at }),
    ...(row.last_error != null && { lastError: row.last_error }),
  };
}

function toAttempt(row: Selectable<SignalAttemptsTable>): AttemptRecord {
  return {
    attempt: Number(row.attempt),
    at: row.started_at,
    ...(row.status_code != null && { statusCode: Number(row.status_code) }),
    statusClass: row.status_class as StatusClass,
    latencyMs: Number(row.latency_ms),
    ...(row.error != null && { error: row.error }),
  };
}
