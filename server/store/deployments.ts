import { sql, type Kysely } from 'kysely';
import type { VerdictKind } from '../verdict/types.ts';
import type { DeploymentRecord, RunRecord } from '../verification/records.ts';
import { isUniqueViolation, type Engine } from './engine.ts';
import { newId } from './ids.ts';
import { toDeployment, toRun } from './rows.ts';
import { insertRun, OPEN_RUN } from './runs.ts';
import { latestDeploymentRows } from './scans.ts';
import type { Schema } from './schema.ts';
import type { NewDeployment } from './store.ts';
import { step, transaction } from './transaction.ts';

/** The deployment queries: recording one with its first run, and the listings. */
export function createDeployments(db: Kysely<Schema>, engine: Engine) {
  const deployments = () => db.selectFrom('deployments').selectAll();
  const byKey = async (key: string) => {
    const row = await deployments().where('idempotency_key', '=', key).executeTakeFirst();
    return row && toDeployment(row);
  };

  const insert = (input: NewDeployment) =>
    transaction(db, engine, function* (db) {
      const at = new Date().toISOString();
      const id = newId('dep');
      const { rows } = yield* step(
        db
          .insertInto('deployments')
          .values({
            id,
            idempotency_key: input.idempotencyKey ?? null,
            service: input.service,
            environment: input.environment,
            baseline: input.baseline ?? null,
            version: input.version,
            status: 'queued',
            created_at: at,
          })
          .returningAll(),
      );
      const environments = input.baseline ? [input.environment, input.baseline] : [input.environment];
      const run = yield* step(insertRun(db, engine, { deploymentId: id, trigger: 'deploy', target: input.environment, environments }, at));
      return { deployment: toDeployment(rows[0]!), run: run.rows[0] && toRun(run.rows[0]), created: true };
    });

  return {
    createDeployment: async (input: NewDeployment): Promise<{ deployment: DeploymentRecord; run?: RunRecord; created: boolean }> => {
      const key = input.idempotencyKey;
      const existing = key === undefined ? undefined : await byKey(key);
      if (existing) return { deployment: existing, created: false };
      try {
        const { run, ...rest } = await insert(input);
        return run ? { ...rest, run } : rest;
      } catch (err) {
        // Another replica recorded the key between the look-up and the insert: its deployment is the one.
        const raced = key !== undefined && isUniqueViolation(err) ? await byKey(key) : undefined;
        if (raced) return { deployment: raced, created: false };
        throw err;
      }
    },
    getDeployment: async (id: string) => {
      const row = await deployments().where('id', '=', id).executeTakeFirst();
      return row && toDeployment(row);
    },
    getDeploymentByKey: byKey,
    listDeployments: async ({ environment, verdict, limit }: { environment?: string; verdict?: VerdictKind | 'pending'; limit: number }) => {
      const rows = await deployments()
        .$if(environment !== undefined, (q) => q.where('environment', '=', environment!))
        .$if(verdict === 'pending', (q) => q.where('status', '<>', 'done'))
        .$if(verdict !== undefined && verdict !== 'pending', (q) => q.where('verdict', '=', verdict as VerdictKind))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toDeployment);
    },
    openDeployments: async () => (await deployments().where('status', '<>', 'done').orderBy('created_at').orderBy('id').execute()).map(toDeployment),
    orphanedDeployments: async () => {
      const rows = await db
        .selectFrom('deployments as d')
        .selectAll('d')
        .where('d.status', '<>', 'done')
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('runs').select(sql.lit(1).as('one')).whereRef('runs.deployment_id', '=', 'd.id').where('runs.status', 'in', OPEN_RUN))),
        )
        .orderBy('d.created_at')
        .orderBy('d.id')
        .execute();
      return rows.map(toDeployment);
    },
    latestDeployments: async () => (await latestDeploymentRows(db)).map(toDeployment),
  };
}
