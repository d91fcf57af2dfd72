import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDeliveries } from '../gates/deliveries.ts';
import { createStorageMetrics } from '../metrics/storage-metrics.ts';
import { createOutbox } from '../signals/outbox.ts';
import { openStore, type Store } from '../store/store.ts';
import type { RunEnd } from '../store/store.ts';
import type { FlowResult, Verdict } from '../verdict/types.ts';
import { createPruner, type PassReport } from './pruner.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2027-03-01T12:00:00.000Z');
const iso = (daysAgo: number) => new Date(NOW - daysAgo * DAY).toISOString();
const PASS: Verdict = { kind: 'pass', reasons: [], flaky: [] };
const FAIL: Verdict = { kind: 'fail', reasons: ['checkout failed'], failed: [{ flow: 'checkout', environment: 'canary' }] };

const result = (environment: string, flow: string, outcome: FlowResult['outcome']): FlowResult => ({
  environment,
  flow,
  file: 'shop.spec.ts',
  outcome,
  durationMs: 100,
  retries: 0,
  artifacts: [],
});

/**
 * A history with an injected "now": what goes and what stays is named for
 * each row, so the assertions read as the rules.
 */
describe('retention pass over a history', () => {
  let dir: string;
  let artifacts: string;
  let store: Store;
  let registry: Registry;
  let report: PassReport;
  const ids: Record<string, string> = {};
  let before_: { latestDeployments: unknown; lastFinishedRuns: unknown; latestFlowOutcomes: unknown; schedule: unknown };

  /** Writes a run folder the way the runner and the report do, with its files `bytes` long; ages it like its run. */
  function folder(runId: string, daysAgo: number, files: Record<string, number>): void {
    for (const [file, bytes] of Object.entries(files)) {
      const at = path.join(artifacts, runId, file);
      mkdirSync(path.dirname(at), { recursive: true });
      writeFileSync(at, Buffer.alloc(bytes));
    }
    const when = new Date(NOW - daysAgo * DAY);
    utimesSync(path.join(artifacts, runId), when, when);
  }

  function age(table: 'runs' | 'deployments', id: string, createdDaysAgo: number, finishedDaysAgo?: number): void {
    store.db
      .prepare(`UPDATE ${table} SET created_at = ?, started_at = CASE WHEN started_at IS NULL THEN NULL ELSE ? END, finished_at = ? WHERE id = ?`)
      .run(iso(createdDaysAgo), iso(createdDaysAgo), finishedDaysAgo === undefined ? null : iso(finishedDaysAgo), id);
  }

  function deploy(name: string, environment: string, daysAgo: number, end?: RunEnd, results: FlowResult[] = []): void {
    const { deployment, run } = store.createDeployment({ service: 'shop', environment, version: name, ...(environment === 'canary' && { baseline: 'production' }) });
    ids[name] = deployment.id;
    ids[`${name}.run`] = run!.id;
    store.markRunRunning(run!.id);
    for (const r of results) store.recordFlowResult(run!.id, r);
    if (end) store.settle({ run: { id: run!.id, end }, deployment: { id: deployment.id, ...(end.verdict && { verdict: end.verdict }) } });
    age('runs', run!.id, daysAgo, end ? daysAgo : undefined);
    age('deployments', deployment.id, daysAgo, end ? daysAgo : undefined);
  }

  function runOf(name: string, input: { target: string; trigger: 'schedule' | 'manual'; schedule?: string }, daysAgo: number, end?: RunEnd, results: FlowResult[] = []): void {
    const run = store.createRun({ ...input, environments: [input.target] });
    ids[name] = run.id;
    for (const r of results) store.recordFlowResult(run.id, r);
    if (end) store.finishRun(run.id, end);
    age('runs', run.id, daysAgo, end ? daysAgo : undefined);
  }

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-retention-'));
    artifacts = path.join(dir, 'artifacts');
    const database = path.join(dir, 'smoke.db');
    store = openStore(database);
    const outbox = createOutbox(store.db);
    const deliveries = createDeliveries(store.db);
    const done = (verdict: Verdict): RunEnd => ({ status: 'done', verdict });

    // Oldest first: "newest" is by creation order, as in the service.
    deploy('old-fail', 'canary', 60, done(FAIL), [result('canary', 'checkout', 'failed'), result('production', 'checkout', 'passed')]);
    deploy('old-delivered', 'canary', 59, done(FAIL));
    deploy('old-pending', 'canary', 58, done(FAIL));
    deploy('old-gated', 'canary', 57, done(PASS));
    deploy('staging-only', 'staging', 56, done(PASS), [result('staging', 'checkout', 'passed')]);
    deploy('open', 'canary', 55, undefined);
    runOf('nightly-1', { target: 'production', trigger: 'schedule', schedule: 'nightly' }, 50, done(PASS));
    runOf('nightly-2', { target: 'production', trigger: 'schedule', schedule: 'nightly' }, 49, done(PASS));
    runOf('nightly-3', { target: 'production', trigger: 'schedule', schedule: 'nightly' }, 48, done(FAIL));
    runOf('manual-old', { target: 'canary', trigger: 'manual' }, 45, { status: 'interrupted', note: 'shut down' });
    runOf('queued-old', { target: 'staging', trigger: 'manual' }, 44);
    runOf('staging-decided', { target: 'staging', trigger: 'manual' }, 43, done(FAIL), [result('staging', 'search', 'failed')]);
    runOf('staging-skipped', { target: 'staging', trigger: 'manual' }, 42, { status: 'done', verdict: { kind: 'inconclusive', reasons: ['no flow ran'], cause: 'no-flows' } }, [result('staging', 'search', 'skipped')]);
    deploy('recent-superseded', 'canary', 20, { status: 'cancelled', note: 'superseded' });
    deploy('new', 'canary', 2, done(PASS), [result('canary', 'checkout', 'passed'), result('production', 'checkout', 'passed')]);

    const signal = (deployment: string, webhook: string, daysAgo: number) =>
      outbox.enqueue({ deploymentId: ids[deployment]!, webhook, event: 'deployment.rollback_requested', payload: '{}', nowMs: NOW - daysAgo * DAY, expiresAtMs: NOW })!.id;
    ids['signal-delivered-old'] = signal('old-delivered', 'deployer', 59);
    outbox.record(ids['signal-delivered-old'], { atMs: NOW - 59 * DAY, statusCode: 204, statusClass: '2xx', latencyMs: 12 }, { status: 'delivered' });
    ids['signal-pending-old'] = signal('old-pending', 'deployer', 58);
    ids['signal-dead-old'] = signal('old-pending', 'auditor', 58);
    outbox.record(ids['signal-dead-old'], { atMs: NOW - 58 * DAY, statusCode: 500, statusClass: '5xx', latencyMs: 12 }, { status: 'dead', error: 'HTTP 500' });
    ids['signal-delivered-new'] = signal('new', 'deployer', 2);
    outbox.record(ids['signal-delivered-new'], { atMs: NOW - 2 * DAY, statusCode: 204, statusClass: '2xx', latencyMs: 12 }, { status: 'delivered' });
    // GitHub may still redeliver this one: its deployment stays while the delivery is remembered.
    deliveries.record('github', 'delivery-recent', ids['old-gated']!, NOW - 10 * DAY);
    deliveries.record('github', 'delivery-old', ids['old-fail']!, NOW - 40 * DAY);

    const runFiles = { 'target/screenshot.png': 1000, 'target/trace.zip': 4000, 'report/index.html': 300, 'report/data/trace.zip': 4000, '.blob/report-1.zip': 200 };
    folder(ids['old-fail.run']!, 60, runFiles);
    folder(ids['manual-old']!, 45, { 'target/trace.zip': 10 });
    folder(ids['nightly-1']!, 50, { 'target/trace.zip': 10 });
    folder(ids['nightly-2']!, 49, { 'target/trace.zip': 500, 'report/index.html': 50 });
    folder(ids['staging-only.run']!, 56, { 'target/trace.zip': 700 });
    folder(ids['new.run']!, 2, runFiles);
    folder('run_crashedlongago', 40, { 'target/trace.zip': 10 });
    folder('run_restoredrecently', 1, { 'target/trace.zip': 20 });
    folder('not-a-run', 90, { 'notes.txt': 30 });

    before_ = {
      latestDeployments: store.latestDeployments(),
      lastFinishedRuns: store.lastFinishedRuns(),
      latestFlowOutcomes: store.latestFlowOutcomes(),
      schedule: store.lastFinishedRunOfSchedule('nightly'),
    };
    registry = new Registry();
    const pruner = createPruner({
      retentionDays: 30,
      databaseFile: database,
      artifactsDir: artifacts,
      store,
      outbox,
      deliveries,
      metrics: createStorageMetrics(registry),
      logger: pino({ level: 'silent' }),
      clock: { now: () => NOW, setTimeout: () => assert.fail('no timer in a single pass'), clearTimeout: () => {} },
    });
    report = await pruner.runOnce();
  });

  after(() => {
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const remaining = (table: string) => new Set(store.db.prepare(`SELECT id FROM ${table}`).pluck().all() as string[]);
  const named = (set: Set<string>) => Object.entries(ids).filter(([, id]) => set.has(id)).map(([name]) => name).sort();

  it('reports a clean pass', () => {
    assert.deepEqual(report.failures, []);
    assert.equal(report.completed, true);
  });

  it('keeps the newest run of each environment, schedule and deployment, open runs and recent ones; prunes the rest', () => {
    assert.deepEqual(named(remaining('runs')), [
      'new.run', // newest of canary's deployments (and newest judged and passed canary deploy)
      'nightly-2', // newest pass of production on a schedule
      'nightly-3', // newest of the schedule
      'open.run', // its deployment is still open
      'queued-old', // open, however old
      'recent-superseded.run', // younger than 30 days
      'staging-decided', // the newest outcome of staging's search flow, skipped since
      'staging-only.run', // newest deployment of staging
      'staging-skipped', // newest of staging
    ]);
    // old-fail, old-delivered, old-pending, old-gated, nightly-1, manual-old.
    assert.equal(report.pruned.runs, 6);
  });

  it('prunes a done deployment only once nothing points at it', () => {
    assert.deepEqual(named(remaining('deployments')), ['new', 'old-gated', 'old-pending', 'open', 'recent-superseded', 'staging-only']);
    assert.equal(report.pruned.deployments, 2);
  });

  it('prunes delivered signals and keeps undelivered ones, however old', () => {
    assert.deepEqual(named(remaining('signals')), ['signal-dead-old', 'signal-delivered-new', 'signal-pending-old']);
    assert.equal(report.pruned.signals, 1);
    const attempts = store.db.prepare('SELECT DISTINCT signal_id FROM signal_attempts').pluck().all() as string[];
    assert.deepEqual(named(new Set(attempts)), ['signal-dead-old', 'signal-delivered-new']);
  });

  it('forgets gate deliveries past their own retention', () => {
    assert.deepEqual(store.db.prepare('SELECT delivery_id FROM gate_deliveries').pluck().all(), ['delivery-recent']);
  });

  it("removes pruned runs' folders, reports included, and stale folders with no run; leaves kept runs' and foreign ones", () => {
    const folders = readdirSync(artifacts).sort();
    assert.deepEqual(folders, [ids['new.run'], ids['nightly-2'], ids['staging-only.run'], 'not-a-run', 'run_restoredrecently'].sort());
    assert.ok(existsSync(path.join(artifacts, ids['new.run']!, 'report', 'index.html')));
    assert.equal(report.pruned.artifact_folders, 4);
  });

  it('answers the metrics and pages the same as before', () => {
    assert.deepEqual(store.latestDeployments(), before_.latestDeployments);
    assert.deepEqual(store.lastFinishedRuns(), before_.lastFinishedRuns);
    assert.deepEqual(store.latestFlowOutcomes(), before_.latestFlowOutcomes);
    assert.deepEqual(store.lastFinishedRunOfSchedule('nightly'), before_.schedule);
  });

  it('measures what is kept, by kind', async () => {
    const values = Object.fromEntries(
      (await registry.getSingleMetric('smoke_storage_bytes')!.get()).values.map((v) => [v.labels.kind, v.value]),
    );
    // new.run: screenshot + trace; nightly-2: trace; staging-only: trace; run_restoredrecently: trace; not-a-run: notes.
    assert.equal(values.artifacts, 1000 + 4000 + 500 + 700 + 20 + 30);
    // new.run's report and blob; nightly-2's report.
    assert.equal(values.reports, 300 + 4000 + 200 + 50);
    assert.ok(values.database! > 0);
    assert.deepEqual(report.bytes, values);
    const pruned = Object.fromEntries((await registry.getSingleMetric('smoke_storage_pruned_total')!.get()).values.map((v) => [v.labels.kind, v.value]));
    assert.deepEqual(pruned, { runs: 6, deployments: 2, signals: 1, artifact_folders: 4 });
    const last = (await registry.getSingleMetric('smoke_storage_last_prune_timestamp_seconds')!.get()).values[0]!.value;
    assert.equal(last, NOW / 1000);
  });
});
