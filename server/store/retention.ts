import type Database from 'better-sqlite3';
import { writing } from './faults.ts';
import { createFlowOutcomeSources } from './flow-outcomes.ts';
import type { TickClaims } from './ticks.ts';
import { distinctRunValues, LAST_JUDGED, LAST_PASSED, TRIGGERS } from './scans.ts';

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
  kept(): Kept;
  /**
   * Deletes, in one transaction, up to `limit` runs that ended (or, never
   * ended, were created) before `before`, with their flow results; returns
   * their ids so the caller can remove their folders. Never an open run, a
   * run of an open deployment or a kept one.
   */
  pruneRuns(before: string, kept: Kept, limit: number): string[];
  /**
   * Deletes up to `limit` done deployments that ended before `before` and
   * that nothing points at any more (runs, signals, gate deliveries); returns
   * how many.
   */
  pruneDeployments(before: string, kept: Kept, limit: number): number;
  /** Deletes up to `limit` claims of cron ticks scheduled before `before`; returns how many. */
  pruneTickClaims(before: string, limit: number): number;
  /** Which of these run ids have a row. */
  existingRuns(ids: readonly string[]): Set<string>;
}

const ENDED_RUN = `status IN ('done', 'cancelled', 'interrupted')`;

/** The newest deployment of each environment, as `latestDeployments` picks it. */
const KEPT_DEPLOYMENTS = `
  SELECT id FROM deployments d WHERE rowid = (
    SELECT rowid FROM deployments WHERE environment = d.environment ORDER BY created_at DESC, rowid DESC LIMIT 1)`;

/**
 * Every other run no pass may prune: every run of each environment's newest
 * deployment (its page lists them all).
 */
const RUNS_OF_KEPT_DEPLOYMENTS = `SELECT id FROM runs WHERE deployment_id IN (${KEPT_DEPLOYMENTS})`;


export function createStoreRetention(db: Database.Database, ticks: Pick<TickClaims, 'prune'>): StoreRetention {
  const q = {
    targets: db.prepare(distinctRunValues('target')).pluck(),
    schedules: db.prepare(distinctRunValues('schedule')).pluck(),
    // Each through an index (runs_target, runs_judged, runs_schedule): a few rows read per target, not every run.
    newestOfTarget: db.prepare('SELECT id FROM runs WHERE target = ? ORDER BY seq DESC LIMIT 1').pluck(),
    lastJudged: db.prepare(LAST_JUDGED).pluck(),
    lastPassed: db.prepare(LAST_PASSED).pluck(),
    newestOfSchedule: db.prepare('SELECT id FROM runs WHERE schedule = ? ORDER BY seq DESC LIMIT 1').pluck(),
    newestEndedOfSchedule: db.prepare(`SELECT id FROM runs WHERE schedule = ? AND ${ENDED_RUN} ORDER BY seq DESC LIMIT 1`).pluck(),
    runsOfKeptDeployments: db.prepare(RUNS_OF_KEPT_DEPLOYMENTS).pluck(),
    keptDeployments: db.prepare(KEPT_DEPLOYMENTS).pluck(),
    // By rowid, the order runs were written in: the oldest come first and a
    // batch stops at its limit. The deployment check is a lookup by primary
    // key per run, not a set of every done deployment built for each batch
    // (that made each batch cost in proportion to the whole history).
    expiredRuns: db
      .prepare(
        `SELECT id FROM runs
         WHERE ${ENDED_RUN} AND COALESCE(finished_at, created_at) < @before
           AND id NOT IN (SELECT value FROM json_each(@kept))
           AND NOT EXISTS (SELECT 1 FROM deployments WHERE id = runs.deployment_id AND status <> 'done')
         ORDER BY rowid LIMIT @limit`,
      )
      .pluck(),
    deleteResults: db.prepare('DELETE FROM flow_results WHERE run_id IN (SELECT value FROM json_each(?))'),
    deleteRuns: db.prepare('DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?))'),
    expiredDeployments: db
      .prepare(
        `SELECT id FROM deployments d
         WHERE status = 'done' AND COALESCE(finished_at, created_at) < @before
           AND id NOT IN (SELECT value FROM json_each(@kept))
           AND NOT EXISTS (SELECT 1 FROM runs WHERE deployment_id = d.id)
           AND NOT EXISTS (SELECT 1 FROM signals WHERE deployment_id = d.id)
           AND NOT EXISTS (SELECT 1 FROM gate_deliveries WHERE deployment_id = d.id)
         ORDER BY rowid LIMIT @limit`,
      )
      .pluck(),
    deleteDeployments: db.prepare('DELETE FROM deployments WHERE id IN (SELECT value FROM json_each(?))'),
    existing: db.prepare('SELECT id FROM runs WHERE id IN (SELECT value FROM json_each(?))').pluck(),
  };

  const pruneRuns = db.transaction((before: string, kept: Kept, limit: number): string[] => {
    const ids = q.expiredRuns.all({ before, kept: JSON.stringify(kept.runs), limit }) as string[];
    if (ids.length === 0) return ids;
    const list = JSON.stringify(ids);
    q.deleteResults.run(list);
    q.deleteRuns.run(list);
    return ids;
  });

  const pruneDeployments = db.transaction((before: string, kept: Kept, limit: number): number => {
    const ids = q.expiredDeployments.all({ before, kept: JSON.stringify(kept.deployments), limit }) as string[];
    return ids.length === 0 ? 0 : q.deleteDeployments.run(JSON.stringify(ids)).changes;
  });

  const flowSources = createFlowOutcomeSources(db);
  /** What `latestFlowOutcomes` reads: each environment's newest run with results, and the run each flow's outcome comes from. */
  const keptForFlows = () => flowSources().flatMap((source) => [source.newestRun, ...(source.decidedRun ? [source.decidedRun] : [])]);

  /**
   * The newest run of each target, of each target and trigger judged and
   * passed (`lastFinishedRuns`), of each schedule started and ended
   * (`lastFinishedRunOfSchedule`): what the metrics and the scheduler read
   * back at a restart.
   */
  function keptForRestart(): string[] {
    const runs: (string | undefined)[] = [];
    for (const target of q.targets.all() as string[]) {
      runs.push(q.newestOfTarget.get(target) as string | undefined);
      for (const trigger of TRIGGERS) runs.push(q.lastJudged.get(target, trigger) as string | undefined, q.lastPassed.get(target, trigger) as string | undefined);
    }
    for (const schedule of q.schedules.all() as string[]) {
      runs.push(q.newestOfSchedule.get(schedule) as string | undefined, q.newestEndedOfSchedule.get(schedule) as string | undefined);
    }
    return runs.filter((id): id is string => id !== undefined);
  }

  return {
    kept: () => ({
      runs: [...new Set([...keptForRestart(), ...(q.runsOfKeptDeployments.all() as string[]), ...keptForFlows()])],
      deployments: q.keptDeployments.all() as string[],
    }),
    pruneRuns: (before, kept, limit) => writing('prune old runs', () => pruneRuns(before, kept, limit)),
    pruneDeployments: (before, kept, limit) => writing('prune old deployments', () => pruneDeployments(before, kept, limit)),
    pruneTickClaims: (before, limit) => ticks.prune(before, limit),
    existingRuns: (ids) => new Set(q.existing.all(JSON.stringify(ids)) as string[]),
  };
}
