import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { openStore, type Store } from '../store/store.ts';
import type { RunRecord } from '../verification/records.ts';
import type { FlowOutcome, FlowResult, Verdict } from '../verdict/types.ts';
import type { RunObserver } from '../verification/observer.ts';
import { createMetricsObserver } from './observer.ts';
import { createSignalMetrics } from './signal-metrics.ts';

const ENVIRONMENTS = ['production', 'canary'];
const CHECKOUT = 'checkout.spec.ts › customer can check out';
const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** Label names a smoke_* family may use: all of them bounded by the config, the suite or a union. */
const BOUNDED_LABELS = new Set(['environment', 'flow', 'outcome', 'trigger', 'verdict', 'service', 'version', 'status_class']);

type Labels = Record<string, string | number | undefined>;
type Sample = { labels: Labels; value: number; metricName?: string };

const emptyStore: Pick<Store, 'latestDeployments' | 'lastFinishedRuns' | 'latestFlowOutcomes'> = {
  latestDeployments: async () => [],
  lastFinishedRuns: async () => [],
  latestFlowOutcomes: async () => [],
};

function setup(store: Pick<Store, 'latestDeployments' | 'lastFinishedRuns' | 'latestFlowOutcomes'> = emptyStore, now = () => T0): { registry: Registry; observer: RunObserver } {
  // A fresh registry per test: nothing leaks between them through prom-client's global one.
  const registry = new Registry();
  const observer = createMetricsObserver({ registry, environments: ENVIRONMENTS, store, now });
  createSignalMetrics(registry);
  return { registry, observer };
}

function tempStore(): Promise<Store> {
  return openStore({ kind: 'sqlite', file: path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-metrics-')), 'smoke.db') });
}

async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const family = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(family, `${name} is registered`);
  return family.values as Sample[];
}

async function value(registry: Registry, name: string, labels: Labels, metricName = name): Promise<number | undefined> {
  const all = await samples(registry, name);
  const found = all.filter((s) => (s.metricName ?? name) === metricName && sameLabels(s.labels, labels));
  assert.ok(found.length <= 1, `one ${metricName} series for ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => String(a[k]) === String(b[k]));
}

function run(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id: 'run_abc123',
    deploymentId: 'dep_abc123',
    trigger: 'deploy',
    target: 'canary',
    environments: ['canary', 'production'],
    status: 'running',
    diagnostics: [],
    createdAt: new Date(T0).toISOString(),
    ...overrides,
  };
}

function result(environment: string, outcome: FlowOutcome, durationMs = 2_500, flow = CHECKOUT): FlowResult {
  return { environment, flow, file: 'checkout.spec.ts', outcome, durationMs, retries: 0, artifacts: [], ...(outcome === 'failed' && { error: 'run_abc123 failed: 500' }) };
}

const PASS: Verdict = { kind: 'pass', reasons: [], flaky: [] };
const FAIL: Verdict = { kind: 'fail', reasons: ['checkout fails'], failed: [{ flow: CHECKOUT, environment: 'canary' }] };

describe('metrics observer', () => {
  it('creates every environment × trigger, × verdict and signal series at 0 before anything runs', async () => {
    const { registry } = setup();
    for (const environment of ENVIRONMENTS) {
      assert.equal(await value(registry, 'smoke_last_success_timestamp_seconds', { environment }), 0);
      for (const trigger of ['deploy', 'schedule', 'manual']) {
        assert.equal(await value(registry, 'smoke_run_duration_seconds', { environment, trigger }, 'smoke_run_duration_seconds_count'), 0);
        assert.equal(await value(registry, 'smoke_last_run_timestamp_seconds', { environment, trigger }), 0);
      }
      for (const verdict of ['pass', 'fail', 'inconclusive']) assert.equal(await value(registry, 'smoke_verdicts_total', { environment, verdict }), 0);
    }
    assert.equal((await samples(registry, 'smoke_verdicts_total')).length, 6);
    assert.equal(await value(registry, 'smoke_runs_in_progress', {}), 0);
    for (const outcome of ['delivered', 'rejected', 'dead']) assert.equal(await value(registry, 'smoke_rollback_signals_total', { outcome }), 0);
    assert.equal((await samples(registry, 'smoke_webhook_delivery_attempts_total')).length, 6);
    assert.equal(await value(registry, 'smoke_webhook_outbox_pending', {}), 0);
    // No flow has run and none is in the store: no flow series yet, rather than made-up ones.
    assert.deepEqual(await samples(registry, 'smoke_flow_success'), []);
  });

  it('records each flow result: success as 1/0 (from the store), duration in seconds, a count per outcome', async () => {
    const store = await tempStore();
    const { registry, observer } = setup(store);
    // As the verifier does: the store first, then the observers.
    const record = async (outcome: FlowOutcome, durationMs: number) => {
      const stored = (await store.createRun({ trigger: 'manual', target: 'canary', environments: ['canary'] }))!;
      const r = run({ id: stored.id });
      await store.recordFlowResult(stored.id, result('canary', outcome, durationMs));
      await observer.flowResult!(r, result('canary', outcome, durationMs));
    };
    await record('passed', 2_500);
    assert.equal(await value(registry, 'smoke_flow_success', { environment: 'canary', flow: CHECKOUT }), 1);
    assert.equal(await value(registry, 'smoke_flow_duration_seconds', { environment: 'canary', flow: CHECKOUT }, 'smoke_flow_duration_seconds_sum'), 2.5);
    assert.equal(await value(registry, 'smoke_flow_duration_seconds', { environment: 'canary', flow: CHECKOUT, le: 5 }, 'smoke_flow_duration_seconds_bucket'), 1);
    assert.equal(await value(registry, 'smoke_flow_duration_seconds', { environment: 'canary', flow: CHECKOUT, le: 2.5 }, 'smoke_flow_duration_seconds_bucket'), 1);
    assert.equal(await value(registry, 'smoke_flow_duration_seconds', { environment: 'canary', flow: CHECKOUT, le: 1 }, 'smoke_flow_duration_seconds_bucket'), 0);
    // The first result of a flow brings all its outcome series, so a later first `failed` is a rise from 0.
    for (const outcome of ['failed', 'flaky', 'skipped', 'error']) {
      assert.equal(await value(registry, 'smoke_flow_results_total', { environment: 'canary', flow: CHECKOUT, outcome }), 0);
    }

    const table: [FlowOutcome, number][] = [
      ['failed', 0],
      ['skipped', 0], // skipped and error say nothing about the flow: the 0 stays
      ['error', 0],
      ['flaky', 1],
      ['error', 1],
      ['passed', 1],
    ];
    for (const [outcome, expected] of table) {
      await record(outcome, 4_000);
      assert.equal(await value(registry, 'smoke_flow_success', { environment: 'canary', flow: CHECKOUT }), expected, `after ${outcome}`);
    }
    const count = (outcome: string) => value(registry, 'smoke_flow_results_total', { environment: 'canary', flow: CHECKOUT, outcome });
    assert.deepEqual(
      [await count('passed'), await count('failed'), await count('flaky'), await count('skipped'), await count('error')],
      [2, 1, 1, 1, 2],
    );
    // Durations of flows that ran only: passed, failed, flaky, passed.
    assert.equal(await value(registry, 'smoke_flow_duration_seconds', { environment: 'canary', flow: CHECKOUT }, 'smoke_flow_duration_seconds_count'), 4);
    // The baseline's results are its own series.
    assert.equal(await value(registry, 'smoke_flow_success', { environment: 'production', flow: CHECKOUT }), undefined);
    await store.close();
  });

  it('counts runs in progress and, for judged runs, duration, verdict and last run/success times (from the store)', async () => {
    const store = await tempStore();
    const { registry, observer } = setup(store);
    const first = run({ id: (await store.createRun({ trigger: 'deploy', target: 'canary', environments: ['canary', 'production'] }))!.id });
    const second = run({ id: (await store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] }))!.id, trigger: 'schedule', target: 'production', environments: ['production'], deploymentId: undefined });
    const finishedAt = async (id: string) => Date.parse((await store.getRun(id))!.finishedAt!) / 1000;
    observer.runStarted!(first);
    observer.runStarted!(second);
    assert.equal(await value(registry, 'smoke_runs_in_progress', {}), 2);

    await store.finishRun(first.id, { status: 'done', verdict: PASS });
    observer.runFinished!(first, { status: 'done', verdict: PASS, durationMs: 42_000 });
    assert.equal(await value(registry, 'smoke_runs_in_progress', {}), 1);
    assert.equal(await value(registry, 'smoke_verdicts_total', { environment: 'canary', verdict: 'pass' }), 1);
    assert.equal(await value(registry, 'smoke_run_duration_seconds', { environment: 'canary', trigger: 'deploy' }, 'smoke_run_duration_seconds_sum'), 42);
    assert.equal(await value(registry, 'smoke_last_run_timestamp_seconds', { environment: 'canary', trigger: 'deploy' }), await finishedAt(first.id));
    assert.equal(await value(registry, 'smoke_last_success_timestamp_seconds', { environment: 'canary' }), await finishedAt(first.id));

    await store.finishRun(second.id, { status: 'done', verdict: FAIL });
    observer.runFinished!(second, { status: 'done', verdict: FAIL, durationMs: 10_000 });
    assert.equal(await value(registry, 'smoke_verdicts_total', { environment: 'production', verdict: 'fail' }), 1);
    assert.equal(await value(registry, 'smoke_last_run_timestamp_seconds', { environment: 'production', trigger: 'schedule' }), await finishedAt(second.id));
    // A failed run is a run, not a success.
    assert.equal(await value(registry, 'smoke_last_success_timestamp_seconds', { environment: 'production' }), 0);
    assert.equal(await value(registry, 'smoke_runs_in_progress', {}), 0);

    const cancelled = run({ id: 'run_3' });
    observer.runStarted!(cancelled);
    observer.runFinished!(cancelled, { status: 'cancelled', durationMs: 5_000 });
    observer.runFinished!(cancelled, { status: 'cancelled', durationMs: 5_000 });
    assert.equal(await value(registry, 'smoke_runs_in_progress', {}), 0, 'an end reported twice does not go below 0');
    // Never judged: no duration, no verdict.
    assert.equal(await value(registry, 'smoke_run_duration_seconds', { environment: 'canary', trigger: 'deploy' }, 'smoke_run_duration_seconds_count'), 1);
    assert.equal(
      (await samples(registry, 'smoke_verdicts_total')).reduce((sum, s) => sum + s.value, 0),
      2,
    );

    // A fail given at the first confirmed regression counts then, and not again when its run ends.
    const failedFast = run({ id: 'run_4' });
    observer.runStarted!(failedFast);
    observer.verdictGiven!(failedFast, FAIL);
    assert.equal(await value(registry, 'smoke_verdicts_total', { environment: 'canary', verdict: 'fail' }), 1);
    observer.runFinished!(failedFast, { status: 'done', verdict: FAIL, durationMs: 3_000, verdictGiven: true });
    assert.equal(await value(registry, 'smoke_verdicts_total', { environment: 'canary', verdict: 'fail' }), 1);
    assert.equal(await value(registry, 'smoke_run_duration_seconds', { environment: 'canary', trigger: 'deploy' }, 'smoke_run_duration_seconds_count'), 2);
    await store.close();
  });

  it('keeps one deployment_info series per environment, dropping the old version on a new deploy', async () => {
    const store = await tempStore();
    const { registry, observer } = setup(store);
    const deploy = async (environment: string, version: string) =>
      observer.deploymentReceived!((await store.createDeployment({ service: 'shop', environment, version })).deployment);
    await deploy('canary', '1.1.0');
    await deploy('production', '1.0.0');
    assert.equal((await samples(registry, 'smoke_deployment_info')).length, 2);
    await deploy('canary', '1.2.0');
    const info = await samples(registry, 'smoke_deployment_info');
    assert.deepEqual(
      info.map((s) => [s.labels.environment, s.labels.version, s.value]).sort(),
      [
        ['canary', '1.2.0', 1],
        ['production', '1.0.0', 1],
      ],
    );
    await store.close();
  });

  it('restores versions, last run and success times and last flow results from the store after a restart', async () => {
    const store = await tempStore();
    const { deployment, run: deployRun } = await store.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version: '1.2.0' });
    await store.recordFlowResult(deployRun!.id, result('canary', 'failed'));
    await store.recordFlowResult(deployRun!.id, result('production', 'passed'));
    await store.recordFlowResult(deployRun!.id, result('production', 'skipped', 0, 'about.spec.ts › only skipped'));
    await store.finishRun(deployRun!.id, { status: 'done', verdict: FAIL });
    await store.finishDeployment(deployment.id, FAIL);
    const scheduled = (await store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] }))!;
    await store.finishRun(scheduled.id, { status: 'done', verdict: PASS });
    // From an environment since removed from the config: left out.
    await store.createDeployment({ service: 'shop', environment: 'staging', version: '0.9.0' });

    const { registry } = setup(store);
    assert.deepEqual(
      (await samples(registry, 'smoke_deployment_info')).map((s) => s.labels),
      [{ environment: 'canary', service: 'shop', version: '1.2.0' }],
    );
    assert.equal(await value(registry, 'smoke_flow_success', { environment: 'canary', flow: CHECKOUT }), 0);
    assert.equal(await value(registry, 'smoke_flow_success', { environment: 'production', flow: CHECKOUT }), 1);
    // Known, but never passed or failed: its counters exist, its success is not invented.
    assert.equal(await value(registry, 'smoke_flow_success', { environment: 'production', flow: 'about.spec.ts › only skipped' }), undefined);
    assert.equal(await value(registry, 'smoke_flow_results_total', { environment: 'production', flow: 'about.spec.ts › only skipped', outcome: 'skipped' }), 0);

    const finishedAt = async (id: string) => Date.parse((await store.getRun(id))!.finishedAt!) / 1000;
    assert.equal(await value(registry, 'smoke_last_run_timestamp_seconds', { environment: 'canary', trigger: 'deploy' }), await finishedAt(deployRun!.id));
    assert.equal(await value(registry, 'smoke_last_run_timestamp_seconds', { environment: 'production', trigger: 'schedule' }), await finishedAt(scheduled.id));
    assert.equal(await value(registry, 'smoke_last_success_timestamp_seconds', { environment: 'production' }), await finishedAt(scheduled.id));
    assert.equal(await value(registry, 'smoke_last_success_timestamp_seconds', { environment: 'canary' }), 0);
    await store.close();
  });

  it('labels every smoke_* family only with bounded labels, never a run id, error text or timestamp', async () => {
    const { registry, observer } = setup();
    const r = run();
    observer.deploymentReceived!({ id: 'dep_abc123', service: 'shop', environment: 'canary', version: '1.2.0', status: 'queued', createdAt: new Date(T0).toISOString() });
    observer.runStarted!(r);
    for (const outcome of ['passed', 'failed', 'flaky', 'skipped', 'error'] as const) observer.flowResult!(r, result('canary', outcome));
    observer.runFinished!(r, {
      status: 'done',
      verdict: FAIL,
      durationMs: 30_000,
      attempts: { canary: { passed: 3, failed: 2, error: 1, interrupted: 0 }, production: { passed: 1, failed: 0, error: 0, interrupted: 1 }, gone: { passed: 5, failed: 0, error: 0, interrupted: 0 } },
    });
    assert.equal(await value(registry, 'smoke_flow_attempts_total', { environment: 'canary', outcome: 'failed' }), 2);
    assert.equal(await value(registry, 'smoke_flow_attempts_total', { environment: 'canary', outcome: 'error' }), 1);
    assert.equal(await value(registry, 'smoke_flow_attempts_total', { environment: 'production', outcome: 'interrupted' }), 1);
    // An environment no longer configured gets no series: it would never change again.
    assert.equal(await value(registry, 'smoke_flow_attempts_total', { environment: 'gone', outcome: 'passed' }), undefined);

    const families = registry.getMetricsAsArray().filter((m) => m.name.startsWith('smoke_'));
    assert.equal(families.length, 13);
    for (const family of families) {
      const declared = (family as unknown as { labelNames: string[] }).labelNames;
      for (const label of declared) assert.ok(BOUNDED_LABELS.has(label), `${family.name} has the unbounded label ${label}`);
    }
    for (const { name, values } of await registry.getMetricsAsJSON()) {
      if (!name.startsWith('smoke_')) continue;
      for (const { labels } of values as Sample[]) {
        for (const [label, v] of Object.entries(labels)) {
          assert.ok(label === 'le' || BOUNDED_LABELS.has(label), `${name}{${label}}`);
          assert.doesNotMatch(String(v), /run_|dep_|500|T\d\d:/, `${name}{${label}="${v}"}`);
        }
      }
    }
  });
});

describe('signal metrics', () => {
  it('counts outcomes and attempts and reports the outbox size', async () => {
    const registry = new Registry();
    const signals = createSignalMetrics(registry);
    signals.signalOutcome('dead');
    signals.deliveryAttempt('5xx');
    signals.deliveryAttempt('5xx');
    signals.deliveryAttempt('timeout');
    signals.outboxPending(3);
    assert.equal(await value(registry, 'smoke_rollback_signals_total', { outcome: 'dead' }), 1);
    assert.equal(await value(registry, 'smoke_rollback_signals_total', { outcome: 'delivered' }), 0);
    assert.equal(await value(registry, 'smoke_webhook_delivery_attempts_total', { status_class: '5xx' }), 2);
    assert.equal(await value(registry, 'smoke_webhook_delivery_attempts_total', { status_class: 'timeout' }), 1);
    assert.equal(await value(registry, 'smoke_webhook_outbox_pending', {}), 3);
  });

});
