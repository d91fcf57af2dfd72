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
export function createLatestFlowOutcomes(db: Database.Database): () => LatestFlowOutcome[] {
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
    newestDecided: db
      .prepare(
        `SELECT f.outcome FROM flow_results f JOIN runs r ON r.id = f.run_id
         WHERE f.environment = ? AND f.flow = ? AND f.outcome IN ('passed', 'failed', 'flaky') ORDER BY r.seq DESC LIMIT 1`,
      )
      .pluck(),
  };

  return () => {
    const outcomes: LatestFlowOutcome[] = [];
    for (const environment of q.environments.all() as string[]) {
      const run = q.newestRun.get(environment) as string | undefined;
      if (run === undefined) continue;
      for (const { flow, outcome } of q.flowsOfRun.all(run, environment) as { flow: string; outcome: string }[]) {
        // In the newest run, a decided outcome is the newest one; otherwise look further back.
        const decided = isDecided(outcome) ? outcome : (q.newestDecided.get(environment, flow) as string | undefined);
        outcomes.push(decided !== undefined && isDecided(decided) ? { environment, flow, outcome: decided } : { environment, flow });
      }
    }
    return outcomes;
  };
}
