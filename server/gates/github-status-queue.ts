import type Database from 'better-sqlite3';
import type { StatusKind } from './config.ts';
import type { StatusState, StatusUpdate } from './github-status.ts';
import type { StatusTarget } from './github-status-kinds.ts';

/** Rows of deployments whose last status was posted or given up are kept this long, then forgotten. */
export const STATUS_RETENTION_MS = 30 * 86_400_000;

/** `waiting`: a kind that says nothing before the verdict (deployment statuses) holds its pending state back. */
export type QueueStatus = 'waiting' | 'queued' | 'posted' | 'failed';

/** The status one target of a GitHub-gated deployment should show, and whether GitHub has it yet. */
export type QueuedStatus = StatusTarget &
  StatusUpdate & {
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
  };

/** What an attempt leads to, written only if the row still asks for the state that was attempted. */
export type StatusTransition =
  | { readonly status: 'posted' }
  | { readonly status: 'failed'; readonly error: string }
  | { readonly status: 'queued'; readonly nextAttemptAtMs: number; readonly error: string };

/**
 * One row per GitHub-gated deployment and kind of status in the service's
 * SQLite file, holding the latest state to show: a verdict replaces a
 * pending status not yet posted (GitHub shows the newest status, so posting
 * the stale one after would be wrong), and a restart resumes what was not
 * posted.
 */
export interface StatusQueue {
  /** Starts tracking one target of a deployment; `hold` keeps a pending state from being posted. False when tracked already. */
  track(deploymentId: string, target: StatusTarget, status: StatusUpdate, hold: boolean, nowMs: number): boolean;
  get(deploymentId: string, kind: StatusKind): QueuedStatus | undefined;
  /**
   * Asks every target of the deployment for a new state; nothing changes where it is the state
   * already asked for, nor where a held row would be asked for `pending`. How many rows changed.
   */
  change(deploymentId: string, status: StatusUpdate, nowMs: number): number;
  due(nowMs: number, limit: number): QueuedStatus[];
  nextDueAtMs(): number | undefined;
  /** Rows still showing or about to show `pending`, or holding it: the ones a crash may have left behind their verdict. */
  awaitingVerdict(limit: number): QueuedStatus[];
  record(row: Pick<QueuedStatus, 'deploymentId' | 'kind' | 'revision'>, then: StatusTransition, nowMs: number): void;
  /** Forgets rows settled (or held) before retention; returns how many. */
  prune(nowMs: number): number;
}

type Row = Record<string, unknown>;

export function createStatusQueue(db: Database.Database): StatusQueue {
  const q = {
    insert: db.prepare(
      `INSERT OR IGNORE INTO github_statuses
         (deployment_id, kind, repository, sha, github_deployment_id, environment_url, environment, state, description,
          status, attempts, next_attempt_at, updated_at, revision)
       VALUES (@deploymentId, @kind, @repository, @sha, @githubDeploymentId, @environmentUrl, @environment, @state, @description,
          @status, 0, @now, @now, 1)`,
    ),
    get: db.prepare('SELECT * FROM github_statuses WHERE deployment_id = ? AND kind = ?'),
    change: db.prepare(
      `UPDATE github_statuses
         SET state = @state, description = @description, status = 'queued', attempts = 0, next_attempt_at = @now,
             updated_at = @now, revision = revision + 1, last_error = NULL
       WHERE deployment_id = @deploymentId AND (state <> @state OR description <> @description)
         AND NOT (status = 'waiting' AND @state = 'pending')`,
    ),
    due: db.prepare(`SELECT * FROM github_statuses WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`),
    next: db.prepare(`SELECT MIN(next_attempt_at) FROM github_statuses WHERE status = 'queued'`).pluck(),
    awaitingVerdict: db.prepare(`SELECT * FROM github_statuses WHERE state = 'pending' AND status <> 'failed' ORDER BY updated_at LIMIT ?`),
    record: db.prepare(
      `UPDATE github_statuses
         SET status = @status, attempts = attempts + @failed, next_attempt_at = @next, last_error = @error
       WHERE deployment_id = @deploymentId AND kind = @kind AND revision = @revision AND status = 'queued'`,
    ),
    prune: db.prepare(`DELETE FROM github_statuses WHERE status <> 'queued' AND updated_at < ?`),
  };
  return {
    track(deploymentId, target, status, hold, nowMs) {
      q.prune.run(nowMs - STATUS_RETENTION_MS);
      const row = {
        deploymentId,
        kind: target.kind,
        repository: target.repository,
        environment: target.environment,
        sha: target.kind === 'commit' ? target.sha : null,
        githubDeploymentId: target.kind === 'deployment' ? target.githubDeploymentId : null,
        environmentUrl: (target.kind === 'deployment' && target.environmentUrl) || null,
        ...status,
        status: hold && status.state === 'pending' ? 'waiting' : 'queued',
        now: nowMs,
      };
      return q.insert.run(row).changes === 1;
    },
    get(deploymentId, kind) {
      const row = q.get.get(deploymentId, kind) as Row | undefined;
      return row && toQueued(row);
    },
    change: (deploymentId, status, nowMs) => q.change.run({ deploymentId, ...status, now: nowMs }).changes,
    due: (nowMs, limit) => (q.due.all(nowMs, limit) as Row[]).map(toQueued),
    nextDueAtMs: () => (q.next.get() as number | null) ?? undefined,
    awaitingVerdict: (limit) => (q.awaitingVerdict.all(limit) as Row[]).map(toQueued),
    record(row, then, nowMs) {
      q.record.run({
        deploymentId: row.deploymentId,
        kind: row.kind,
        revision: row.revision,
        status: then.status,
        failed: then.status === 'posted' ? 0 : 1,
        next: then.status === 'queued' ? then.nextAttemptAtMs : nowMs,
        error: then.status === 'posted' ? null : then.error,
      });
    },
    prune: (nowMs) => q.prune.run(nowMs - STATUS_RETENTION_MS).changes,
  };
}

function targetOf(row: Row): StatusTarget {
  const place = { repository: row.repository as string, environment: row.environment as string };
  if (row.kind === 'commit') return { kind: 'commit', ...place, sha: row.sha as string };
  return {
    kind: 'deployment',
    ...place,
    githubDeploymentId: row.github_deployment_id as number,
    ...(row.environment_url !== null && { environmentUrl: row.environment_url as string }),
  };
}

function toQueued(row: Row): QueuedStatus {
  return {
    ...targetOf(row),
    deploymentId: row.deployment_id as string,
    state: row.state as StatusState,
    description: row.description as string,
    status: row.status as QueueStatus,
    attempts: row.attempts as number,
    nextAttemptAtMs: row.next_attempt_at as number,
    updatedAtMs: row.updated_at as number,
    revision: row.revision as number,
    ...(row.last_error !== null && { lastError: row.last_error as string }),
  };
}
