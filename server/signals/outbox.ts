import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { SignalEvent } from './config.ts';
import type { AttemptRecord, SignalRecord, SignalStatus, StatusClass } from './records.ts';

export interface NewSignal {
  readonly deploymentId: string;
  readonly webhook: string;
  readonly event: SignalEvent;
  /** The exact body every attempt sends and signs. */
  readonly payload: string;
  readonly nowMs: number;
  readonly expiresAtMs: number;
}

export interface AttemptResult {
  readonly atMs: number;
  readonly statusCode?: number;
  readonly statusClass: StatusClass;
  readonly latencyMs: number;
  readonly error?: string;
}

/** What an attempt leads to: delivered, given up, or tried again at `nextAttemptAtMs`. */
export type Transition =
  | { readonly status: 'delivered' | 'rejected' | 'dead'; readonly error?: string }
  | { readonly status: 'pending'; readonly nextAttemptAtMs: number; readonly error?: string };

/**
 * The signal outbox in SQLite. A signal is written here, in its final signed
 * form, before its first attempt; each attempt and its consequence are
 * written in one transaction. A signal exists at most once per deployment,
 * webhook and event: whatever re-runs, nothing is sent twice.
 */
export interface Outbox {
  /** Returns the new signal, or undefined when that deployment already has it. */
  enqueue(signal: NewSignal): SignalRecord | undefined;
  get(id: string): (SignalRecord & { payload: string }) | undefined;
  attemptsOf(id: string): AttemptRecord[];
  due(nowMs: number, limit: number): (SignalRecord & { payload: string })[];
  /** Epoch ms of the earliest pending attempt. */
  nextDueAtMs(): number | undefined;
  /** Writes an attempt (none when the signal is given up without one) and what follows from it, together. */
  record(id: string, attempt: AttemptResult | undefined, then: Transition): void;
  list(filter: { status?: SignalStatus; limit: number }): SignalRecord[];
  ofDeployment(deploymentId: string): SignalRecord[];
  /** Makes a dead or rejected signal pending again; false when it is not in such a state. */
  redeliver(id: string, nowMs: number, expiresAtMs: number): boolean;
  pendingCount(): number;
  has(deploymentId: string, webhook: string, event: SignalEvent): boolean;
  /**
   * Deletes, with their attempts, up to `limit` signals delivered before
   * `before` (ISO time); returns how many. Only delivered ones: a pending,
   * rejected or dead signal has not reached its receiver, and an operator may
   * still redeliver it.
   */
  pruneDelivered(before: string, limit: number): number;
}

type Row = Record<string, unknown>;

export function createOutbox(db: Database.Database): Outbox {
  const insert = db.prepare(
    `INSERT OR IGNORE INTO signals (id, deployment_id, webhook, event, payload, status, attempts, next_attempt_at, expires_at, created_at)
     VALUES (@id, @deploymentId, @webhook, @event, @payload, 'pending', 0, @now, @expiresAt, @createdAt)`,
  );
  const byId = db.prepare('SELECT * FROM signals WHERE id = ?');
  const insertAttempt = db.prepare(
    `INSERT INTO signal_attempts (signal_id, attempt, started_at, status_code, status_class, latency_ms, error)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const update = db.prepare(
    `UPDATE signals SET attempts = attempts + @tried, status = @status, next_attempt_at = @next, last_error = @error,
       delivered_at = CASE WHEN @status = 'delivered' THEN @at ELSE delivered_at END
     WHERE id = @id AND status = 'pending'`,
  );
  const record = db.transaction((id: string, attempt: AttemptResult | undefined, then: Transition) => {
    const row = byId.get(id) as Row | undefined;
    if (!row || row.status !== 'pending') return;
    const at = new Date(attempt?.atMs ?? Date.now()).toISOString();
    if (attempt) {
      insertAttempt.run(id, (row.attempts as number) + 1, at, attempt.statusCode ?? null, attempt.statusClass, Math.round(attempt.latencyMs), attempt.error ?? null);
    }
    update.run({
      id,
      tried: attempt ? 1 : 0,
      status: then.status,
      next: then.status === 'pending' ? then.nextAttemptAtMs : row.next_attempt_at,
      error: then.error ?? null,
      at,
    });
  });

  const prunable = db
    .prepare(`SELECT id FROM signals WHERE status = 'delivered' AND COALESCE(delivered_at, created_at) < ? ORDER BY rowid LIMIT ?`)
    .pluck();
  const deleteAttempts = db.prepare('DELETE FROM signal_attempts WHERE signal_id IN (SELECT value FROM json_each(?))');
  const deleteSignals = db.prepare('DELETE FROM signals WHERE id IN (SELECT value FROM json_each(?))');
  const pruneDelivered = db.transaction((before: string, limit: number) => {
    const ids = JSON.stringify(prunable.all(before, limit));
    deleteAttempts.run(ids);
    return deleteSignals.run(ids).changes;
  });

  return {
    enqueue(signal) {
      const id = `msg_${Date.now().toString(36)}${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      const result = insert.run({
        id,
        deploymentId: signal.deploymentId,
        webhook: signal.webhook,
        event: signal.event,
        payload: signal.payload,
        now: signal.nowMs,
        expiresAt: signal.expiresAtMs,
        createdAt: new Date(signal.nowMs).toISOString(),
      });
      return result.changes === 1 ? toSignal(byId.get(id) as Row) : undefined;
    },
    get(id) {
      const row = byId.get(id) as Row | undefined;
      return row ? { ...toSignal(row), payload: row.payload as string } : undefined;
    },
    attemptsOf: (id) =>
      (db.prepare('SELECT * FROM signal_attempts WHERE signal_id = ? ORDER BY attempt').all(id) as Row[]).map(toAttempt),
    due: (nowMs, limit) =>
      (
        db
          .prepare(`SELECT * FROM signals WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`)
          .all(nowMs, limit) as Row[]
      ).map((row) => ({ ...toSignal(row), payload: row.payload as string })),
    nextDueAtMs: () => {
      const row = db.prepare(`SELECT MIN(next_attempt_at) AS next FROM signals WHERE status = 'pending'`).get() as { next: number | null };
      return row.next ?? undefined;
    },
    record: (id, attempt, then) => record(id, attempt, then),
    list: ({ status, limit }) =>
      (
        (status
          ? db.prepare('SELECT * FROM signals WHERE status = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(status, limit)
          : db.prepare('SELECT * FROM signals ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit)) as Row[]
      ).map(toSignal),
    ofDeployment: (deploymentId) =>
      (db.prepare('SELECT * FROM signals WHERE deployment_id = ? ORDER BY created_at, rowid').all(deploymentId) as Row[]).map(toSignal),
    redeliver: (id, nowMs, expiresAtMs) =>
      db
        .prepare(
          `UPDATE signals SET status = 'pending', next_attempt_at = ?, expires_at = ?, last_error = NULL
           WHERE id = ? AND status IN ('dead', 'rejected')`,
        )
        .run(nowMs, expiresAtMs, id).changes === 1,
    pendingCount: () => (db.prepare(`SELECT COUNT(*) AS n FROM signals WHERE status = 'pending'`).get() as { n: number }).n,
    has: (deploymentId, webhook, event) =>
      db.prepare('SELECT 1 FROM signals WHERE deployment_id = ? AND webhook = ? AND event = ?').get(deploymentId, webhook, event) !== undefined,
    pruneDelivered: (before, limit) => pruneDelivered(before, limit),
  };
}

function toSignal(row: Row): SignalRecord {
  return {
    id: row.id as string,
    deploymentId: row.deployment_id as string,
    webhook: row.webhook as string,
    event: row.event as SignalEvent,
    status: row.status as SignalStatus,
    attempts: row.attempts as number,
    nextAttemptAt: new Date(row.next_attempt_at as number).toISOString(),
    expiresAt: new Date(row.expires_at as number).toISOString(),
    createdAt: row.created_at as string,
    ...(row.delivered_at != null && { deliveredAt: row.delivered_at as string }),
    ...(row.last_error != null && { lastError: row.last_error as string }),
  };
}

function toAttempt(row: Row): AttemptRecord {
  return {
    attempt: row.attempt as number,
    at: row.started_at as string,
    ...(row.status_code != null && { statusCode: row.status_code as number }),
    statusClass: row.status_class as StatusClass,
    latencyMs: row.latency_ms as number,
    ...(row.error != null && { error: row.error as string }),
  };
}
