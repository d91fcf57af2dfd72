/**
 * Schema changes in order; the database's `user_version` says how many have
 * been applied. Append only: a released migration never changes.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE deployments (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    service         TEXT NOT NULL,
    environment     TEXT NOT NULL,
    baseline        TEXT,
    version         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done')),
    verdict         TEXT CHECK (verdict IN ('pass', 'fail', 'inconclusive')),
    verdict_json    TEXT,
    superseded_by   TEXT,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT
  );
  CREATE INDEX deployments_environment ON deployments (environment, created_at);
  CREATE INDEX deployments_open ON deployments (status) WHERE status <> 'done';

  CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    seq               INTEGER NOT NULL,
    deployment_id     TEXT REFERENCES deployments (id),
    trigger           TEXT NOT NULL CHECK (trigger IN ('deploy', 'schedule', 'manual')),
    target            TEXT NOT NULL,
    environments_json TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'cancelled', 'interrupted')),
    verdict           TEXT CHECK (verdict IN ('pass', 'fail', 'inconclusive')),
    verdict_json      TEXT,
    outcome_json      TEXT,
    reachability_json TEXT,
    diagnostics_json  TEXT,
    note              TEXT,
    created_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT
  );
  CREATE INDEX runs_deployment ON runs (deployment_id);
  CREATE INDEX runs_target ON runs (target, seq);
  CREATE INDEX runs_open ON runs (status) WHERE status IN ('queued', 'running');

  CREATE TABLE flow_results (
    run_id         TEXT NOT NULL REFERENCES runs (id),
    environment    TEXT NOT NULL,
    flow           TEXT NOT NULL,
    file           TEXT NOT NULL,
    line           INTEGER,
    outcome        TEXT NOT NULL CHECK (outcome IN ('passed', 'failed', 'flaky', 'skipped', 'error')),
    duration_ms    INTEGER NOT NULL,
    retries        INTEGER NOT NULL,
    error          TEXT,
    artifacts_json TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    PRIMARY KEY (run_id, environment, flow)
  );
  `,
  `
  ALTER TABLE runs ADD COLUMN schedule TEXT;
  ALTER TABLE runs ADD COLUMN grep TEXT;
  `,
];
