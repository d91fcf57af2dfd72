import type { Kysely, Selectable } from 'kysely';
import type { StatusTarget } from '../gates/github-status-kinds.ts';
import { STATUS_RETENTION_MS, type QueuedStatus, type StatusQueue } from '../gates/github-status-queue.ts';
import { affected, skipLocked, type Engine } from './engine.ts';
import { reading, writing } from './faults.ts';
import type { GitHubStatusesTable, Schema } from './schema.ts';

type StatusRow = Selectable<GitHubStatusesTable>;

/** The GitHub statuses to post, one row per deployment and kind; the same on both engines but for PostgreSQL's row locks. */
export function createGitHubStatusStore(db: Kysely<Schema>, engine: Engine): StatusQueue {
  const prune = async (nowMs: number) => {
    const result = await db
      .deleteFrom('github_statuses')
      .where('status', '<>', 'queued')
      .where('updated_at', '<', nowMs - STATUS_RETENTION_MS)
      .executeTakeFirst();
    return affected(result);
  };

  return {
    track: (deploymentId, target, status, hold, nowMs) =>
      writing('track the GitHub status', async () => {
        await prune(nowMs);
        const result = await db
          .insertInto('github_statuses')
          .values({
            deployment_id: deploymentId,
            kind: target.kind,
            repository: target.repository,
            environment: target.environment,
            sha: target.kind === 'commit' ? target.sha : null,
            github_deployment_id: target.kind === 'deployment' ? target.githubDeploymentId : null,
            environment_url: (target.kind === 'deployment' && target.environmentUrl) || null,
            state: status.state,
            description: status.description,
            status: hold && status.state === 'pending' ? 'waiting' : 'queued',
            attempts: 0,
            next_attempt_at: nowMs,
            updated_at: nowMs,
            revision: 1,
          })
          .onConflict((oc) => oc.columns(['deployment_id', 'kind']).doNothing())
          .executeTakeFirst();
        return affected(result) === 1;
      }),

    get: (deploymentId, kind) =>
      reading('read the GitHub status', async () => {
        const row = await db.selectFrom('github_statuses').selectAll().where('deployment_id', '=', deploymentId).where('kind', '=', kind).executeTakeFirst();
        return row && toQueued(row);
      }),

    change: (deploymentId, status, nowMs) =>
      writing('change the GitHub status', async () => {
        const result = await db
          .updateTable('github_statuses')
          .set((eb) => ({
            state: status.state,
            description: status.description,
            status: 'queued',
            attempts: 0,
            next_attempt_at: nowMs,
            updated_at: nowMs,
            revision: eb('revision', '+', 1),
            last_error: null,
          }))
          .where('deployment_id', '=', deploymentId)
          .where((eb) => eb.or([eb('state', '<>', status.state), eb('description', '<>', status.description)]))
          // A held row stays held while it would only be asked for `pending` again.
          .$if(status.state === 'pending', (q) => q.where('status', '<>', 'waiting'))
          .executeTakeFirst();
        return affected(result);
      }),

    claimDue: (nowMs, limit, leaseMs) =>
      writing('claim due GitHub statuses', async () => {
        // Picked and leased in one statement, as the outbox's signals are.
        const rows = await db
          .updateTable('github_statuses')
          .set({ next_attempt_at: nowMs + leaseMs })
          .where(({ eb, refTuple, selectFrom }) =>
            eb(
              refTuple('deployment_id', 'kind'),
              'in',
              selectFrom('github_statuses')
                .select(['deployment_id', 'kind'])
                .where('status', '=', 'queued')
                .where('next_attempt_at', '<=', nowMs)
                .orderBy('next_attempt_at')
                .orderBy('deployment_id')
                .orderBy('kind')
                .limit(limit)
                .$call(skipLocked(engine))
                .$asTuple('deployment_id', 'kind'),
            ),
          )
          .returningAll()
          .execute();
        return rows.map(toQueued).sort((a, b) => a.updatedAtMs - b.updatedAtMs || compare(a.deploymentId, b.deploymentId) || compare(a.kind, b.kind));
      }),

    nextDueAtMs: () =>
      reading('read the next GitHub status attempt', async () => {
        const row = await db
          .selectFrom('github_statuses')
          .select((eb) => eb.fn.min('next_attempt_at').as('next'))
          .where('status', '=', 'queued')
          .executeTakeFirst();
        return row?.next == null ? undefined : Number(row.next);
      }),

    awaitingVerdict: (limit) =>
      reading('read the GitHub statuses awaiting a verdict', async () =>
        (
          await db
            .selectFrom('github_statuses')
            .selectAll()
            .where('state', '=', 'pending')
            .where('status', '<>', 'failed')
            .orderBy('updated_at')
            .orderBy('deployment_id')
            .orderBy('kind')
            .limit(limit)
            .execute()
        ).map(toQueued),
      ),

    record: (row, then, nowMs) =>
      writing('record the GitHub status attempt', async () => {
        await db
          .updateTable('github_statuses')
          .set((eb) => ({
            status: then.status,
            attempts: eb('attempts', '+', then.status === 'posted' ? 0 : 1),
            next_attempt_at: then.status === 'queued' ? then.nextAttemptAtMs : nowMs,
            last_error: then.status === 'posted' ? null : then.error,
          }))
          .where('deployment_id', '=', row.deploymentId)
          .where('kind', '=', row.kind)
          .where('revision', '=', row.revision)
          .where('status', '=', 'queued')
          .execute();
      }),

    prune: (nowMs) => writing('prune old GitHub statuses', () => prune(nowMs)),
  };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function targetOf(row: StatusRow): StatusTarget {
  const place = { repository: row.repository, environment: row.environment };
  if (row.kind === 'commit') return { kind: 'commit', ...place, sha: row.sha! };
  return {
    kind: 'deployment',
    ...place,
    githubDeploymentId: Number(row.github_deployment_id),
    ...(row.environment_url !== null && { environmentUrl: row.environment_url }),
  };
}

function toQueued(row: StatusRow): QueuedStatus {
  return {
    ...targetOf(row),
    deploymentId: row.deployment_id,
    state: row.state,
    description: row.description,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAtMs: Number(row.next_attempt_at),
    updatedAtMs: Number(row.updated_at),
    revision: Number(row.revision),
    ...(row.last_error !== null && { lastError: row.last_error }),
  };
}
