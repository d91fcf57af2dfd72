import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createStorageMetrics } from '../metrics/storage-metrics.ts';
import { openStore, type RunEnd, type Store } from '../store/store.ts';
import { FAIL, PASS, result } from '../testing/history-fixtures.ts';
import type { FlowResult, Verdict } from '../verdict/types.ts';
import { createPruner, type PassReport } from './pruner.ts';

const DAY = 86_400_000;
const RETENTION_DAYS = 30;

/**
 * A history with an injected "now": what goes and what stays is named for
 * each row, so the assertions read as the rules. The store stamps rows with
 * the real clock, so the history is written in two parts with the retention
 * cutoff between them: the pass's "now" is the cutoff plus retentionDays,
 * and each row's `daysAgo` says which side of it it belongs on (and ages its
 * folder).
 */
describe('retention pass over a history', () => {
  let NOW = 0;
  let cutoffPassed = false;
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

  /** Rows written from here on are younger than the retention cutoff; the pass's "now" is set from it. */
  async function passCutoff(): Promise<void> {
    const cutoffMs = Date.now() + 1;
    // Whole milliseconds, as the store writes times: every row so far is older, every later one younger.
    while (Date.now() <= cutoffMs) await new Promise((resolve) => setImmediate(resolve));
    NOW = cutoffMs + RETENTION_DAYS * DAY;
    cutoffPassed = true;
  }

  function onItsSide(name: string, daysAgo: number): void {
    assert.equal(daysAgo < RETENTION_DAYS, cutoffPassed, `${name} (${daysAgo} days old) is written on its side of the cutoff`);
  }

  async function deploy(name: string, environment: string, daysAgo: number, end?: RunEnd, results: FlowResult[] = []): Promise<void> {
    onItsSide(name, daysAgo);
    const { deployment, run } = await store.createDeployment({ service: 'shop', environment, version: name, ...(environment === 'canary' && { baseline: 'production' }) });
    ids[name] = deployment.id;
    ids[`${name}.run`] = run!.id;
    await store.markRunRunning(run!.id);
    for (const r of results) await store.recordFlowResult(run!.id, r);
    if (end) await store.settle({ run: { id: run!.id, end }, deployment: { id: deployment.id, ...(end.verdict && { verdict: end.verdict }) } });
  }

  async function runOf(name: string, input: { target: string; trigger: 'schedule' | 'manual'; schedule?: string }, daysAgo: number, end?: RunEnd, results: FlowResult[] = []): Promise<void> {
    onItsSide(name, daysAgo);
    const run = (await store.createRun({ ...input, environments: [input.target] }))!;
    ids[name] = run.id;
    for (const r of results) await store.recordFlowResult(run.id, r);
    if (end) await store.finishRun(run.id, end);
  }

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-retention-'));
    artifacts = path.join(dir, 'artifacts');
    store = await openStore({ kind: 'sqlite', file: path.join(dir, 'smoke.db') });
    const { outbox, gateDeliveries: deliveries } = store;
    const done = (verdict: Verdict): RunEnd => ({ status: 'done', verdict });

    // Oldest first: "newest" is by creation order, as in the service.
    await deploy('old-fail', 'canary', 60, done(FAIL), [result('canary', 'checkout', 'failed'), result('production', 'checkout', 'passed')]);
    await deploy('old-delivered', 'canary', 59, done(FAIL));
    await deploy('old-pending', 'canary', 58, done(FAIL));
    await deploy('old-gated', 'canary', 57, done(PASS));
    await deploy('staging-only', 'staging', 56, done(PASS), [result('staging', 'checkout', 'passed')]);
    await deploy('open', 'canary', 55, undefined);
    await runOf('nightly-1', { target: 'production', trigger: 'schedule', schedule: 'nightly' }, 50, done(PASS));
    await runOf('nightly-2', { target: 'production', trigger: 'schedule', schedule: 'nightly' }, 49, done(PASS));
    await runOf('nightly-3', { target: 'production', trigger: 'schedule', schedule: 'nightly' }, 48, done(FAIL));
    await runOf('manual-old', { target: 'canary', trigger: 'manual' }, 45, { status: 'interrupted', note: 'shut down' });
    await runOf('queued-old', { target: 'staging', trigger: 'manual' }, 44);
    await runOf('staging-decided', { target: 'staging', trigger: 'manual' }, 43, done(FAIL), [result('staging', 'search', 'failed')]);
    await runOf('staging-skipped', { target: 'staging', trigger: 'manual' }, 42, { status: 'done', verdict: { kind: 'inconclusive', reasons: ['no flow ran'], cause: 'no-flows' } }, [result('staging', 'search', 'skipped')]);
    await passCutoff();
    await deploy('recent-superseded', 'canary', 20, { status: 'cancelled', note: 'superseded' });
    await deploy('new', 'canary', 2, done(PASS), [result('canary', 'checkout', 'passed'), result('production', 'checkout', 'passed')]);

    const signal = async (deployment: string, webhook: string, daysAgo: number) =>
      (await outbox.enqueue({ deploymentId: ids[deployment]!, webhook, event: 'deployment.rollback_requested', payload: '{}', nowMs: NOW - daysAgo * DAY, expiresAtMs: NOW }))!.id;
    ids['signal-delivered-old'] = await signal('old-delivered', 'deployer', 59);
    await outbox.record(ids['signal-delivered-old'], { atMs: NOW - 59 * DAY, statusCode: 204, statusClass: '2xx', latencyMs: 12 }, { status: 'delivered' });
    ids['signal-pending-old'] = await signal('old-pending', 'deployer', 58);
    ids['signal-dead-old'] = await signal('old-pending', 'auditor', 58);
    await outbox.record(ids['signal-dead-old'], { atMs: NOW - 58 * DAY, statusCode: 500, statusClass: '5xx', latencyMs: 12 }, { status: 'dead', error: 'HTTP 500' });
    ids['signal-delivered-new'] = await signal('new', 'deployer', 2);
    await outbox.record(ids['signal-delivered-new'], { atMs: NOW - 2 * DAY, statusCode: 204, statusClass: '2xx', latencyMs: 12 }, { status: 'delivered' });
    // GitHub may still redeliver this one: its deployment stays while the delivery is remembered.
    await deliveries.record('github', 'delivery-recent', ids['old-gated']!, NOW - 10 * DAY);
    await deliveries.record('github', 'delivery-old', ids['old-fail']!, NOW - 40 * DAY);

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
      latestDeployments: await store.latestDeployments(),
      lastFinishedRuns: await store.lastFinishedRuns(),
      latestFlowOutcomes: await store.latestFlowOutcomes(),
      schedule: await store.lastFinishedRunOfSchedule('nightly'),
    };
    registry = new Registry();
    const pruner = createPruner({
      retentionDays: RETENTION_DAYS,
      artifactsDir: artifacts,
      store,
      metrics: createStorageMetrics(registry),
      logger: pino({ level: 'silent' }),
      clock: { now: () => NOW, setTimeout: () => assert.fail('no timer in a single pass'), clearTimeout: () => {} },
    });
    report = await pruner.runOnce();
  });

  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The names whose row `find` still finds. */
  async function remaining(find: (id: string) => Promise<unknown>): Promise<string[]> {
    const found = await Promise.all(Object.entries(ids).map(async ([name, id]) => ((await find(id)) ? [name] : [])));
    return found.flat().sort();
  }
  const runsLeft = () => remaining((id) => (id.startsWith('run_') ? store.getRun(id) : Promise.resolve(undefined)));

  it('reports a clean pass', () => {
    assert.deepEqual(report.failures, []);
    assert.equal(report.completed, true);
  });

  it('keeps the newest run of each environment, schedule and deployment, open runs and recent ones; prunes the rest', async () => {
    assert.deepEqual(await runsLeft(), [
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

  it('prunes a done deployment only once nothing points at it', async () => {
    assert.deepEqual(await remaining((id) => (id.startsWith('dep_') ? store.getDeployment(id) : Promise.resolve(undefined))), ['new', 'old-gated', 'old-pending', 'open', 'recent-superseded', 'staging-only']);
    assert.equal(report.pruned.deployments, 2);
  });

  it('prunes delivered signals and keeps undelivered ones, however old', async () => {
    const signals = Object.keys(ids).filter((name) => name.startsWith('signal-'));
    const left = await Promise.all(signals.map(async (name) => ((await store.outbox.get(ids[name]!)) ? [name] : [])));
    assert.deepEqual(left.flat().sort(), ['signal-dead-old', 'signal-delivered-new', 'signal-pending-old']);
    assert.equal(report.pruned.signals, 1);
    // The pruned signal's attempt went with it.
    assert.deepEqual(await store.outbox.attemptsOf(ids['signal-delivered-old']!), []);
    assert.equal((await store.outbox.attemptsOf(ids['signal-delivered-new']!)).length, 1);
  });

  it('forgets gate deliveries past their own retention', async () => {
    assert.ok(await store.gateDeliveries.seen('github', 'delivery-recent'));
    assert.equal(await store.gateDeliveries.seen('github', 'delivery-old'), undefined);
  });

  it("removes pruned runs' folders, reports included, and stale folders with no run; leaves kept runs' and foreign ones", () => {
    const folders = readdirSync(artifacts).sort();
    assert.deepEqual(folders, [ids['new.run'], ids['nightly-2'], ids['staging-only.run'], 'not-a-run', 'run_restoredrecently'].sort());
    assert.ok(existsSync(path.join(artifacts, ids['new.run']!, 'report', 'index.html')));
    assert.equal(report.pruned.artifact_folders, 4);
  });

  it('answers the metrics and pages the same as before', async () => {
    assert.deepEqual(await store.latestDeployments(), before_.latestDeployments);
    assert.deepEqual(await store.lastFinishedRuns(), before_.lastFinishedRuns);
    assert.deepEqual(await store.latestFlowOutcomes(), before_.latestFlowOutcomes);
    assert.deepEqual(await store.lastFinishedRunOfSchedule('nightly'), before_.schedule);
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
