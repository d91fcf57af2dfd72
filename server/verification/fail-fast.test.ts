import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfig, type Config } from '../config/config.ts';
import type { Runner, RunReport, RunRequest } from '../runner/runner.ts';
import { openStore } from '../store/store.ts';
import type { FlowResult } from '../verdict/types.ts';
import type { RunObserver } from './observer.ts';
import { createVerifier } from './verifier.ts';

function result(environment: string, flow: string, outcome: FlowResult['outcome']): FlowResult {
  return { environment, flow, file: `${flow}.spec.ts`, outcome, durationMs: 10, retries: outcome === 'failed' ? 2 : 0, artifacts: [] };
}

/**
 * Canary and production side by side: checkout regresses first; then, unless
 * the run is stopped, cart regresses too, search passes, and the run ends
 * when the test says so.
 */
class RegressingRunner implements Runner {
  aborted = false;
  /** Results the service has stored and announced (its observer counts them): results are written asynchronously. */
  stored = 0;
  #release: (() => void) | undefined;
  readonly released = new Promise<void>((resolve) => (this.#release = resolve));

  async run(request: RunRequest): Promise<RunReport> {
    const results: FlowResult[] = [];
    const emit = (r: FlowResult) => {
      results.push(r);
      request.onResult?.(r);
    };
    emit(result('production', 'checkout', 'passed'));
    emit(result('canary', 'search', 'failed')); // fails on production too: no regression
    emit(result('production', 'search', 'failed'));
    emit(result('canary', 'checkout', 'failed'));
    // A real runner goes on streaming; this one waits until the service has judged what it has, then looks.
    while (this.stored < 4) await new Promise((resolve) => setImmediate(resolve));
    if (request.signal.aborted) {
      this.aborted = true;
      return { outcome: { kind: 'cancelled', reason: String(request.signal.reason) }, results, diagnostics: [], attempts: {}, timings: {} };
    }
    emit(result('canary', 'cart', 'failed'));
    emit(result('production', 'cart', 'flaky'));
    await this.released;
    return { outcome: { kind: 'completed' }, results, diagnostics: [], attempts: { canary: { passed: 0, failed: 9, error: 0, interrupted: 0 } }, timings: {} };
  }
  release(): void {
    this.#release!();
  }
  sweep(): number {
    return 0;
  }
}

describe('fail fast (runs.failFast)', () => {
  const shop = createServer((_req, res) => res.end('ok'));
  let baseURL: string;
  before(async () => {
    shop.listen(0, '127.0.0.1');
    await once(shop, 'listening');
    baseURL = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
  });
  after(() => shop.close());

  function config(failFast: boolean): Config {
    return parseConfig(
      `runs:\n  baseline: always\n  failFast: ${failFast}\nenvironments:\n  production:\n    baseURL: ${baseURL}\n  canary:\n    baseURL: ${baseURL}\n    baseline: production\n`,
      path.join(os.tmpdir(), 'smoke-fail-fast-test', 'smoke.config.yaml'),
      {},
    );
  }

  async function setup(failFast: boolean) {
    const store = await openStore({ kind: 'sqlite', file: ':memory:' });
    const runner = new RegressingRunner();
    const heard: string[] = [];
    const observer: RunObserver = {
      flowResult: () => void runner.stored++,
      verdictGiven: (_run, verdict) => heard.push(`verdict ${verdict.kind}`),
      runFinished: (run, ended) => heard.push(`run ${ended.status} ${ended.verdict?.kind}${ended.verdictGiven ? ' (given already)' : ''}`),
      deploymentFinished: (d) => heard.push(`deployment ${d.verdict?.kind} ${d.verdict?.kind === 'fail' ? d.verdict.failed.map((f) => f.flow) : ''}`),
    };
    const verifier = createVerifier({ config: config(failFast), store, runner, observers: [observer], logger: pino({ level: 'silent' }) });
    await verifier.recover();
    return { store, runner, heard, verifier };
  }

  it('true: the verdict is given at the first confirmed regression and the rest of the run is cancelled', async () => {
    const { store, runner, heard, verifier } = await setup(true);
    const { deployment } = await verifier.submit({ environment: 'canary', version: '2.0.0' });
    const done = (await verifier.waitUntilDone(deployment.id, 30_000))!;
    assert.equal(done.verdict?.kind, 'fail');
    // Only the confirmed regression: search fails on production too, cart never got its turn.
    assert.deepEqual(done.verdict?.kind === 'fail' && done.verdict.failed.map((f) => f.flow), ['checkout']);
    assert.match(done.verdict!.reasons.join('\n'), /"checkout" failed on canary after 3 attempts: .*it passes on production/);
    assert.match(done.verdict!.reasons.at(-1)!, /decided at the first confirmed regression; the flows not yet finished were cancelled/);
    while (verifier.activeRuns > 0) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runner.aborted, true);
    const run = (await store.getRun((await store.runsOfDeployment(deployment.id))[0]!.id))!;
    assert.equal(run.status, 'done');
    assert.deepEqual(run.verdict, done.verdict);
    assert.match(run.note!, /^stopped early \(runs\.failFast\)/);
    assert.ok(run.timings?.verdictMs !== undefined && run.timings.totalMs !== undefined && run.timings.verdictMs <= run.timings.totalMs);
    // The verdict and the deployment are announced first, once; the run's own end follows, marked as no news.
    assert.deepEqual(heard, ['verdict fail', 'deployment fail checkout', 'run done fail (given already)']);
    await verifier.shutdown();
    await store.close();
  });

  it('false: the verdict is given just as early; the run completes the report, which names every regression', async () => {
    const { store, runner, heard, verifier } = await setup(false);
    const { deployment } = await verifier.submit({ environment: 'canary', version: '2.0.0' });
    const done = (await verifier.waitUntilDone(deployment.id, 30_000))!;
    assert.deepEqual(done.verdict?.kind === 'fail' && done.verdict.failed.map((f) => f.flow), ['checkout']);
    assert.match(done.verdict!.reasons.at(-1)!, /ran on only to complete the report/);
    const runId = (await store.runsOfDeployment(deployment.id))[0]!.id;
    assert.equal((await store.getRun(runId))!.status, 'running', 'the verdict did not wait for the run');
    runner.release();
    while (verifier.activeRuns > 0) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runner.aborted, false);
    const run = (await store.getRun(runId))!;
    assert.deepEqual(run.verdict?.kind === 'fail' && run.verdict.failed.map((f) => f.flow), ['checkout', 'cart']);
    assert.equal((await store.getDeployment(deployment.id))!.verdict?.kind, 'fail');
    assert.deepEqual((await store.getDeployment(deployment.id))!.verdict, done.verdict, 'the verdict given stands');
    assert.deepEqual(run.attempts, { canary: { passed: 0, failed: 9, error: 0, interrupted: 0 } });
    assert.deepEqual(heard, ['verdict fail', 'deployment fail checkout', 'run done fail (given already)']);
    await verifier.shutdown();
    await store.close();
  });

  it('never cuts a run that is not a deploy short', async () => {
    const { store, runner, verifier } = await setup(true);
    const { run, finished } = await verifier.submitRun({ trigger: 'manual', environment: 'canary' });
    // The regression is seen before the run waits for release: a run that could be cut short would be by now.
    while ((await store.getRun(run.id))!.results.length < 6) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal((await store.getRun(run.id))!.status, 'running');
    runner.release();
    const ended = await finished;
    assert.equal(runner.aborted, false);
    assert.deepEqual(ended.verdict?.kind === 'fail' && ended.verdict.failed.map((f) => f.flow), ['checkout', 'cart']);
    await verifier.shutdown();
    await store.close();
  });
});
