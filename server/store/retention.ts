import type { Kysely } from 'kysely';
import { affected, skipLocked, type Engine } from './engine.ts';
import { reading, writing } from './faults.ts';
import { createFlowOutcomeSources } from './flow-outcomes.ts';
import { ENDED_RUN } from './runs.ts';
import { distinctValues, lastJudged, latestDeploymentRows, TRIGGERS } from './scans.ts';
import type { Schema } from './schema.ts';
import { step, transaction } from './transaction.ts';

/**
 * Rows no pass may prune, however old: what the metrics restore after a
 * restart and the pages show first. Computed once per pass; a row that
 * becomes "newest" later can only be newer than the pass's cutoff.
 */
export interface Kept {
  readonly runs: readonly string[];
  readonly deployments: readonly string[];
}

/** The store's retention queries. Times are ISO strings, as every time column holds them. */
export interface StoreRetention {
  kept(): Promise<Kept>;
  /**
   * Deletes, in one transaction, up to `limit` runs that ended (or, never
   * ended, were created) before `before`, with their flow results; returns
   * their ids so the caller can remove their folders. Never an open run, a
   * run of an open deployment or a kept one.
   */
  pruneRuns(before: string, kept: Kept, limit: number): Promise<string[]>;
  /**
   * Deletes up to `limit` done deployments that ended before `before` and
   * that nothing points at any more (runs, signals, gate deliveries); returns
   * how many.
   */
  pruneDeployments(before: string, kept: Kept, limit: number): Promise<number>;
  /** Deletes up to `limit` claims of cron ticks scheduled before `before`; returns how many. */
  pruneTickClaims(before: string, limit: number): Promise<number>;
  /** Which of these run ids have a row. */
  existingRuns(ids: readonly string[]): Promise<Set<string>>;
}

/** Ids bound in one `IN (...)` list: well under both engines' limits on parameters. */
const IDS_PER_QUERY = 500;

export function createStoreRetention(db: Kysely<Schema>, engine: Engine): StoreRetention {
  const newestRunWhere = async (column: 'target' | 'schedule', value: string, ended = false) =>
    (
      await db
        .selectFrom('runs')
        .select('id')
        .where(column, '=', value)
        .$if(ended, (q) => q.where('status', 'in', ENDED_RUN))
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst()
    )?.id;

  /**
   * The newest run of each target, of each target and trigger judged and
   * passed (`lastFinishedRuns`), of each schedule started and ended
   * (`lastFinishedRunOfSchedule`): what the metrics and the scheduler read
   * back at a restart. Each through an index (runs_target, runs_judged,
   * runs_schedule): a few rows read per target, not every run.
   */
  async function keptForRestart(): Promise<string[]> {
    const runs: (string | undefined)[] = [];
    for (const target of await distinctValues(db, 'runs', 'target')) {
      runs.push(await newestRunWhere('target', target));
      for (const trigger of TRIGGERS) runs.push((await lastJudged(db, target, trigger))?.id, (await lastJudged(db, target, trigger, true))?.id);
    }
    for (const schedule of await distinctValues(db, 'runs', 'schedule')) {
      runs.push(await newestRunWhere('schedule', schedule), await newestRunWhere('schedule', schedule, true));
    }
    return runs.filter((id): id is string => id !== undefined);
  }

  /** The newest deployment of each environment, as `latestDeployments` picks it. */
  const keptDeployments = async () => (await latestDeploymentRows(db)).map((r) => r.id as string);

  /** Every run of each environment's newest deployment: its page lists them all. */
  const runsOf = async (deployments: readonly string[]) =>
    deployments.length === 0 ? [] : (await db.selectFrom('runs').select('id').where('deployment_id', 'in', deployments).execute()).map((r) => r.id);

  const flowSources = createFlowOutcomeSources(db);
  /** What `latestFlowOutcomes` reads: each environment's newest run with results, and the run each flow's outcome comes from. */
  const keptForFlows = async () => (await flowSources()).flatMap((source) => [source.newestRun, ...(source.decidedRun ? [source.decidedRun] : [])]);

  return {
    kept: () =>
      reading('find the rows retention keeps', async () => {
        const deployments = await keptDeployments();
        const runs = [...(await keptForRestart()), ...(await runsOf(deployments)), ...(await keptForFlows())];
        return { runs: [...new Set(runs)], deployments };
      }),

    pruneRuns: (before, kept, limit) =>
      writing('prune old runs', () =>
        transaction(db, engine, function* (db) {
          // In the order runs were created: the oldest come first and a batch
          // stops at its limit. The deployment check is a lookup by primary key
          // per run, not a set of every done deployment built for each batch
          // (that made each batch cost in proportion to the whole history).
          // PostgreSQL: locked, skipping runs another replica's batch holds.
          const { rows } = yield* step(
            db
              .selectFrom('runs')
              .select('id')
              .where('status', 'in', ENDED_RUN)
              .where((eb) => eb(eb.fn.coalesce('finished_at', 'created_at'), '<', before))
              .$if(kept.runs.length > 0, (q) => q.where('id', 'not in', kept.runs))
              .where(({ not, exists, selectFrom }) =>
                not(exists(selectFrom('deployments').select('deployments.id').whereRef('deployments.id', '=', 'runs.deployment_id').where('deployments.status', '<>', 'done'))),
              )
              .orderBy('seq')
              .limit(limit)
              .$call(skipLocked(engine)),
          );
          const ids = rows.map((r) => r.id);
          if (ids.length === 0) return ids;
          yield* step(db.deleteFrom('flow_results').where('run_id', 'in', ids));
          yield* step(db.deleteFrom('runs').where('id', 'in', ids));
          return ids;
        }),
      ),

    pruneDeployments: (before, kept, limit) =>
      writing('prune old deployments', () =>
        transaction(db, engine, function* (db) {
          const { rows } = yield* step(
            db
              .selectFrom('deployments as d')
              .select('d.id')
              .where('d.status', '=', 'done')
              .where((eb) => eb(eb.fn.coalesce('d.finished_at', 'd.created_at'), '<', before))
              .$if(kept.deployments.length > 0, (q) => q.where('d.id', 'not in', kept.deployments))
              .where(({ not, exists, selectFrom }) => not(exists(selectFrom('runs').select('runs.id').whereRef('runs.deployment_id', '=', 'd.id'))))
              .where(({ not, exists, selectFrom }) => not(exists(selectFrom('signals').select('signals.id').whereRef('signals.deployment_id', '=', 'd.id'))))
              .where(({ not, exists, selectFrom }) =>
                not(exists(selectFrom('gate_deliveries').select('gate_deliveries.delivery_id').whereRef('gate_deliveries.deployment_id', '=', 'd.id'))),
              )
              .orderBy('d.created_at')
              .orderBy('d.id')
              .limit(limit)
              .$call(skipLocked(engine)),
          );
          const ids = rows.map((r) => r.id);
          if (ids.length === 0) return 0;
          return Number((yield* step(db.deleteFrom('deployments').where('id', 'in', ids))).numAffectedRows);
        }),
      ),

    pruneTickClaims: (before, limit) =>
      writing('prune old tick claims', async () =>
        affected(
          await db
            .deleteFrom('tick_claims')
            // Oldest first through tick_claims_slot, a batch at a time.
            .where(({ eb, refTuple, selectFrom }) =>
              eb(refTuple('schedule', 'slot'), 'in', selectFrom('tick_claims').select(['schedule', 'slot']).where('slot', '<', before).orderBy('slot').limit(limit).$asTuple('schedule', 'slot')),
            )
            .executeTakeFirst(),
        ),
      ),

    existingRuns: (ids) =>
      reading('look up runs', async () => {
        const existing = new Set<string>();
        for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
          const rows = await db.selectFrom('runs').select('id').where('id', 'in', ids.slice(i, i + IDS_PER_QUERY)).execute();
          for (const { id } of rows) existing.add(id);
        }
        return existing;
      }),
  };
}
