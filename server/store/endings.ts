import type { Kysely } from 'kysely';
import { affected, type Engine } from './engine.ts';
import { OPEN_RUN } from './runs.ts';
import type { Schema } from './schema.ts';
import type { Settlement } from './store.ts';
import { step, transaction } from './transaction.ts';

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

/**
 * Ends a run and its deployment in one transaction. Only what is still open
 * changes: a run another replica already ended (its lease ran out and it was
 * interrupted, say) or a deployment already judged stays as it was.
 */
export function createSettle(db: Kysely<Schema>, engine: Engine) {
  return (settlement: Settlement): Promise<{ run: boolean; deployment: boolean }> =>
    transaction(db, engine, function* (db) {
      const at = new Date().toISOString();
      const { run, deployment } = settlement;
      const runChanged = run
        ? yield* step(
            db
              .updateTable('runs')
              .set({
                status: run.end.status,
                verdict: run.end.verdict?.kind ?? null,
                verdict_json: json(run.end.verdict),
                outcome_json: json(run.end.outcome),
                reachability_json: json(run.end.reachability),
                diagnostics_json: JSON.stringify(run.end.diagnostics ?? []),
                note: run.end.note ?? null,
                attempts_json: json(run.end.attempts),
                timings_json: json(run.end.timings),
                finished_at: at,
              })
              .where('id', '=', run.id)
              .where('status', 'in', OPEN_RUN),
          )
        : undefined;
      const deploymentChanged = deployment
        ? yield* step(
            db
              .updateTable('deployments')
              .set({
                status: 'done',
                verdict: deployment.verdict?.kind ?? null,
                verdict_json: json(deployment.verdict),
                superseded_by: deployment.supersededBy ?? null,
                finished_at: at,
              })
              .where('id', '=', deployment.id)
              .where('status', '<>', 'done'),
          )
        : undefined;
      return { run: !!runChanged && affected(runChanged) > 0, deployment: !!deploymentChanged && affected(deploymentChanged) > 0 };
    });
}
