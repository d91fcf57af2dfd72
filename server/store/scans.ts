import { sql, type Kysely } from 'kysely';
import type { RunTrigger } from '../verification/records.ts';
import type { Schema } from './schema.ts';
import type { FinishedRunTimes } from './store.ts';

export const TRIGGERS = Object.keys({ deploy: 1, schedule: 1, manual: 1 } satisfies Record<RunTrigger, 1>) as RunTrigger[];

/**
 * The distinct values of an indexed column of `runs` by a loose index scan:
 * one index lookup per value (a handful of targets or schedules), where
 * DISTINCT or GROUP BY would read every run. The same recursive CTE on both
 * engines (PostgreSQL has no skip scan of its own either).
 */
export async function distinctRunValues(db: Kysely<Schema>, column: 'target' | 'schedule'): Promise<string[]> {
  const c = sql.ref(column);
  const { rows } = await sql<{ value: string }>`
    WITH RECURSIVE v(value) AS (
      SELECT MIN(${c}) FROM runs WHERE ${c} IS NOT NULL
      UNION ALL SELECT (SELECT MIN(${c}) FROM runs WHERE ${c} > v.value) FROM v WHERE v.value IS NOT NULL)
    SELECT value FROM v WHERE value IS NOT NULL`.execute(db);
  return rows.map((r) => r.value);
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
  for (const target of (await distinctRunValues(db, 'target')).sort()) {
    for (const trigger of [...TRIGGERS].sort()) {
      const last = await lastJudged(db, target, trigger);
      if (!last) continue;
      const passed = await lastJudged(db, target, trigger, true);
      times.push(passed ? { target, trigger, finishedAt: last.finished_at, passedAt: passed.finished_at } : { target, trigger, finishedAt: last.finished_at });
    }
  }
  return times;
}
