import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ServiceFault } from '../errors.ts';
import type { AttemptCounts, FlowOutcome, FlowResult, Reachability, RunnerOutcome, RunTimings, Verdict, VerdictKind } from '../verdict/types.ts';
import { writing } from './faults.ts';
import { MIGRATIONS } from './migrations.ts';
import { createLatestFlowOutcomes } from './flow-outcomes.ts';
import { distinctRunValues, LAST_JUDGED, LAST_PASSED, TRIGGERS } from './scans.ts';
import { createStoreRetention, type StoreRetention } from './retention.ts';
import { createTickClaims } from './ticks.ts';
import { maybe, optional, strip, toDeployment, toResult, toRun, type Row } from './rows.ts';
import type { DeploymentRecord, RunRecord, RunStatus, RunTrigger, RunWithResults } from './records.ts';

export interface NewDeployment {
  readonly idempotencyKey?: string;
  readonly service: string;
  readonly environment: string;
  readonly baseline?: string;
  readonly version: string;
}

export interface NewRun {
  readonly deploymentId?: string;
  readonly trigger: RunTrigger;
  readonly target: string;
  readonly environments: readonly string[];
  readonly schedule?: string;
  readonly grep?: string;
}

export interface RunEnd {
  readonly status: Extract<RunStatus, 'done' | 'cancelled' | 'interrupted'>;
  readonly verdict?: Verdict;
  readonly outcome?: RunnerOutcome;
  readonly reachability?: Record<string, Reachability>;
  readonly diagnostics?: readonly string[];
  readonly note?: string;
  readonly attempts?: AttemptCounts;
  readonly timings?: RunTimings;
}

/** How a verification ends, written in one transaction: its run, its deployment, or both. */
export interface Settlement {
  readonly run?: { readonly id: string; readonly end: RunEnd };
  readonly deployment?: { readonly id: string; readonly verdict?: Verdict; readonly supersededBy?: string };
}

/** Bytes /readyz writes and deletes: a few pages, so a database that cannot grow says so. */
const PROBE_BYTES = 8 * 1024;

/**
 * Every write raises `StoreUnavailable` (from `../errors.ts`) when SQLite
 * cannot write (disk full, read-only, I/O error); nothing is half-written.
 */
export interface Store {
  /** Inserts the deployment and its first run in one transaction; returns the existing deployment for a known key. */
  createDeployment(input: NewDeployment): { deployment: DeploymentRecord; run?: RunRecord; created: boolean };
  getDeployment(id: string): DeploymentRecord | undefined;
  /** The deployment a caller's idempotency key (`deploymentId`) started, if any. */
  getDeploymentByKey(key: string): DeploymentRecord | undefined;
  /** Newest first; `verdict: 'pending'` is a deployment not yet done. */
  listDeployments(filter: { environment?: string; verdict?: VerdictKind | 'pending'; limit: number }): DeploymentRecord[];
  /** Deployments not yet done, oldest first. */
  openDeployments(): DeploymentRecord[];
  finishDeployment(id: string, verdict: Verdict | undefined, supersededBy?: string): void;

  createRun(input: NewRun): RunRecord;
  getRun(id: string): RunWithResults | undefined;
  listRuns(filter: { environment?: string; schedule?: string; limit: number }): RunRecord[];
  runsOfDeployment(deploymentId: string): RunRecord[];
  /** Runs that were queued or running, oldest first. */
  openRuns(): RunRecord[];
  /** The newest run a schedule started that has ended, however it ended. */
  lastFinishedRunOfSchedule(schedule: string): RunRecord | undefined;
  /**
   * Marks a queued run running, and its deployment with it; `replica` is the
   * `server.instanceId` of the replica that took it (absent only where a test
   * drives the store by hand).
   */
  markRunRunning(id: string, replica?: string): void;
  /**
   * Takes the cron tick of `schedule` at `slot` (its scheduled time, ISO UTC)
   * for this replica: true for the one call, across every replica sharing
   * the store, that got it first; false for the rest.
   */
  claimTick(schedule: string, slot: string, replica?: string): boolean;
  recordFlowResult(runId: string, result: FlowResult): void;
  finishRun(id: string, end: RunEnd): void;
  /** Ends a run and its deployment together; says which of them were still open (and so changed). */
  settle(settlement: Settlement): { run: boolean; deployment: boolean };
  /** The newest deployment of each environment: the version it runs now. */
  latestDeployments(): DeploymentRecord[];
  /** Per target and trigger, when its last judged run finished and when its last passing one did. */
  lastFinishedRuns(): FinishedRunTimes[];
  /**
   * The flows of each environment's newest run with results (so flows dropped
   * from the suite fall away), each with its newest passed/failed/flaky outcome.
   */
  latestFlowOutcomes(): LatestFlowOutcome[];
  /** For readiness: throws when the database cannot answer. */
  ping(): void;
  /**
   * For readiness: writes a few KB and deletes them in one transaction, so it
   * throws `StoreUnavailable` when the database cannot grow (a full disk
   * still lets a write that needs no new page through).
   */
  probeWrite(): void;
  /** Queries of the retention pass: what to keep, and old runs and deployments in batches. */
  readonly retention: StoreRetention;
  /** The open database, for modules that keep their own tables in the same file (the signal outbox). */
  readonly db: Database.Database;
  close(): void;
}

export interface FinishedRunTimes {
  readonly target: string;
  readonly trigger: RunTrigger;
  /** ISO time. */
  readonly finishedAt: string;
  /** ISO time of the newest run with a pass verdict, if any. */
  readonly passedAt?: string;
}

export interface LatestFlowOutcome {
  readonly environment: string;
  readonly flow: string;
  /** Absent when the flow was only ever skipped or errored. */
  readonly outcome?: Extract<FlowOutcome, 'passed' | 'failed' | 'flaky'>;
}

export function openStore(file: string): Store {
  let db: Database.Database;
  try {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: a verdict acknowledged to a pipeline must survive a power cut.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (err) {
    throw new ServiceFault(`cannot open the SQLite store at ${file}`, { cause: err });
  }

  const now = () => new Date().toISOString();
  const q = {
    insertDeployment: db.prepare(
      `INSERT INTO deployments (id, idempotency_key, service, environment, baseline, version, status, created_at)
       VALUES (@id, @key, @service, @environment, @baseline, @version, 'queued', @now)`,
    ),
    deploymentById: db.prepare('SELECT * FROM deployments WHERE id = ?'),
    deploymentByKey: db.prepare('SELECT * FROM deployments WHERE idempotency_key = ?'),
    insertRun: db.prepare(
      `INSERT INTO runs (id, seq, deployment_id, trigger, target, environments_json, schedule, grep, status, created_at)
       VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM runs), @deploymentId, @trigger, @target, @environments, @schedule, @grep, 'queued', @now)`,
    ),
    runById: db.prepare('SELECT * FROM runs WHERE id = ?'),
    resultsOfRun: db.prepare('SELECT * FROM flow_results WHERE run_id = ? ORDER BY recorded_at, environment, flow'),
    runRunning: db.prepare(`UPDATE runs SET status = 'running', started_at = @now, replica = @replica WHERE id = @id AND status = 'queued'`),
    deploymentRunning: db.prepare(
      `UPDATE deployments SET status = 'running', started_at = COALESCE(started_at, @now)
       WHERE id = (SELECT deployment_id FROM runs WHERE id = @id) AND status <> 'done'`,
    ),
    finishRun: db.prepare(
      `UPDATE runs SET status = @status, verdict = @verdict, verdict_json = @verdictJson, outcome_json = @outcome,
         reachability_json = @reachability, diagnostics_json = @diagnostics, note = @note,
         attempts_json = @attempts, timings_json = @timings, finished_at = @now
       WHERE id = @id AND status IN ('queued', 'running')`,
    ),
    finishDeployment: db.prepare(
      `UPDATE deployments SET status = 'done', verdict = @verdict, verdict_json = @verdictJson, superseded_by = @supersededBy, finished_at = @now
       WHERE id = @id AND status <> 'done'`,
    ),
    probeInsert: db.prepare('INSERT INTO write_probe (payload) VALUES (zeroblob(?))'),
    probeDelete: db.prepare('DELETE FROM write_probe'),
    upsertResult: db.prepare(
      `INSERT OR REPLACE INTO flow_results (run_id, environment, flow, file, line, outcome, duration_ms, retries, error, fault, artifacts_json, recorded_at)
       VALUES (@runId, @environment, @flow, @file, @line, @outcome, @durationMs, @retries, @error, @fault, @artifacts, @now)`,
    ),
  };

  const createDeployment = db.transaction((input: NewDeployment) => {
    if (input.idempotencyKey !== undefined) {
      const existing = q.deploymentByKey.get(input.idempotencyKey) as Row | undefined;
      if (existing) return { deployment: toDeployment(existing), created: false };
    }
    const id = newId('dep');
    const at = now();
    q.insertDeployment.run({
      id,
      key: input.idempotencyKey ?? null,
      service: input.service,
      environment: input.environment,
      baseline: input.baseline ?? null,
      version: input.version,
      now: at,
    });
    const run = insertRun({ deploymentId: id, trigger: 'deploy', target: input.environment, environments: envsOf(input) });
    return { deployment: toDeployment(q.deploymentById.get(id) as Row), run, created: true };
  });

  const settle = db.transaction(({ run, deployment }: Settlement) => {
    const at = now();
    const runChanged = run
      ? q.finishRun.run({
          id: run.id,
          status: run.end.status,
          verdict: run.end.verdict?.kind ?? null,
          verdictJson: run.end.verdict ? JSON.stringify(run.end.verdict) : null,
          outcome: run.end.outcome ? JSON.stringify(run.end.outcome) : null,
          reachability: run.end.reachability ? JSON.stringify(run.end.reachability) : null,
          diagnostics: JSON.stringify(run.end.diagnostics ?? []),
          note: run.end.note ?? null,
          attempts: run.end.attempts ? JSON.stringify(run.end.attempts) : null,
          timings: run.end.timings ? JSON.stringify(run.end.timings) : null,
          now: at,
        }).changes > 0
      : false;
    const deploymentChanged = deployment
      ? q.finishDeployment.run({
          id: deployment.id,
          verdict: deployment.verdict?.kind ?? null,
          verdictJson: deployment.verdict ? JSON.stringify(deployment.verdict) : null,
          supersededBy: deployment.supersededBy ?? null,
          now: at,
        }).changes > 0
      : false;
    return { run: runChanged, deployment: deploymentChanged };
  });

  const markRunning = db.transaction((id: string, replica: string | undefined) => {
    const at = now();
    q.runRunning.run({ id, now: at, replica: replica ?? null });
    q.deploymentRunning.run({ id, now: at });
  });

  const probe = db.transaction(() => {
    q.probeInsert.run(PROBE_BYTES);
    q.probeDelete.run();
  });

  const ticks = createTickClaims(db);

  const judged = {
    targets: db.prepare(distinctRunValues('target')).pluck(),
    last: db.prepare(LAST_JUDGED),
    passed: db.prepare(LAST_PASSED),
  };
  /** Per target and trigger, through indexes: read on every metrics scrape, so never a pass over every run. */
  function lastFinishedRuns(): FinishedRunTimes[] {
    const times: FinishedRunTimes[] = [];
    for (const target of (judged.targets.all() as string[]).sort()) {
      for (const trigger of [...TRIGGERS].sort()) {
        const last = judged.last.get(target, trigger) as Row | undefined;
        if (!last) continue;
        const passed = judged.passed.get(target, trigger) as Row | undefined;
        times.push(strip({ target, trigger, finishedAt: last.finished_at as string, passedAt: optional<string>(passed?.finished_at) }));
      }
    }
    return times;
  }

  function insertRun(input: NewRun): RunRecord {
    const id = newId('run');
    q.insertRun.run({
      id,
      deploymentId: input.deploymentId ?? null,
      trigger: input.trigger,
      target: input.target,
      environments: JSON.stringify(input.environments),
      schedule: input.schedule ?? null,
      grep: input.grep ?? null,
      now: now(),
    });
    return toRun(q.runById.get(id) as Row);
  }

  return {
    createDeployment: (input) => writing('record the deployment', () => createDeployment(input)),
    getDeployment: (id) => maybe(q.deploymentById.get(id) as Row | undefined, toDeployment),
    getDeploymentByKey: (key) => maybe(q.deploymentByKey.get(key) as Row | undefined, toDeployment),
    listDeployments: ({ environment, verdict, limit }) => {
      const where = [environment !== undefined && 'environment = @environment', verdict === 'pending' ? "status <> 'done'" : verdict !== undefined && 'verdict = @verdict'].filter(Boolean);
      return db
        .prepare(`SELECT * FROM deployments ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT @limit`)
        .all({ limit, ...(environment !== undefined && { environment }), ...(verdict !== undefined && verdict !== 'pending' && { verdict }) })
        .map((r) => toDeployment(r as Row));
    },
    openDeployments: () =>
      db.prepare(`SELECT * FROM deployments WHERE status <> 'done' ORDER BY created_at, rowid`).all().map((r) => toDeployment(r as Row)),
    finishDeployment: (id, verdict, supersededBy) => {
      writing('finish the deployment', () => settle({ deployment: { id, ...(verdict && { verdict }), ...(supersededBy !== undefined && { supersededBy }) } }));
    },
    createRun: (input) => writing('record the run', () => insertRun(input)),
    getRun: (id) => {
      const row = q.runById.get(id) as Row | undefined;
      if (!row) return undefined;
      return { ...toRun(row), results: (q.resultsOfRun.all(id) as Row[]).map(toResult) };
    },
    listRuns: ({ environment, schedule, limit }) => {
      const where = [
        environment !== undefined && 'EXISTS (SELECT 1 FROM json_each(runs.environments_json) WHERE value = @environment)',
        schedule !== undefined && 'schedule = @schedule',
      ].filter(Boolean);
      return db
        .prepare(`SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`)
        .all({ limit, ...(environment !== undefined && { environment }), ...(schedule !== undefined && { schedule }) })
        .map((r) => toRun(r as Row));
    },
    runsOfDeployment: (deploymentId) =>
      db.prepare('SELECT * FROM runs WHERE deployment_id = ? ORDER BY seq').all(deploymentId).map((r) => toRun(r as Row)),
    openRuns: () => db.prepare(`SELECT * FROM runs WHERE status IN ('queued', 'running') ORDER BY seq`).all().map((r) => toRun(r as Row)),
    lastFinishedRunOfSchedule: (schedule) =>
      maybe(
        db
          .prepare(`SELECT * FROM runs WHERE schedule = ? AND status IN ('done', 'cancelled', 'interrupted') ORDER BY seq DESC LIMIT 1`)
          .get(schedule) as Row | undefined,
        toRun,
      ),
    markRunRunning: (id, replica) => writing('start the run', () => markRunning(id, replica)),
    recordFlowResult: (runId, result) => {
      writing('record a flow result', () =>
        q.upsertResult.run({
          runId,
          environment: result.environment,
          flow: result.flow,
          file: result.file,
          line: result.line ?? null,
          outcome: result.outcome,
          durationMs: Math.round(result.durationMs),
          retries: result.retries,
          error: result.error ?? null,
          fault: result.fault ?? null,
          artifacts: JSON.stringify(result.artifacts),
          now: now(),
        }),
      );
    },
    finishRun: (id, end) => {
      writing('finish the run', () => settle({ run: { id, end } }));
    },
    settle: (settlement) => writing('store how the verification ended', () => settle(settlement)),
    latestDeployments: () =>
      db
        .prepare(
          // A loose scan of deployments_environment: one lookup per environment, not a subquery per deployment.
          `WITH RECURSIVE e(value) AS (
             SELECT MIN(environment) FROM deployments
             UNION ALL SELECT (SELECT MIN(environment) FROM deployments WHERE environment > e.value) FROM e WHERE e.value IS NOT NULL)
           SELECT d.* FROM e JOIN deployments d ON d.rowid = (
             SELECT rowid FROM deployments WHERE environment = e.value ORDER BY created_at DESC, rowid DESC LIMIT 1)
           WHERE e.value IS NOT NULL`,
        )
        .all()
        .map((r) => toDeployment(r as Row)),
    lastFinishedRuns: () => lastFinishedRuns(),
    latestFlowOutcomes: createLatestFlowOutcomes(db),
    ping: () => {
      db.prepare('SELECT 1').get();
    },
    probeWrite: () => writing('write the readiness probe', () => probe()),
    claimTick: (schedule, slot, replica) => ticks.claim(schedule, slot, replica),
    retention: createStoreRetention(db, ticks),
    db,
    close: () => db.close(),
  };
}

function migrate(db: Database.Database): void {
  const applied = db.pragma('user_version', { simple: true }) as number;
  if (applied > MIGRATIONS.length) {
    throw new Error(`the database was written by a newer smoke (schema ${applied}, this one knows ${MIGRATIONS.length})`);
  }
  db.transaction(() => {
    for (let i = applied; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  })();
}

function envsOf(input: { environment: string; baseline?: string }): string[] {
  return input.baseline ? [input.environment, input.baseline] : [input.environment];
}

/** Sortable by creation time, unique without coordination. */
function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}
