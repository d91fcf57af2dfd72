import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Store } from '../server/store/store.ts';

/**
 * A long history for the retention benchmark, written straight to the tables
 * in one transaction (the store's own inserts go one row at a time), shaped
 * like a service that has run for half a year: canary deploys with
 * production as their baseline, a nightly schedule on production, ~5 flow
 * results per run, a signal per failed deploy, and artifact folders (some
 * with a Playwright report) for a few runs, each folder aged like its run.
 */

const DAY_MS = 86_400_000;
/** How far back the history goes; with 30 days kept, five sixths of it is older than the window. */
export const HISTORY_DAYS = 180;
/** One run in this many is a canary deploy with its own deployment; the rest are the nightly schedule. */
const DEPLOY_EVERY = 4;
/** One deployment in this many fails and requests a rollback (a signal). */
const FAIL_EVERY = 10;
/** One failed deploy's signal in this many was never delivered (dead): kept, however old. */
const DEAD_SIGNAL_EVERY = 50;
/** One run in this many has an artifacts folder; one in REPORT_EVERY also a Playwright HTML report. */
const FOLDER_EVERY = 20;
const REPORT_EVERY = 80;
/** One folder with no run row (a crash between deleting a row and its folder) per this many runs. */
const ORPHAN_EVERY = 1_000;
/** File sizes in a run folder, bytes: small, as the pass's cost is per folder and per file, not per byte. */
const FILES = { 'target/screenshot.png': 4_096, 'target/trace.zip': 16_384 } as const;
const REPORT_FILES = { 'report/index.html': 2_048, 'report/data/trace.zip': 8_192 } as const;
const FLOWS = ['checkout', 'search', 'login', 'cart', 'account'] as const;
export const SCHEDULE = 'nightly';

export interface History {
  readonly runs: number;
  readonly deployments: number;
  readonly flowResults: number;
  readonly signals: number;
  readonly undeliveredSignals: number;
  readonly folders: number;
  readonly reports: number;
  readonly orphans: number;
  /** Runs that ended before the retention window. */
  readonly olderThanWindow: number;
  /** The newest deployment: its page is what a rollback message links to. */
  readonly newestDeployment: string;
}

/** Writes `runs` runs ending at `nowMs`, the oldest first (rowid order is time order, as in the service). */
export function writeHistory(store: Store, artifactsDir: string, runs: number, nowMs: number, retentionDays: number): History {
  const db = store.db;
  const insertDeployment = db.prepare(
    `INSERT INTO deployments (id, service, environment, baseline, version, status, verdict, verdict_json, created_at, started_at, finished_at)
     VALUES (?, 'shop', 'canary', 'production', ?, 'done', ?, ?, ?, ?, ?)`,
  );
  const insertRun = db.prepare(
    `INSERT INTO runs (id, seq, deployment_id, trigger, target, environments_json, schedule, status, verdict, verdict_json, created_at, started_at, finished_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'done', ?, ?, ?, ?, ?)`,
  );
  const insertResult = db.prepare(
    `INSERT INTO flow_results (run_id, environment, flow, file, outcome, duration_ms, retries, error, artifacts_json, recorded_at)
     VALUES (?, ?, ?, 'shop.spec.ts', ?, ?, ?, ?, '[]', ?)`,
  );
  const insertSignal = db.prepare(
    `INSERT INTO signals (id, deployment_id, webhook, event, payload, status, attempts, next_attempt_at, expires_at, created_at, delivered_at, last_error)
     VALUES (?, ?, 'deployer', 'deployment.rollback_requested', '{}', ?, 1, ?, ?, ?, ?, ?)`,
  );
  const insertAttempt = db.prepare(
    `INSERT INTO signal_attempts (signal_id, attempt, started_at, status_code, status_class, latency_ms, error) VALUES (?, 1, ?, ?, ?, 12, ?)`,
  );
  const pass = JSON.stringify({ kind: 'pass', reasons: [], flaky: [] });
  const fail = JSON.stringify({ kind: 'fail', reasons: ['checkout failed on canary'], failed: [{ flow: 'checkout', environment: 'canary' }] });
  const windowStart = nowMs - retentionDays * DAY_MS;
  const counts = { deployments: 0, flowResults: 0, signals: 0, undeliveredSignals: 0, folders: 0, reports: 0, orphans: 0, olderThanWindow: 0 };
  let newestDeployment = '';
  const folders: { id: string; atMs: number; report: boolean }[] = [];

  db.transaction(() => {
    for (let i = 0; i < runs; i++) {
      const atMs = nowMs - HISTORY_DAYS * DAY_MS + ((i + 0.5) * HISTORY_DAYS * DAY_MS) / runs;
      const started = new Date(atMs - 60_000).toISOString();
      const finished = new Date(atMs).toISOString();
      const id = `run_${key(i)}`;
      const deploy = i % DEPLOY_EVERY === 0;
      const failed = deploy && (i / DEPLOY_EVERY) % FAIL_EVERY === FAIL_EVERY - 1;
      let deploymentId: string | null = null;
      if (deploy) {
        deploymentId = `dep_${key(i)}`;
        insertDeployment.run(deploymentId, `v${i}`, failed ? 'fail' : 'pass', failed ? fail : pass, started, started, finished);
        counts.deployments++;
        newestDeployment = deploymentId;
        if (failed) {
          const dead = counts.signals % DEAD_SIGNAL_EVERY === DEAD_SIGNAL_EVERY - 1;
          const signalId = `msg_${key(i)}`;
          insertSignal.run(signalId, deploymentId, dead ? 'dead' : 'delivered', atMs, atMs + DAY_MS, finished, dead ? null : finished, dead ? 'HTTP 500' : null);
          insertAttempt.run(signalId, finished, dead ? 500 : 204, dead ? '5xx' : '2xx', dead ? 'HTTP 500' : null);
          counts.signals++;
          if (dead) counts.undeliveredSignals++;
        }
      }
      const target = deploy ? 'canary' : 'production';
      const environments = deploy ? ['canary', 'production'] : ['production'];
      insertRun.run(id, i + 1, deploymentId, deploy ? 'deploy' : 'schedule', target, JSON.stringify(environments), deploy ? null : SCHEDULE, failed ? 'fail' : 'pass', failed ? fail : pass, started, started, finished);
      FLOWS.forEach((flow, f) => {
        // A deploy runs three flows on the canary and two on its baseline; the schedule all five on production.
        const environment = deploy && f >= 3 ? 'production' : target;
        const broken = failed && flow === 'checkout';
        insertResult.run(id, environment, flow, broken ? 'failed' : 'passed', 800 + ((i * 7 + f * 131) % 2_000), broken ? 2 : 0, broken ? 'expect(locator).toBeVisible() failed' : null, finished);
        counts.flowResults++;
      });
      if (atMs < windowStart) counts.olderThanWindow++;
      if (i % FOLDER_EVERY === 0) folders.push({ id, atMs, report: i % REPORT_EVERY === 0 });
      if (i % ORPHAN_EVERY === ORPHAN_EVERY - 1) folders.push({ id: `run_orphan${key(i)}`, atMs, report: false });
    }
  })();

  for (const folder of folders) {
    const files: Record<string, number> = { ...FILES, ...(folder.report && REPORT_FILES) };
    for (const [file, bytes] of Object.entries(files)) {
      const at = path.join(artifactsDir, folder.id, file);
      mkdirSync(path.dirname(at), { recursive: true });
      writeFileSync(at, Buffer.alloc(bytes, 1));
    }
    const when = new Date(folder.atMs);
    utimesSync(path.join(artifactsDir, folder.id), when, when);
    if (folder.id.startsWith('run_orphan')) counts.orphans++;
    else counts.folders++;
    if (folder.report) counts.reports++;
  }
  return { runs, ...counts, newestDeployment };
}

/** A run id's tail: base 36, padded so ids sort in the order they were written. */
function key(i: number): string {
  return i.toString(36).padStart(6, '0');
}
