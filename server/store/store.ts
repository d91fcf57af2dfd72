import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ServiceFault } from '../errors.ts';
import type { FlowOutcome, FlowResult, Reachability, RunnerOutcome, Verdict } from '../verdict/types.ts';
import { MIGRATIONS } from './migrations.ts';
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
}

export interface Store {
  /** Inserts the deployment and its first run in one transaction; returns the existing deployment for a known key. */
  createDeployment(input: NewDeployment): { deployment: DeploymentRecord; run?: RunRecord; created: boolean };
  getDeployment(id: string): DeploymentRecord | undefined;
  /** The deployment a caller's idempotency key (`deploymentId`) started, if any. */
  getDeploymentByKey(key: string): DeploymentRecord | undefined;
  listDeployments(filter: { environment?: string; limit: number }): DeploymentRecord[];
  /** Deployments not yet done, oldest first. */
  openDeployments(): DeploymentRecord[];
  markDeploymentRunning(id: string): void;
  finishDeployment(id: string, verdict: Verdict | undefined, supersededBy?: string): void;

  createRun(input: NewRun): RunRecord;
  getRun(id: string): RunWithResults | undefined;
  listRuns(filter: { environment?: string; limit: number }): RunRecord[];
  runsOfDeployment(deploymentId: string): RunRecord[];
  /** Runs that were queued or running, oldest first. */
  openRuns(): RunRecord[];
  /** The newest run a schedule started that has ended, however it ended. */
  lastFinishedRunOfSchedule(schedule: string): RunRecord | undefined;
  markRunRunning(id: string): void;
  recordFlowResult(runId: string, result: FlowResult): void;
  finishRun(id: string, end: RunEnd): void;
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

type Row = Record<string, unknown>;

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
    upsertResult: db.prepare(
      `INSERT OR REPLACE INTO flow_results (run_id, environment, flow, file, line, outcome, duration_ms, retries, error, artifacts_json, recorded_at)
       VALUES (@runId, @environment, @flow, @file, @line, @outcome, @durationMs, @retries, @error, @artifacts, @now)`,
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
    createDeployment: (input) => createDeployment(input),
    getDeployment: (id) => maybe(q.deploymentById.get(id) as Row | undefined, toDeployment),
    getDeploymentByKey: (key) => maybe(q.deploymentByKey.get(key) as Row | undefined, toDeployment),
    listDeployments: ({ environment, limit }) =>
      (environment
        ? db.prepare('SELECT * FROM deployments WHERE environment = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(environment, limit)
        : db.prepare('SELECT * FROM deployments ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit)
      ).map((r) => toDeployment(r as Row)),
    openDeployments: () =>
      db.prepare(`SELECT * FROM deployments WHERE status <> 'done' ORDER BY created_at, rowid`).all().map((r) => toDeployment(r as Row)),
    markDeploymentRunning: (id) => {
      db.prepare(`UPDATE deployments SET status = 'running', started_at = COALESCE(started_at, ?) WHERE id = ? AND status <> 'done'`).run(now(), id);
    },
    finishDeployment: (id, verdict, supersededBy) => {
      db.prepare(
        `UPDATE deployments SET status = 'done', verdict = ?, verdict_json = ?, superseded_by = ?, finished_at = ? WHERE id = ? AND status <> 'done'`,
      ).run(verdict?.kind ?? null, verdict ? JSON.stringify(verdict) : null, supersededBy ?? null, now(), id);
    },
    createRun: insertRun,
    getRun: (id) => {
      const row = q.runById.get(id) as Row | undefined;
      if (!row) return undefined;
      return { ...toRun(row), results: (q.resultsOfRun.all(id) as Row[]).map(toResult) };
    },
    listRuns: ({ environment, limit }) =>
      (environment
        ? db
            .prepare(
              'SELECT * FROM runs WHERE EXISTS (SELECT 1 FROM json_each(runs.environments_json) WHERE value = ?) ORDER BY seq DESC LIMIT ?',
            )
            .all(environment, limit)
        : db.prepare('SELECT * FROM runs ORDER BY seq DESC LIMIT ?').all(limit)
      ).map((r) => toRun(r as Row)),
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
    markRunRunning: (id) => {
      db.prepare(`UPDATE runs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'`).run(now(), id);
    },
    recordFlowResult: (runId, result) => {
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
        artifacts: JSON.stringify(result.artifacts),
        now: now(),
      });
    },
    finishRun: (id, end) => {
      db.prepare(
        `UPDATE runs SET status = @status, verdict = @verdict, verdict_json = @verdictJson, outcome_json = @outcome,
           reachability_json = @reachability, diagnostics_json = @diagnostics, note = @note, finished_at = @now
         WHERE id = @id AND status IN ('queued', 'running')`,
      ).run({
        id,
        status: end.status,
        verdict: end.verdict?.kind ?? null,
        verdictJson: end.verdict ? JSON.stringify(end.verdict) : null,
        outcome: end.outcome ? JSON.stringify(end.outcome) : null,
        reachability: end.reachability ? JSON.stringify(end.reachability) : null,
        diagnostics: JSON.stringify(end.diagnostics ?? []),
        note: end.note ?? null,
        now: now(),
      });
    },
    latestDeployments: () =>
      db
        .prepare(
          `SELECT * FROM deployments d WHERE rowid = (
             SELECT rowid FROM deployments WHERE environment = d.environment ORDER BY created_at DESC, rowid DESC LIMIT 1)`,
        )
        .all()
        .map((r) => toDeployment(r as Row)),
    lastFinishedRuns: () =>
      (
        db
          .prepare(
            `SELECT target, trigger, MAX(finished_at) AS finished_at, MAX(CASE WHEN verdict = 'pass' THEN finished_at END) AS passed_at
             FROM runs WHERE status = 'done' AND finished_at IS NOT NULL GROUP BY target, trigger`,
          )
          .all() as Row[]
      ).map((r) =>
        strip({ target: r.target as string, trigger: r.trigger as RunTrigger, finishedAt: r.finished_at as string, passedAt: optional<string>(r.passed_at) }),
      ),
    latestFlowOutcomes: () =>
      (
        db
          .prepare(
            `WITH results AS (
               SELECT f.environment, f.flow, f.outcome, r.seq FROM flow_results f JOIN runs r ON r.id = f.run_id),
             ranked AS (
               SELECT environment, flow, outcome,
                 ROW_NUMBER() OVER (PARTITION BY environment, flow ORDER BY outcome IN ('passed', 'failed', 'flaky') DESC, seq DESC) AS n,
                 MAX(seq) OVER (PARTITION BY environment, flow) AS flow_seq
               FROM results),
             newest AS (SELECT environment, MAX(seq) AS seq FROM results GROUP BY environment)
             SELECT ranked.environment, ranked.flow, ranked.outcome FROM ranked
             JOIN newest ON newest.environment = ranked.environment AND newest.seq = ranked.flow_seq
             WHERE ranked.n = 1 ORDER BY ranked.environment, ranked.flow`,
          )
          .all() as Row[]
      ).map((r) =>
        strip({
          environment: r.environment as string,
          flow: r.flow as string,
          outcome: ['passed', 'failed', 'flaky'].includes(r.outcome as string) ? (r.outcome as LatestFlowOutcome['outcome']) : undefined,
        }),
      ),
    ping: () => {
      db.prepare('SELECT 1').get();
    },
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

function maybe<T>(row: Row | undefined, map: (row: Row) => T): T | undefined {
  return row ? map(row) : undefined;
}

function optional<T>(value: unknown, map: (v: never) => T = (v) => v as T): T | undefined {
  return value === null || value === undefined ? undefined : map(value as never);
}

function toDeployment(row: Row): DeploymentRecord {
  return strip({
    id: row.id as string,
    idempotencyKey: optional<string>(row.idempotency_key),
    service: row.service as string,
    environment: row.environment as string,
    baseline: optional<string>(row.baseline),
    version: row.version as string,
    status: row.status as DeploymentRecord['status'],
    verdict: optional(row.verdict_json, (v: string) => JSON.parse(v) as Verdict),
    supersededBy: optional<string>(row.superseded_by),
    createdAt: row.created_at as string,
    startedAt: optional<string>(row.started_at),
    finishedAt: optional<string>(row.finished_at),
  });
}

function toRun(row: Row): RunRecord {
  return strip({
    id: row.id as string,
    deploymentId: optional<string>(row.deployment_id),
    trigger: row.trigger as RunTrigger,
    target: row.target as string,
    environments: JSON.parse(row.environments_json as string) as string[],
    schedule: optional<string>(row.schedule),
    grep: optional<string>(row.grep),
    status: row.status as RunStatus,
    verdict: optional(row.verdict_json, (v: string) => JSON.parse(v) as Verdict),
    outcome: optional(row.outcome_json, (v: string) => JSON.parse(v) as RunnerOutcome),
    reachability: optional(row.reachability_json, (v: string) => JSON.parse(v) as Record<string, Reachability>),
    diagnostics: row.diagnostics_json ? (JSON.parse(row.diagnostics_json as string) as string[]) : [],
    note: optional<string>(row.note),
    createdAt: row.created_at as string,
    startedAt: optional<string>(row.started_at),
    finishedAt: optional<string>(row.finished_at),
  });
}

function toResult(row: Row): FlowResult {
  return strip({
    environment: row.environment as string,
    flow: row.flow as string,
    file: row.file as string,
    line: optional<number>(row.line),
    outcome: row.outcome as FlowResult['outcome'],
    durationMs: row.duration_ms as number,
    retries: row.retries as number,
    error: optional<string>(row.error),
    artifacts: JSON.parse(row.artifacts_json as string) as FlowResult['artifacts'],
  });
}

/** Drops undefined fields so records compare and serialise cleanly. */
function strip<T extends object>(record: T): T {
  for (const key of Object.keys(record) as (keyof T)[]) if (record[key] === undefined) delete record[key];
  return record;
}
