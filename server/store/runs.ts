import { sql, type Kysely } from 'kysely';
import type { FlowResult } from '../verdict/types.ts';
import type { RunRecord, RunWithResults } from '../verification/records.ts';
import type { Engine } from './engine.ts';
import { newId } from './ids.ts';
import { toResult, toRun } from './rows.ts';
import type { Schema } from './schema.ts';
import type { NewRun } from './store.ts';

export const OPEN_RUN = ['queued', 'running'] as const;
export const ENDED_RUN = ['done', 'cancelled', 'interrupted'] as const;

/**
 * The insert of a queued run; nothing when its deployment has an open run
 * already (the unique index `runs_one_open`). `seq` orders runs: an identity
 * column on PostgreSQL, where replicas insert concurrently; the next number
 * on SQLite, whose single writer makes `MAX(seq) + 1` safe.
 */
export function insertRun(db: Kysely<Schema>, engine: Engine, input: NewRun, at: string) {
  return db
    .insertInto('runs')
    .values({
      id: newId('run'),
      ...(engine === 'sqlite' && { seq: sql<number>`(SELECT COALESCE(MAX(seq), 0) + 1 FROM runs)` }),
      deployment_id: input.deploymentId ?? null,
      trigger: input.trigger,
      target: input.target,
      environments_json: JSON.stringify(input.environments),
      schedule: input.schedule ?? null,
      grep: input.grep ?? null,
      status: 'queued',
      created_at: at,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll();
}

/** The run queries outside the queue and its leases (`leases.ts`). */
export function createRuns(db: Kysely<Schema>, engine: Engine) {
  const now = () => new Date().toISOString();
  const runs = () => db.selectFrom('runs').selectAll();

  return {
    createRun: async (input: NewRun): Promise<RunRecord | undefined> => {
      const row = await insertRun(db, engine, input, now()).executeTakeFirst();
      return row && toRun(row);
    },
    getRun: async (id: string): Promise<RunWithResults | undefined> => {
      const row = await runs().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      const results = await db.selectFrom('flow_results').selectAll().where('run_id', '=', id).orderBy('recorded_at').orderBy('environment').orderBy('flow').execute();
      return { ...toRun(row), results: results.map(toResult) };
    },
    listRuns: async ({ environment, schedule, limit }: { environment?: string; schedule?: string; limit: number }): Promise<RunRecord[]> => {
      const rows = await runs()
        .$if(environment !== undefined, (q) => q.where(hasEnvironment(engine, environment!)))
        .$if(schedule !== undefined, (q) => q.where('schedule', '=', schedule!))
        .orderBy('seq', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toRun);
    },
    runsOfDeployment: async (deploymentId: string) => (await runs().where('deployment_id', '=', deploymentId).orderBy('seq').execute()).map(toRun),
    openRuns: async () => (await runs().where('status', 'in', OPEN_RUN).orderBy('seq').execute()).map(toRun),
    lastFinishedRunOfSchedule: async (schedule: string) => {
      const row = await runs().where('schedule', '=', schedule).where('status', 'in', ENDED_RUN).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      return row && toRun(row);
    },
    /** A result recorded twice (a replayed report line) replaces the first. */
    recordFlowResult: async (runId: string, result: FlowResult): Promise<void> => {
      await db
        .insertInto('flow_results')
        .values({
          run_id: runId,
          environment: result.environment,
          flow: result.flow,
          file: result.file,
          line: result.line ?? null,
          outcome: result.outcome,
          duration_ms: Math.round(result.durationMs),
          retries: result.retries,
          error: result.error ?? null,
          fault: result.fault ?? null,
          artifacts_json: JSON.stringify(result.artifacts),
          recorded_at: now(),
        })
        .onConflict((oc) =>
          oc.columns(['run_id', 'environment', 'flow']).doUpdateSet((eb) => ({
            file: eb.ref('excluded.file'),
            line: eb.ref('excluded.line'),
            outcome: eb.ref('excluded.outcome'),
            duration_ms: eb.ref('excluded.duration_ms'),
            retries: eb.ref('excluded.retries'),
            error: eb.ref('excluded.error'),
            fault: eb.ref('excluded.fault'),
            artifacts_json: eb.ref('excluded.artifacts_json'),
            recorded_at: eb.ref('excluded.recorded_at'),
          })),
        )
        .execute();
    },
  };
}

/**
 * Whether a run touched an environment: an exact element of its JSON array
 * (never LIKE, whose `_` is a wildcard). SQLite walks the array with
 * `json_each`; PostgreSQL tests containment on it as jsonb.
 */
function hasEnvironment(engine: Engine, environment: string) {
  return engine === 'postgres'
    ? sql<boolean>`runs.environments_json::jsonb @> jsonb_build_array(${environment}::text)`
    : sql<boolean>`EXISTS (SELECT 1 FROM json_each(runs.environments_json) WHERE value = ${environment})`;
}
