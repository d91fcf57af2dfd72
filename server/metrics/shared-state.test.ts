import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { StoreUnavailable } from '../errors.ts';
import { openStore, type Store } from '../store/store.ts';
import type { FlowResult, Verdict } from '../verdict/types.ts';
import { createMetricsObserver } from './observer.ts';
import { createSignalMetrics } from './signal-metrics.ts';

const ENVIRONMENTS = ['production', 'canary'];
const SHARED = /^smoke_(flow_success|deployment_info|last_run_timestamp_seconds|last_success_timestamp_seconds|webhook_outbox_pending)[{ ]/;
const FAIL: Verdict = { kind: 'fail', reasons: ['checkout fails'], failed: [{ flow: 'checkout', environment: 'canary' }] };

function result(environment: string, outcome: FlowResult['outcome'], flow = 'checkout'): FlowResult {
  return { environment, flow, file: 'checkout.spec.ts', outcome, durationMs: 1_000, retries: 0, artifacts: [] };
}

/** The lines of the shared-state families, in a stable order. */
async function sharedLines(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => SHARED.test(line)).sort();
}

type Shared = Pick<Store, 'latestDeployments' | 'lastFinishedRuns' | 'latestFlowOutcomes'>;

/** A store that counts its reads and can be made to fail like a faulty disk. */
function counting(store: Shared) {
  const state = { reads: 0, failing: false };
  const guard = <T>(read: () => Promise<T>) => async () => {
    state.reads += 1;
    if (state.failing) throw new StoreUnavailable('read the store', { cause: Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }) });
    return read();
  };
  const wrapped: Shared = {
    latestDeployments: guard(() => store.latestDeployments()),
    lastFinishedRuns: guard(() => store.lastFinishedRuns()),
    latestFlowOutcomes: guard(() => store.latestFlowOutcomes()),
  };
  return { state, store: wrapped };
}

describe('shared-state gauges', () => {
  it('are the same on two replicas of one store, though only one of them did the work', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-shared-')), 'smoke.db');
    const storeA = await openStore({ kind: 'sqlite', file });
    const storeB = await openStore({ kind: 'sqlite', file });
    let now = 0;
    const a = new Registry();
    const b = new Registry();
    const observerA = createMetricsObserver({ registry: a, environments: ENVIRONMENTS, store: storeA, now: () => now });
    createMetricsObserver({ registry: b, environments: ENVIRONMENTS, store: storeB, now: () => now });
    createSignalMetrics(a, { pendingCount: async () => 2, now: () => now });
    createSignalMetrics(b, { pendingCount: async () => 2, now: () => now });
    const before = await sharedLines(b);

    // Replica A takes a deploy and runs it; B hears nothing.
    const { deployment, run } = await storeA.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version: '1.2.0' });
    observerA.deploymentReceived!(deployment);
    observerA.runStarted!(run!);
    for (const r of [result('canary', 'failed'), result('production', 'passed')]) {
      await storeA.recordFlowResult(run!.id, r);
      observerA.flowResult!(run!, r);
    }
    await storeA.finishRun(run!.id, { status: 'done', verdict: FAIL });
    observerA.runFinished!(run!, { status: 'done', verdict: FAIL, durationMs: 5_000 });

    const onA = await sharedLines(a);
    assert.ok(onA.includes('smoke_flow_success{environment="canary",flow="checkout"} 0'), onA.join('\n'));
    assert.ok(onA.includes('smoke_deployment_info{environment="canary",service="shop",version="1.2.0"} 1'), onA.join('\n'));
    assert.ok(onA.includes('smoke_webhook_outbox_pending 2'), onA.join('\n'));
    // B served its cached read until the TTL was up; then it reads the store.
    assert.deepEqual(await sharedLines(b), before);
    now += 10_000;
    assert.deepEqual(await sharedLines(b), onA);
    // And B gives A's new flow its own counters, at 0.
    assert.match(await b.metrics(), /^smoke_flow_results_total\{environment="canary",flow="checkout",outcome="failed"\} 0$/m);
    await storeA.close();
    await storeB.close();
  });

  it('reads the store once per TTL however often it is scraped', async () => {
    const { state, store } = counting({ latestDeployments: async () => [], lastFinishedRuns: async () => [], latestFlowOutcomes: async () => [] });
    let now = 0;
    const registry = new Registry();
    createMetricsObserver({ registry, environments: ENVIRONMENTS, store, now: () => now, cacheTtlMs: 3_000 });
    let pendingReads = 0;
    createSignalMetrics(registry, { pendingCount: async () => ++pendingReads, now: () => now, cacheTtlMs: 3_000 });
    await registry.metrics();
    const afterFirst = state.reads;
    assert.equal(afterFirst, 3, 'one read of each query');
    assert.equal(pendingReads, 1);
    now = 2_999;
    await registry.metrics();
    await registry.metrics();
    assert.equal(state.reads, afterFirst, 'a scrape within the TTL does not query');
    assert.equal(pendingReads, 1);
    now = 3_000;
    await registry.metrics();
    assert.equal(state.reads, afterFirst + 3, 'after it, it does');
    assert.equal(pendingReads, 2);
    assert.match(await registry.metrics(), /^smoke_webhook_outbox_pending 2$/m);
  });

  it('keeps the last values, and logs once, while the store cannot be read', async () => {
    const real = await openStore({ kind: 'sqlite', file: path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-shared-')), 'smoke.db') });
    const { run } = await real.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version: '1.2.0' });
    await real.recordFlowResult(run!.id, result('canary', 'passed'));
    await real.finishRun(run!.id, { status: 'done', verdict: { kind: 'pass', reasons: [], flaky: [] } });
    const { state, store } = counting(real);
    const warnings: object[] = [];
    const log = { warn: (obj: object) => warnings.push(obj), info: () => {} };
    let now = 0;
    const registry = new Registry();
    createMetricsObserver({ registry, environments: ENVIRONMENTS, store, now: () => now, logger: log });
    let pendingFails = false;
    createSignalMetrics(registry, {
      pendingCount: async () => {
        if (pendingFails) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
        return 1;
      },
      now: () => now,
      logger: log,
    });
    const good = await sharedLines(registry);
    assert.ok(good.includes('smoke_flow_success{environment="canary",flow="checkout"} 1'), good.join('\n'));
    assert.ok(good.includes('smoke_webhook_outbox_pending 1'));

    state.failing = true;
    pendingFails = true;
    for (const step of [10_000, 20_000, 30_000]) {
      now = step;
      assert.deepEqual(await sharedLines(registry), good, 'a failing read keeps the last values');
    }
    assert.equal(warnings.length, 2, 'one warning per failing read, not one per scrape');
    await real.close();
  });

  it('answers /metrics with the last values while the store hangs, and reads it once for every gauge and scrape', async () => {
    let hang = false;
    let reads = 0;
    const waiting: (() => void)[] = [];
    const slow = <T>(value: T) => async () => {
      reads += 1;
      if (hang) await new Promise<void>((resolve) => waiting.push(resolve));
      return value;
    };
    const flows = [{ environment: 'canary', flow: 'checkout', outcome: 'passed' as const }];
    const warnings: object[] = [];
    let now = 0;
    const registry = new Registry();
    createMetricsObserver({
      registry,
      environments: ENVIRONMENTS,
      store: { latestDeployments: slow([]), lastFinishedRuns: slow([]), latestFlowOutcomes: slow(flows) },
      now: () => now,
      waitMs: 20,
      logger: { warn: (obj) => warnings.push(obj), info: () => {} },
    });
    const good = await sharedLines(registry);
    assert.ok(good.includes('smoke_flow_success{environment="canary",flow="checkout"} 1'), good.join('\n'));
    const before = reads;

    hang = true;
    now = 10_000;
    // Two scrapes at once, each collecting every shared gauge in parallel: one read of the store between them.
    const [first, second] = await Promise.all([sharedLines(registry), sharedLines(registry)]);
    assert.deepEqual(first, good);
    assert.deepEqual(second, good);
    assert.equal(reads, before + 3, 'one read of each query for both scrapes');
    assert.equal(warnings.length, 1);
    for (const resume of waiting) resume();
  });
});
