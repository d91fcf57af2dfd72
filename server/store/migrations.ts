/**
 * SQLite's schema changes in order; the database's `user_version` says how
 * many have been applied. Append only: a released migration never changes.
 * PostgreSQL has its own list (`postgres-migrations.ts`) that ends at the
 * same tables and columns; a change to one is made to both.
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
  // A schedule's last run, for the schedules listing, without scanning every run.
  `
  CREATE INDEX runs_schedule ON runs (schedule, seq) WHERE schedule IS NOT NULL;
  `,
  // The rollback-signal outbox: a signal at most once per deployment, webhook and event.
  `
  CREATE TABLE signals (
    id              TEXT PRIMARY KEY,
    deployment_id   TEXT NOT NULL REFERENCES deployments (id),
    webhook         TEXT NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'rejected', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT,
    UNIQUE (deployment_id, webhook, event)
  );
  CREATE INDEX signals_due ON signals (next_attempt_at) WHERE status = 'pending';
  CREATE INDEX signals_status ON signals (status, created_at);

  CREATE TABLE signal_attempts (
    signal_id    TEXT NOT NULL REFERENCES signals (id),
    attempt      INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    status_code  INTEGER,
    status_class TEXT NOT NULL,
    latency_ms   INTEGER NOT NULL,
    error        TEXT,
    PRIMARY KEY (signal_id, attempt)
  );
  `,
  // Webhook deliveries the gates acted on (GitHub's X-GitHub-Delivery), so a redelivery starts nothing.
  `
  CREATE TABLE gate_deliveries (
    source        TEXT NOT NULL,
    delivery_id   TEXT NOT NULL,
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    received_at   INTEGER NOT NULL,
    PRIMARY KEY (source, delivery_id)
  );
  CREATE INDEX gate_deliveries_age ON gate_deliveries (received_at);
  `,
  // Scratch rows /readyz writes and deletes to learn whether the database can still grow.
  `
  CREATE TABLE write_probe (
    id      INTEGER PRIMARY KEY,
    payload BLOB NOT NULL
  );
  `,
  // Why a flow counts as the service's fault (its browser or worker died), apart from the error text.
  `
  ALTER TABLE flow_results ADD COLUMN fault TEXT;
  `,
  // Browser attempts per environment and where a run's time went (time to verdict, fixed cost per run).
  `
  ALTER TABLE runs ADD COLUMN attempts_json TEXT;
  ALTER TABLE runs ADD COLUMN timings_json TEXT;
  `,
  // Retention: whether a gate delivery still points at a deployment; each environment's newest
  // run with results and each flow's newest outcome, without a scan of every result.
  `
  CREATE INDEX gate_deliveries_deployment ON gate_deliveries (deployment_id);
  CREATE INDEX runs_seq ON runs (seq);
  CREATE INDEX flow_results_flow ON flow_results (environment, flow);
  `,
  // What each GitHub-gated deployment should show on GitHub and whether GitHub has it yet: a
  // commit status on the deployed sha and a deployment status on the GitHub deployment (which
  // says nothing until the verdict: 'waiting'). One row per (deployment, kind). No foreign key:
  // retention may delete the deployment before the row's own retention ends.
  `
  CREATE TABLE github_statuses (
    deployment_id        TEXT NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('commit', 'deployment')),
    repository           TEXT NOT NULL,
    sha                  TEXT CHECK (kind <> 'commit' OR sha IS NOT NULL),
    github_deployment_id INTEGER CHECK (kind <> 'deployment' OR github_deployment_id IS NOT NULL),
    environment_url      TEXT,
    environment          TEXT NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('pending', 'success', 'failure', 'error')),
    description          TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('waiting', 'queued', 'posted', 'failed')),
    attempts             INTEGER NOT NULL,
    next_attempt_at      INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    revision             INTEGER NOT NULL,
    last_error           TEXT,
    PRIMARY KEY (deployment_id, kind)
  );
  CREATE INDEX github_statuses_due ON github_statuses (next_attempt_at) WHERE status = 'queued';
  CREATE INDEX github_statuses_age ON github_statuses (updated_at) WHERE status <> 'queued';
  `,
  // The replica (`server.instanceId`) that started each run; NULL for runs from before, and for runs that never started.
  `
  ALTER TABLE runs ADD COLUMN replica TEXT;
  `,
  // The last judged run of each target and trigger, found through an index (retention keeps it; the metrics read it back).
  `
  CREATE INDEX runs_judged ON runs (target, trigger, finished_at) WHERE status = 'done' AND finished_at IS NOT NULL;
  `,
  // Which replica took each cron tick (schedule, slot: the scheduled time, ISO UTC): every replica
  // runs cron and the first INSERT of the key wins, so a tick runs once however many share the store.
  // Plain SQL (INSERT ... ON CONFLICT DO NOTHING) that PostgreSQL runs unchanged.
  `
  CREATE TABLE tick_claims (
    schedule   TEXT NOT NULL,
    slot       TEXT NOT NULL,
    replica    TEXT,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (schedule, slot)
  );
  CREATE INDEX tick_claims_slot ON tick_claims (slot);
  `,
  // Replicas claim queued runs from the store and hold them with a lease (epoch ms) they renew.
  // A deployment has at most one queued or running run, so two replicas resuming it cannot both
  // start one: older open runs of a deployment (possible before) are cancelled first. A run left
  // running by the smoke before this one has no replica renewing it: its lease has run out. Rowid
  // is gone from queries (PostgreSQL has none): deployments tie-break on id, so the index holds it.
  `
  ALTER TABLE runs ADD COLUMN lease_expires_at INTEGER;
  UPDATE runs SET lease_expires_at = 0 WHERE status = 'running';
  UPDATE runs SET status = 'cancelled', finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
    note = 'cancelled on upgrade: a newer run of its deployment was open'
  WHERE status IN ('queued', 'running') AND deployment_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM runs newer WHERE newer.deployment_id = runs.deployment_id AND newer.status IN ('queued', 'running') AND newer.seq > runs.seq);
  CREATE UNIQUE INDEX runs_one_open ON runs (deployment_id) WHERE status IN ('queued', 'running') AND deployment_id IS NOT NULL;
  CREATE INDEX runs_queue ON runs ((CASE trigger WHEN 'deploy' THEN 0 WHEN 'manual' THEN 1 ELSE 2 END), seq) WHERE status = 'queued';
  CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';
  DROP INDEX deployments_environment;
  CREATE INDEX deployments_environment ON deployments (environment, created_at, id);
  `,
];
