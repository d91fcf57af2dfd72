import { sql, type Kysely } from 'kysely';
import { distinctValues } from './scans.ts';
import type { LatestFlowOutcome } from './store.ts';
import type { Schema } from './schema.ts';

const DECIDED = ['passed', 'failed', 'flaky'] as const;
const isDecided = (outcome: string): outcome is NonNullable<LatestFlowOutcome['outcome']> => (DECIDED as readonly string[]).includes(outcome);

/** One flow of an environment's newest run with results, and the runs its outcome comes from. */
export interface FlowOutcomeSource extends LatestFlowOutcome {
  /** The environment's newest run with results. */
  readonly newestRun: string;
  /** The run of the flow's newest passed/failed/flaky result, when it has one. */
  readonly decidedRun?: string;
}

/**
 * The flows of each environment's newest run with results, each with its
 * newest passed/failed/flaky outcome: what `smoke_flow_success` shows.
 * Found through indexes: the environments by a loose scan of
 * `flow_results (environment, flow)`, each one's newest run by walking runs
 * newest first until one has results there (a primary-key probe each), and
 * the older outcome of a flow that was skipped or errored in that run through
 * the same index. A window over every result ever recorded took 0.3 s at
 * 50,000 results, and it grows with the history.
 */
export function createFlowOutcomeSources(db: Kysely<Schema>): () => Promise<FlowOutcomeSource[]> {
  const environments = () => distinctValues(db, 'flow_results', 'environment');
  const newestRun = async (environment: string) =>
    (
      await db
        .selectFrom('runs as r')
        .select('r.id')
        .where(({ exists, selectFrom }) =>
          exists(selectFrom('flow_results').select(sql.lit(1).as('one')).whereRef('run_id', '=', 'r.id').where('environment', '=', environment)),
        )
        .orderBy('r.seq', 'desc')
        .limit(1)
        .executeTakeFirst()
    )?.id;
  const flowsOfRun = (runId: string, environment: string) =>
    db.selectFrom('flow_results').select(['flow', 'outcome']).where('run_id', '=', runId).where('environment', '=', environment).orderBy('flow').execute();
  const newestDecided = (environment: string, flow: string) =>
    db
      .selectFrom('flow_results as f')
      .innerJoin('runs as r', 'r.id', 'f.run_id')
      .select(['f.run_id', 'f.outcome'])
      .where('f.environment', '=', environment)
      .where('f.flow', '=', flow)
      .where('f.outcome', 'in', DECIDED)
      .orderBy('r.seq', 'desc')
      .limit(1)
      .executeTakeFirst();

  return async () => {
    const sources: FlowOutcomeSource[] = [];
    for (const environment of await environments()) {
      const newest = await newestRun(environment);
      if (newest === undefined) continue;
      for (const { flow, outcome } of await flowsOfRun(newest, environment)) {
        // In the newest run, a decided outcome is the newest one; otherwise look further back.
        const decided = isDecided(outcome) ? { run_id: newest, outcome } : await newestDecided(environment, flow);
        sources.push(
          decided && isDecided(decided.outcome)
            ? { environment, flow, outcome: decided.outcome, newestRun: newest, decidedRun: decided.run_id }
            : { environment, flow, newestRun: newest },
        );
      }
    }
    return sources;
  };
}

/** What `smoke_flow_success` shows: each flow's outcome without the runs it came from. */
export function createLatestFlowOutcomes(db: Kysely<Schema>): () => Promise<LatestFlowOutcome[]> {
  const sources = createFlowOutcomeSources(db);
  return async () => (await sources()).map(({ environment, flow, outcome }) => (outcome === undefined ? { environment, flow } : { environment, flow, outcome }));
}
