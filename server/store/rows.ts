import type { AttemptCounts, FlowResult, Reachability, RunnerOutcome, RunTimings, Verdict } from '../verdict/types.ts';
import type { DeploymentRecord, RunRecord, RunStatus, RunTrigger } from '../verification/records.ts';

/** A row as either engine returns it (epoch-ms and counts are numbers on both: see `connection.ts`). */
export type Row = Record<string, unknown>;

export function optional<T>(value: unknown, map: (v: never) => T = (v) => v as T): T | undefined {
  return value === null || value === undefined ? undefined : map(value as never);
}

export function toDeployment(row: Row): DeploymentRecord {
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

export function toRun(row: Row): RunRecord {
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
    attempts: optional(row.attempts_json, (v: string) => JSON.parse(v) as AttemptCounts),
    timings: optional(row.timings_json, (v: string) => JSON.parse(v) as RunTimings),
    createdAt: row.created_at as string,
    startedAt: optional<string>(row.started_at),
    finishedAt: optional<string>(row.finished_at),
    replica: optional<string>(row.replica),
  });
}

export function toResult(row: Row): FlowResult {
  return strip({
    environment: row.environment as string,
    flow: row.flow as string,
    file: row.file as string,
    line: optional<number>(row.line),
    outcome: row.outcome as FlowResult['outcome'],
    durationMs: row.duration_ms as number,
    retries: row.retries as number,
    error: optional<string>(row.error),
    fault: optional<string>(row.fault),
    artifacts: JSON.parse(row.artifacts_json as string) as FlowResult['artifacts'],
  });
}

/** Drops undefined fields so records compare and serialise cleanly. */
export function strip<T extends object>(record: T): T {
  for (const key of Object.keys(record) as (keyof T)[]) if (record[key] === undefined) delete record[key];
  return record;
}
