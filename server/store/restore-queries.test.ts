import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FlowResult, Verdict } from '../verdict/types.ts';
import { openStore } from './store.ts';

/** The read-only queries the metrics use to come back after a restart as they were before it. */

const result = (environment: string, flow: string, outcome: FlowResult['outcome']): FlowResult => ({
  environment,
  flow,
  file: `${flow}.spec.ts`,
  outcome,
  durationMs: 1000,
  retries: 0,
  artifacts: [],
});
const PASS: Verdict = { kind: 'pass', reasons: [], flaky: [] };
const FAIL: Verdict = { kind: 'fail', reasons: ['r'], failed: [] };

describe('store queries for restoring metrics', () => {
  it('finds the newest deployment of each environment', () => {
    const store = openStore(':memory:');
    store.createDeployment({ service: 'shop', environment: 'canary', version: '1.0.0' });
    store.createDeployment({ service: 'shop', environment: 'production', version: '0.9.0' });
    store.createDeployment({ service: 'shop', environment: 'canary', version: '1.1.0' });
    assert.deepEqual(
      store.latestDeployments().map((d) => [d.environment, d.version]).sort(),
      [
        ['canary', '1.1.0'],
        ['production', '0.9.0'],
      ],
    );
  });

  it('gives per target and trigger the last judged run and the last pass', () => {
    const store = openStore(':memory:');
    const passed = store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] });
    store.finishRun(passed.id, { status: 'done', verdict: PASS });
    const failed = store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] });
    store.finishRun(failed.id, { status: 'done', verdict: FAIL });
    // Never judged: not a run that happened, as far as these times go.
    const cancelled = store.createRun({ trigger: 'manual', target: 'production', environments: ['production'] });
    store.finishRun(cancelled.id, { status: 'cancelled', note: 'n' });
    assert.deepEqual(store.lastFinishedRuns(), [
      { target: 'production', trigger: 'schedule', finishedAt: store.getRun(failed.id)!.finishedAt!, passedAt: store.getRun(passed.id)!.finishedAt! },
    ]);
  });

  it("lists the flows of each environment's newest run with results, with their newest decisive outcome", () => {
    const store = openStore(':memory:');
    const first = store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] });
    store.recordFlowResult(first.id, result('production', 'checkout', 'failed'));
    store.recordFlowResult(first.id, result('production', 'renamed-away', 'passed'));
    store.recordFlowResult(first.id, result('production', 'storefront', 'passed'));
    const second = store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] });
    // Errored this time: the newest thing known about whether it works is the earlier failure.
    store.recordFlowResult(second.id, result('production', 'checkout', 'error'));
    store.recordFlowResult(second.id, result('production', 'storefront', 'flaky'));
    store.recordFlowResult(second.id, result('production', 'new-and-skipped', 'skipped'));
    // A later run that never reached this environment's flows (unreachable) changes nothing.
    store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'] });

    assert.deepEqual(store.latestFlowOutcomes(), [
      { environment: 'production', flow: 'checkout', outcome: 'failed' },
      { environment: 'production', flow: 'new-and-skipped' },
      { environment: 'production', flow: 'storefront', outcome: 'flaky' },
    ]);
  });
});
