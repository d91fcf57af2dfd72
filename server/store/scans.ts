import { sql, type Kysely } from 'kysely';
import type { RunTrigger } from '../verification/records.ts';
import type { Schema } from './schema.ts';
import type { FinishedRunTimes } from './store.ts';

export const TRIGGERS = Object.keys({ deploy: 1, schedule: 1, manual: 1 } satisfies Record<RunTrigger, 1>) as RunTrigger[];

/**
 * The distinct values of an indexed column by a loose index scan: one index
 * lookup per value (a handful of targets, schedules or environments), where
 * DISTINCT or GROUP BY would read every row. The same recursive CTE on both
 * engines (PostgreSQL has no skip scan of its own either).
 */
export async function distinctValues(
  db: Kysely<Schema>,
  table: 'runs' | 'flow_results',
  column: 'target' | 'schedule' | 'environment',
): Promise<string[]> {
  const t = sql.table(table);
  const c = sql.ref(column);
  const { rows } = await sql<{ value: string }>`
    WITH RECURSIVE v(value) AS (
      SELECT MIN(${c}) FROM ${t} WHERE ${c} IS NOT NULL
      UNION ALL SELECT (SELECT MIN(${c}) FROM ${t} WHERE ${c} > v.value) FROM v WHERE v.value IS NOT NULL)
    SELECT value FROM v WHERE value IS NOT NULL`.execute(db);
  return rows.map((r) => r.value);
}

/**
 * The newest deployment of each environment: a loose scan of
 * `deployments_environment`, one lookup per environment, not a subquery per
 * deployment. What `latestDeployments` returns and retention keeps.
 */
export async function latestDeploymentRows(db: Kysely<Schema>): Promise<Record<string, unknown>[]> {
  const { rows } = await sql<Record<string, unknown>>`
    WITH RECURSIVE e(value) AS (
      SELECT MIN(environment) FROM deployments
      UNION ALL SELECT (SELECT MIN(environment) FROM deployments WHERE environment > e.value) FROM e WHERE e.value IS NOT NULL)
    SELECT d.* FROM e JOIN deployments d ON d.id = (
      SELECT id FROM deployments WHERE environment = e.value ORDER BY created_at DESC, id DESC LIMIT 1)
    WHERE e.value IS NOT NULL`.execute(db);
  return rows;
}

/** The newest judged run of a target and trigger, through the partial index `runs_judged`; `passed` for the newest pass. */
export function lastJudged(db: Kysely<Schema>, target: string, trigger: RunTrigger, passed = false): Promise<{ id: string; finished_at: string } | undefined> {
  return db
    .selectFrom('runs')
    .select(['id', 'finished_at'])
    .where('target', '=', target)
    .where('trigger', '=', trigger)
    .where('status', '=', 'done')
    .where('finished_at', 'is not', null)
    .$if(passed, (q) => q.where('verdict', '=', 'pass'))
    .orderBy('finished_at', 'desc')
    .limit(1)
    .executeTakeFirst() as Promise<{ id: string; finished_at: string } | undefined>;
}

/** Per target and trigger, through indexes: read on every metrics scrape, so never a pass over every run. */
export async function lastFinishedRuns(db: Kysely<Schema>): Promise<FinishedRunTimes[]> {
  const times: FinishedRunTimes[] = [];
  for (const target of (await distinctValues(db, 'runs', 'target')).sort()) {
    for (const trigger of [...TRIGGERS].sort()) {
      const last = await lastJudged(db, target, trigger);
      if (!last) continue;
      const passed = await lastJudged(db, target, trigger, true);
      times.push(passed ? { target, trigger, finishedAt: last.finished_at, passedAt: passed.finished_at } : { target, trigger, finishedAt: last.finished_at });
    }
  }
  return times;
}
