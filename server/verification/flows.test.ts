import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { EnvironmentConfig } from '../config/config.ts';
import type { Runner, RunReport, RunRequest } from '../runner/runner.ts';
import type { AttemptKind, FlowResult } from '../verdict/types.ts';
import { runFlows, type FlowsRequest } from './flows.ts';

const canary = env('canary');
const production = env('production');

function env(name: string): EnvironmentConfig {
  return { name, baseURL: `http://${name}.test`, headers: {} } as EnvironmentConfig;
}

interface Invocation {
  readonly request: RunRequest;
  finish(report?: Partial<RunReport>): void;
  fail(err: Error): void;
  attempt(flow: string, kind: AttemptKind): void;
}

/** A runner whose invocations the test drives by hand: attempts, then the end. */
class ScriptedRunner implements Runner {
  readonly invocations: Invocation[] = [];
  #waiters: (() => void)[] = [];

  run(request: RunRequest): Promise<RunReport> {
    return new Promise((resolve, reject) => {
      const environment = request.environments[0]!.name;
      this.invocations.push({
        request,
        finish: (report = {}) => resolve({ outcome: { kind: 'completed' }, results: [], diagnostics: [], attempts: {}, timings: {}, ...report }),
        fail: reject,
        attempt: (flow, kind) => request.onAttempt?.({ environment, flow, kind, test: { file: `${flow}.spec.ts`, titles: [flow] } }),
      });
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Resolves once the runner has been invoked `n` times in all. */
  async invoked(n: number): Promise<Invocation> {
    while (this.invocations.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.invocations[n - 1]!;
  }

  sweep(): number {
    return 0;
  }
}

function request(overrides: Partial<FlowsRequest> = {}): FlowsRequest {
  let clock = 0;
  return {
    runId: 'run_1',
    target: canary,
    baseline: production,
    mode: 'on-failure',
    outputDir: '/data/artifacts/run_1',
    deadlineMs: 60_000,
    signal: new AbortController().signal,
    logger: pino({ level: 'silent' }),
    onResult: () => {},
    now: () => (clock += 1_000),
    ...overrides,
  };
}

function result(environment: string, flow: string, outcome: FlowResult['outcome']): FlowResult {
  return { environment, flow, file: `${flow}.spec.ts`, outcome, durationMs: 10, retries: 0, artifacts: [] };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('runFlows', () => {
  it('always: one invocation with the target and its baseline side by side', async () => {
    const runner = new ScriptedRunner();
    const done = runFlows(runner, request({ mode: 'always' }));
    const only = await runner.invoked(1);
    assert.deepEqual(only.request.environments.map((e) => e.name), ['canary', 'production']);
    assert.equal(only.request.tests, undefined);
    assert.equal(only.request.outputDir, '/data/artifacts/run_1');
    only.finish({ results: [result('canary', 'a', 'passed'), result('production', 'a', 'passed')] });
    assert.equal((await done).results.length, 2);
    assert.equal(runner.invocations.length, 1);
  });

  it('on-failure: a good target never runs the baseline', async () => {
    const runner = new ScriptedRunner();
    const done = runFlows(runner, request());
    const target = await runner.invoked(1);
    assert.deepEqual(target.request.environments.map((e) => e.name), ['canary']);
    target.attempt('a', 'passed');
    target.attempt('b', 'passed');
    target.finish({ results: [result('canary', 'a', 'passed'), result('canary', 'b', 'passed')], attempts: { canary: counts({ passed: 2 }) } });
    const report = await done;
    assert.equal(runner.invocations.length, 1);
    assert.deepEqual(report.attempts, { canary: counts({ passed: 2 }) });
  });

  it('on-failure: a flow that fails on the page goes to the baseline at once; failures meanwhile wait for the next invocation', async () => {
    const runner = new ScriptedRunner();
    const done = runFlows(runner, request());
    const target = await runner.invoked(1);
    assert.equal(target.request.outputDir, '/data/artifacts/run_1/target');
    assert.equal(target.request.artifactRoot, '/data/artifacts/run_1');

    target.attempt('checkout', 'failed');
    const first = await runner.invoked(2);
    assert.deepEqual(first.request.environments.map((e) => e.name), ['production']);
    assert.deepEqual(first.request.tests, [{ file: 'checkout.spec.ts', titles: ['checkout'] }]);
    assert.equal(first.request.runId, 'run_1-baseline-1');
    assert.equal(first.request.outputDir, '/data/artifacts/run_1/baseline-1');
    assert.equal(first.request.artifactRoot, '/data/artifacts/run_1');
    assert.ok(first.request.deadlineMs < 60_000, 'the baseline gets what is left of the run deadline');

    // Its retry, a fault, a pass: none of them is sent; two new failures are, together, once the first check ends.
    target.attempt('checkout', 'failed');
    target.attempt('crashed', 'error');
    target.attempt('search', 'passed');
    target.attempt('cart', 'failed');
    target.attempt('login', 'failed');
    await turn();
    assert.equal(runner.invocations.length, 2, 'one baseline invocation at a time');
    first.finish({ results: [result('production', 'checkout', 'passed')], attempts: { production: counts({ passed: 1 }) } });
    const second = await runner.invoked(3);
    assert.deepEqual(second.request.tests?.map((t) => t.titles[0]), ['cart', 'login']);

    target.finish({ results: [result('canary', 'checkout', 'failed')], attempts: { canary: counts({ failed: 4, error: 1, passed: 1 }) } });
    await turn();
    second.finish({ results: [result('production', 'cart', 'failed')], attempts: { production: counts({ failed: 1 }) } });
    const report = await done;
    assert.equal(runner.invocations.length, 3);
    assert.deepEqual(report.results.map((r) => `${r.environment}/${r.flow}`), ['canary/checkout', 'production/checkout', 'production/cart']);
    assert.deepEqual(report.attempts, { canary: counts({ failed: 4, error: 1, passed: 1 }), production: counts({ passed: 1, failed: 1 }) });
    assert.deepEqual(report.outcome, { kind: 'completed' });
  });

  it('on-failure: a baseline check that cannot run makes the run a fault, never a missing comparison', async () => {
    const runner = new ScriptedRunner();
    const done = runFlows(runner, request());
    const target = await runner.invoked(1);
    target.attempt('checkout', 'failed');
    (await runner.invoked(2)).fail(new Error('EROFS: read-only file system'));
    target.finish();
    const report = await done;
    assert.equal(report.outcome.kind, 'fault');
    assert.match(report.outcome.kind === 'fault' ? report.outcome.reason : '', /could not check failed flows on production: .*EROFS/);
  });

  it('on-failure without a baseline: the target alone, as always', async () => {
    const runner = new ScriptedRunner();
    const done = runFlows(runner, request({ baseline: undefined }));
    const target = await runner.invoked(1);
    assert.deepEqual(target.request.environments.map((e) => e.name), ['canary']);
    target.attempt('checkout', 'failed');
    target.finish();
    await done;
    assert.equal(runner.invocations.length, 1);
  });

  it('sends nothing more to the baseline once the run is stopped', async () => {
    const runner = new ScriptedRunner();
    const stop = new AbortController();
    const done = runFlows(runner, request({ signal: stop.signal }));
    const target = await runner.invoked(1);
    stop.abort();
    target.attempt('checkout', 'failed');
    target.finish({ outcome: { kind: 'cancelled', reason: 'stopped' } });
    assert.equal((await done).outcome.kind, 'cancelled');
    assert.equal(runner.invocations.length, 1);
  });
});

function counts(some: Partial<Record<AttemptKind, number>>): Record<AttemptKind, number> {
  return { passed: 0, failed: 0, error: 0, interrupted: 0, ...some };
}
