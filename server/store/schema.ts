import type { Generated } from 'kysely';

/**
 * The tables as Kysely sees them, the same on SQLite and PostgreSQL: times
 * are ISO-8601 UTC text (they sort as they read, and bind on both drivers),
 * epoch milliseconds are integers (BIGINT on PostgreSQL, read back as
 * numbers), JSON is text. Only what each engine needs to stay correct under
 * concurrency differs, and lives in the migrations: `runs.seq` is an
 * identity column on PostgreSQL, `MAX(seq) + 1` on SQLite's single writer.
 */
export interface Schema {
  deployments: DeploymentsTable;
  runs: RunsTable;
  flow_results: FlowResultsTable;
  signals: SignalsTable;
  signal_attempts: SignalAttemptsTable;
  gate_deliveries: GateDeliveriesTable;
  github_statuses: GitHubStatusesTable;
  tick_claims: TickClaimsTable;
  write_probe: WriteProbeTable;
}

export interface DeploymentsTable {
  id: string;
  idempotency_key: string | null;
  service: string;
  environment: string;
  baseline: string | null;
  version: string;
  status: 'queued' | 'running' | 'done';
  verdict: 'pass' | 'fail' | 'inconclusive' | null;
  verdict_json: string | null;
  superseded_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface RunsTable {
  id: string;
  /** Order of creation; `Generated` because PostgreSQL assigns it. */
  seq: Generated<number>;
  deployment_id: string | null;
  trigger: 'deploy' | 'schedule' | 'manual';
  target: string;
  environments_json: string;
  schedule: string | null;
  grep: string | null;
  status: 'queued' | 'running' | 'done' | 'cancelled' | 'interrupted';
  verdict: 'pass' | 'fail' | 'inconclusive' | null;
  verdict_json: string | null;
  outcome_json: string | null;
  reachability_json: string | null;
  diagnostics_json: string | null;
  note: string | null;
  attempts_json: string | null;
  timings_json: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** `server.instanceId` of the replica that claimed it. */
  replica: string | null;
  /** Epoch ms until which its replica holds it; a running run past it has lost its replica. */
  lease_expires_at: number | null;
}

export interface FlowResultsTable {
  run_id: string;
  environment: string;
  flow: string;
  file: string;
  line: number | null;
  outcome: 'passed' | 'failed' | 'flaky' | 'skipped' | 'error';
  duration_ms: number;
  retries: number;
  error: string | null;
  fault: string | null;
  artifacts_json: string;
  recorded_at: string;
}

export interface SignalsTable {
  id: string;
  deployment_id: string;
  webhook: string;
  event: string;
  payload: string;
  status: 'pending' | 'delivered' | 'rejected' | 'dead';
  attempts: number;
  /** Epoch ms; while a replica delivers it, the end of that replica's lease. */
  next_attempt_at: number;
  expires_at: number;
  created_at: string;
  delivered_at: string | null;
  last_error: string | null;
}

export interface SignalAttemptsTable {
  signal_id: string;
  attempt: number;
  started_at: string;
  status_code: number | null;
  status_class: string;
  latency_ms: number;
  error: string | null;
}

export interface GateDeliveriesTable {
  source: string;
  delivery_id: string;
  deployment_id: string;
  received_at: number;
}

export interface GitHubStatusesTable {
  deployment_id: string;
  kind: 'commit' | 'deployment';
  repository: string;
  sha: string | null;
  github_deployment_id: number | null;
  environment_url: string | null;
  environment: string;
  state: 'pending' | 'success' | 'failure' | 'error';
  description: string;
  status: 'waiting' | 'queued' | 'posted' | 'failed';
  attempts: number;
  next_attempt_at: number;
  updated_at: number;
  revision: number;
  last_error: string | null;
}

export interface TickClaimsTable {
  schedule: string;
  slot: string;
  replica: string | null;
  claimed_at: string;
}

export interface WriteProbeTable {
  id: Generated<number>;
  payload: Uint8Array;
}
