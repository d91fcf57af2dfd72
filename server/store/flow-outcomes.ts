import type Database from 'better-sqlite3';
import type { LatestFlowOutcome } from './store.ts';

const DECIDED = ['passed', 'failed', 'flaky'] as const;
const isDecided = (outcome: string): outcome is NonNullable<LatestFlowOutcome['outcome']> => (DECIDED as readonly string[]).includes(outcome);

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
/** One flow of an environment's newest run with results, and the runs its outcome comes from. */
export interface FlowOutcomeSource extends LatestFlowOutcome {
  /** The environment's newest run with results. */
  readonly newestRun: string;
  /** The run of the flow's newest passed/failed/flaky result, when it has one. */
  readonly decidedRun?: string;
}

export function createFlowOutcomeSources(db: Database.Database): () => FlowOutcomeSource[] {
  const q = {
    environments: db
      .prepare(
        `WITH RECURSIVE e(value) AS (
           SELECT MIN(environment) FROM flow_results
           UNION ALL SELECT (SELECT MIN(environment) FROM flow_results WHERE environment > e.value) FROM e WHERE e.value IS NOT NULL)
         SELECT value FROM e WHERE value IS NOT NULL`,
      )
      .pluck(),
    newestRun: db
      .prepare('SELECT id FROM runs r WHERE EXISTS (SELECT 1 FROM flow_results WHERE run_id = r.id AND environment = ?) ORDER BY seq DESC LIMIT 1')
      .pluck(),
    flowsOfRun: db.prepare('SELECT flow, outcome FROM flow_results WHERE run_id = ? AND environment = ? ORDER BY flow'),
    newestDecided: db.prepare(
      `SELECT f.run_id, f.outcome FROM flow_results f JOIN runs r ON r.id = f.run_id
       WHERE f.environment = ? AND f.flow = ? AND f.outcome IN ('passed', 'failed', 'flaky') ORDER BY r.seq DESC LIMIT 1`,
    ),
  };

  return () => {
    const sources: FlowOutcomeSource[] = [];
    for (const environment of q.environments.all() as string[]) {
      const newestRun = q.newestRun.get(environment) as string | undefined;
      if (newestRun === undefined) continue;
      for (const { flow, outcome } of q.flowsOfRun.all(newestRun, environment) as { flow: string; outcome: string }[]) {
        // In the newest run, a decided outcome is the newest one; otherwise look further back.
        const decided = isDecided(outcome)
          ? { run_id: newestRun, outcome }
          : (q.newestDecided.get(environment, flow) as { run_id: string; outcome: string } | undefined);
        sources.push(
          decided && isDecided(decided.outcome)
            ? { environment, flow, outcome: decided.outcome, newestRun, decidedRun: decided.run_id }
            : { environment, flow, newestRun },
        );
      }
    }
    return sources;
  };
}

/** What `smoke_flow_success` shows: each flow's outcome without the runs it came from. */
export function createLatestFlowOutcomes(db: Database.Database): () => LatestFlowOutcome[] {
  const sources = createFlowOutcomeSources(db);
  return () => sources().map(({ environment, flow, outcome }) => (outcome === undefined ? { environment, flow } : { environment, flow, outcome }));
}
