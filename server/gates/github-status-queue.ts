import type Database from 'better-sqlite3';
import type { CommitRef, CommitState, CommitStatus } from './github-status.ts';

/** Rows of deployments whose last status was posted or given up are kept this long, then forgotten. */
export const STATUS_RETENTION_MS = 30 * 86_400_000;

export type QueueStatus = 'queued' | 'posted' | 'failed';

/** The commit status a GitHub-gated deployment should show, and whether GitHub has it yet. */
export interface QueuedStatus extends CommitRef, CommitStatus {
  readonly deploymentId: string;
  readonly status: QueueStatus;
  /** Failed attempts at the current state. */
  readonly attempts: number;
  readonly nextAttemptAtMs: number;
  /** When the current state was asked for, epoch ms. */
  readonly updatedAtMs: number;
  /** Bumped whenever the state to show changes, so an attempt at an older one cannot mark a newer one done. */
  readonly revision: number;
  readonly lastError?: string;
}

/** What an attempt leads to, written only if the row still asks for the state that was attempted. */
export type StatusTransition =
  | { readonly status: 'posted' }
  | { readonly status: 'failed'; readonly error: string }
  | { readonly status: 'queued'; readonly nextAttemptAtMs: number; readonly error: string };

/**
 * One row per GitHub-gated deployment in the service's SQLite file, holding
 * the latest state to show: a verdict replaces a pending status not yet
 * posted (GitHub shows the newest status per context, so posting the stale
 * one after would be wrong), and a restart resumes what was not posted.
 */
export interface StatusQueue {
  /** Starts tracking a deployment's commit; false when it is tracked already. */
  track(deploymentId: string, commit: CommitRef, status: CommitStatus, nowMs: number): boolean;
  get(deploymentId: string): QueuedStatus | undefined;
  /** Asks for a new state; nothing changes when it is the state already asked for. False when untracked or unchanged. */
  change(deploymentId: string, status: CommitStatus, nowMs: number): boolean;
  due(nowMs: number, limit: number): QueuedStatus[];
  nextDueAtMs(): number | undefined;
  /** Rows still showing or about to show `pending`: the ones a crash may have left behind their verdict. */
  awaitingVerdict(limit: number): QueuedStatus[];
  record(deploymentId: string, revision: number, then: StatusTransition, nowMs: number): void;
  /** Forgets rows settled before retention; returns how many. */
  prune(nowMs: number): number;
}

type Row = Record<string, unknown>;

export function createStatusQueue(db: Database.Database): StatusQueue {
  const q = {
    insert: db.prepare(
      `INSERT OR IGNORE INTO github_statuses
         (deployment_id, repository, sha, environment, state, description, status, attempts, next_attempt_at, updated_at, revision)
       VALUES (@deploymentId, @repository, @sha, @environment, @state, @description, 'queued', 0, @now, @now, 1)`,
    ),
    get: db.prepare('SELECT * FROM github_statuses WHERE deployment_id = ?'),
    change: db.prepare(
      `UPDATE github_statuses
         SET state = @state, description = @description, status = 'queued', attempts = 0, next_attempt_at = @now,
             updated_at = @now, revision = revision + 1, last_error = NULL
       WHERE deployment_id = @deploymentId AND (state <> @state OR description <> @description)`,
    ),
    due: db.prepare(`SELECT * FROM github_statuses WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`),
    next: db.prepare(`SELECT MIN(next_attempt_at) FROM github_statuses WHERE status = 'queued'`).pluck(),
    awaitingVerdict: db.prepare(`SELECT * FROM github_statuses WHERE state = 'pending' AND status <> 'failed' ORDER BY updated_at LIMIT ?`),
    record: db.prepare(
      `UPDATE github_statuses
         SET status = @status, attempts = attempts + @failed, next_attempt_at = @next, last_error = @error
       WHERE deployment_id = @deploymentId AND revision = @revision AND status = 'queued'`,
    ),
    prune: db.prepare(`DELETE FROM github_statuses WHERE status <> 'queued' AND updated_at < ?`),
  };
  return {
    track(deploymentId, commit, status, nowMs) {
      q.prune.run(nowMs - STATUS_RETENTION_MS);
      return q.insert.run({ deploymentId, ...commit, ...status, now: nowMs }).changes === 1;
    },
    get(deploymentId) {
      const row = q.get.get(deploymentId) as Row | undefined;
      return row && toQueued(row);
    },
    change: (deploymentId, status, nowMs) => q.change.run({ deploymentId, ...status, now: nowMs }).changes === 1,
    due: (nowMs, limit) => (q.due.all(nowMs, limit) as Row[]).map(toQueued),
    nextDueAtMs: () => (q.next.get() as number | null) ?? undefined,
    awaitingVerdict: (limit) => (q.awaitingVerdict.all(limit) as Row[]).map(toQueued),
    record(deploymentId, revision, then, nowMs) {
      q.record.run({
        deploymentId,
        revision,
        status: then.status,
        failed: then.status === 'posted' ? 0 : 1,
        next: then.status === 'queued' ? then.nextAttemptAtMs : nowMs,
        error: then.status === 'posted' ? null : then.error,
      });
    },
    prune: (nowMs) => q.prune.run(nowMs - STATUS_RETENTION_MS).changes,
  };
}

function toQueued(row: Row): QueuedStatus {
  return {
    deploymentId: row.deployment_id as string,
    repository: row.repository as string,
    sha: row.sha as string,
    environment: row.environment as string,
    state: row.state as CommitState,
    description: row.description as string,
    status: row.status as QueueStatus,
    attempts: row.attempts as number,
    nextAttemptAtMs: row.next_attempt_at as number,
    updatedAtMs: row.updated_at as number,
    revision: row.revision as number,
    ...(row.last_error !== null && { lastError: row.last_error as string }),
  };
}
