import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../config/config.ts';
import type { Runner, RunReport, RunRequest } from '../runner/runner.ts';
import { openStore } from '../store/store.ts';
import { createVerifier } from './verifier.ts';

/** A runner that reports one passing flow per environment when the test releases the run. */
class GatedRunner implements Runner {
  readonly started: string[] = [];
  private readonly gates = new Map<string, () => void>();

  async run(request: RunRequest): Promise<RunReport> {
    this.started.push(request.runId);
    await new Promise<void>((resolve) => this.gates.set(request.runId, resolve));
    const results = request.environments.map((env) => ({
      environment: env.name,
      flow: 'storefront',
      file: 'storefront.spec.ts',
      outcome: 'passed' as const,
      durationMs: 5,
      retries: 0,
      artifacts: [],
    }));
    for (const result of results) request.onResult?.(result);
    return { outcome: { kind: 'completed' }, results, diagnostics: [] };
  }
  release(runId: string): void {
    this.gates.get(runId)!();
  }
  sweep(): number {
    return 0;
  }
}

describe('verifier queue', () => {
  // The reachability check needs something that answers.
  const shop = createServer((_req, res) => res.end('ok'));
  let baseURL: string;
  before(async () => {
    shop.listen(0, '127.0.0.1');
    await once(shop, 'listening');
    baseURL = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
  });
  after(() => shop.close());

  it('starts a deploy queued behind scheduled and manual runs first, then manual, then scheduled in order', async () => {
    const config = parseConfig(
      `runs:\n  concurrency: 1\nenvironments:\n  production:\n    baseURL: ${baseURL}\n  canary:\n    baseURL: ${baseURL}\n    baseline: production\n`,
      path.join(os.tmpdir(), 'smoke-verifier-test', 'smoke.config.yaml'),
      {},
    );
    const store = openStore(':memory:');
    const runner = new GatedRunner();
    const verifier = createVerifier({ config, store, runner, logger: pino({ level: 'silent' }) });
    verifier.recover();

    const first = verifier.submitRun({ trigger: 'schedule', environment: 'canary', schedule: 'nightly' });
    const second = verifier.submitRun({ trigger: 'schedule', environment: 'production', schedule: 'nightly' });
    const manual = verifier.submitRun({ trigger: 'manual', environment: 'production', schedule: 'nightly' });
    const third = verifier.submitRun({ trigger: 'schedule', environment: 'canary', schedule: 'hourly' });
    const { deployment } = verifier.submit({ environment: 'canary', version: '2.0.0' });
    const deployRun = store.runsOfDeployment(deployment.id)[0]!;

    const next = async (expected: string) => {
      await waitUntil(() => runner.started.at(-1) === expected);
      assert.equal(verifier.activeRuns, 1, 'concurrency 1: one run at a time');
      runner.release(expected);
    };
    await next(first.run.id);
    await next(deployRun.id);
    await next(manual.run.id);
    await next(second.run.id);
    await next(third.run.id);
    assert.deepEqual(runner.started, [first.run.id, deployRun.id, manual.run.id, second.run.id, third.run.id]);

    const done = await third.finished;
    assert.equal(done.status, 'done');
    assert.equal(done.trigger, 'schedule');
    assert.equal(done.schedule, 'hourly');
    assert.equal(done.verdict?.kind, 'pass');
    assert.deepEqual(done.environments, ['canary', 'production'], 'a scheduled run of an environment with a baseline runs both');
    assert.equal(done.deploymentId, undefined);
    assert.equal((await first.finished).verdict?.kind, 'pass');
    await verifier.shutdown();
    store.close();
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the next run to start');
    await new Promise((r) => setTimeout(r, 5));
  }
}
