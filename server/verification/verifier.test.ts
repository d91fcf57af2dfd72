import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { ManualTimers } from '../testing/manual-timers.ts';
import { refusingStore } from '../testing/refusing-store.ts';
import { parseConfig, type Config } from '../config/config.ts';
import type { Runner, RunReport, RunRequest } from '../runner/runner.ts';
import type { RunRecord } from './records.ts';
import { openStore } from '../store/store.ts';
import type { RunEnded, RunObserver } from './observer.ts';
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
    return { outcome: { kind: 'completed' }, results, diagnostics: [], attempts: {}, timings: {} };
  }
  release(runId: string): void {
    this.gates.get(runId)!();
  }
  sweep(): number {
    return 0;
  }
}

/** A runner that breaks the way the service's own parts break: it throws. */
class ThrowingRunner implements Runner {
  async run(): Promise<RunReport> {
    throw new Error('could not spawn the Playwright runner', { cause: new Error('EMFILE: too many open files') });
  }
  sweep(): number {
    return 0;
  }
}

/** What observers heard, in order. */
function recorder() {
  const heard: string[] = [];
  const finished: { run: RunRecord; ended: RunEnded }[] = [];
  const observer: RunObserver = {
    runStarted: (run) => heard.push(`started ${run.id}`),
    runFinished: (run, ended) => {
      heard.push(`finished ${run.id}`);
      finished.push({ run, ended });
    },
    deploymentFinished: (d) => heard.push(`deployment ${d.id} ${d.verdict?.kind}`),
  };
  return { heard, finished, observer };
}

describe('verifier queue', () => {
  // The reachability check needs something that answers.
  const shop = createServer((_req, res) => res.end('ok'));
  let baseURL: string;
  let config: Config;
  before(async () => {
    shop.listen(0, '127.0.0.1');
    await once(shop, 'listening');
    baseURL = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
    config = parseConfig(
      `runs:\n  concurrency: 1\nenvironments:\n  production:\n    baseURL: ${baseURL}\n  canary:\n    baseURL: ${baseURL}\n    baseline: production\n`,
      path.join(os.tmpdir(), 'smoke-verifier-test', 'smoke.config.yaml'),
      {},
    );
  });
  after(() => shop.close());

  it('ends a run whose runner throws: inconclusive, cause service, the error with its causes in reasons and diagnostics', async () => {
    const store = await openStore({ kind: 'sqlite', file: ':memory:' });
    const { heard, finished, observer } = recorder();
    const verifier = createVerifier({ config, store, runner: new ThrowingRunner(), observers: [observer], logger: pino({ level: 'silent' }) });
    await verifier.recover();
    const { deployment } = await verifier.submit({ environment: 'canary', version: '2.0.0' });
    const done = (await verifier.waitUntilDone(deployment.id, 30_000))!;
    assert.equal(done.status, 'done');
    assert.equal(done.verdict?.kind, 'inconclusive');
    assert.equal(done.verdict?.kind === 'inconclusive' && done.verdict.cause, 'service');
    assert.match(done.verdict!.reasons[0]!, /could not spawn the Playwright runner: caused by: EMFILE/);
    const run = (await store.getRun((await store.runsOfDeployment(deployment.id))[0]!.id))!;
    assert.equal(run.status, 'done');
    assert.deepEqual(run.outcome, { kind: 'fault', reason: 'could not spawn the Playwright runner: caused by: EMFILE: too many open files' });
    assert.ok(run.diagnostics.some((d) => d.includes('EMFILE')));
    assert.deepEqual(heard, [`started ${run.id}`, `finished ${run.id}`, `deployment ${deployment.id} inconclusive`]);
    assert.equal(finished[0]!.ended.verdict?.kind, 'inconclusive');
    assert.equal(verifier.activeRuns, 0);
    await verifier.shutdown();
    await store.close();
  });

  it('names this replica (server.instanceId) on every run it starts, and none on a run still queued', async () => {
    const replicaConfig = parseConfig(
      `server:\n  instanceId: \${POD_NAME}\nruns:\n  concurrency: 1\nenvironments:\n  canary:\n    baseURL: ${baseURL}\n`,
      config.file,
      { POD_NAME: 'smoke-5d8f7-x2k9q' },
    );
    const store = await openStore({ kind: 'sqlite', file: ':memory:' });
    const runner = new GatedRunner();
    const verifier = createVerifier({ config: replicaConfig, store, runner, logger: pino({ level: 'silent' }) });
    await verifier.recover();
    const { deployment } = await verifier.submit({ environment: 'canary', version: '1.0.0' });
    const deployRun = (await store.runsOfDeployment(deployment.id))[0]!;
    await waitUntil(() => runner.started.length === 1);
    // Behind the deploy (concurrency 1): not started, so no replica yet.
    const manual = await verifier.submitRun({ trigger: 'manual', environment: 'canary' });
    assert.equal((await store.getRun(manual.run.id))!.status, 'queued');
    assert.equal((await store.getRun(manual.run.id))!.replica, undefined);
    runner.release(deployRun.id);
    await waitUntil(() => runner.started.length === 2);
    runner.release(manual.run.id);
    assert.equal((await manual.finished).replica, 'smoke-5d8f7-x2k9q');
    assert.equal((await verifier.waitUntilDone(deployment.id, 30_000))?.status, 'done');
    assert.equal((await store.getRun(deployRun.id))!.replica, 'smoke-5d8f7-x2k9q');
    await verifier.shutdown();
    await store.close();
  });

  it('ends a deployment whose environment vanished from the config', async () => {
    const store = await openStore({ kind: 'sqlite', file: ':memory:' });
    // Left by an earlier start whose config had the environment.
    const { deployment } = (await store.createDeployment({ service: 'shop', environment: 'retired', version: '1.0.0' }));
    const verifier = createVerifier({ config, store, runner: new GatedRunner(), logger: pino({ level: 'silent' }) });
    await verifier.recover();
    const done = (await verifier.waitUntilDone(deployment.id, 30_000))!;
    assert.equal(done.verdict?.kind, 'inconclusive');
    assert.match(done.verdict!.reasons[0]!, /environment 'retired' vanished from the config/);
    await verifier.shutdown();
    await store.close();
  });

  it('a store that refuses a flow result stops the run; the ending waits in memory, queued runs wait, both land once writes work', async () => {
    const refusing = refusingStore(await openStore({ kind: 'sqlite', file: ':memory:' }));
    const store = refusing.store;
    const runner = new GatedRunner();
    const timers = new ManualTimers();
    const { heard, observer } = recorder();
    const verifier = createVerifier({ config, store, runner, observers: [observer], logger: pino({ level: 'silent' }), retry: { timers } });
    await verifier.recover();
    const { deployment } = await verifier.submit({ environment: 'canary', version: '2.0.0' });
    const queued = await verifier.submitRun({ trigger: 'manual', environment: 'production' });
    const deployRun = (await store.runsOfDeployment(deployment.id))[0]!;
    await waitUntil(() => runner.started.length === 1);

    refusing.refusing = true;
    runner.release(deployRun.id);
    await waitUntil(() => verifier.activeRuns === 0);
    const meanwhile = await verifier.waitUntilDone(deployment.id, 20);
    assert.equal(meanwhile?.status, 'running', 'callers see only what is stored');
    assert.equal((await store.getRun(deployRun.id))!.results.length, 0);
    assert.deepEqual(heard, [`started ${deployRun.id}`], 'observers hear nothing that is not stored');
    assert.deepEqual(runner.started, [deployRun.id], 'no run starts while the store refuses writes');

    refusing.refusing = false;
    timers.fire();
    await waitUntilAsync(async () => (await store.getDeployment(deployment.id))?.status === 'done');
    const done = (await store.getDeployment(deployment.id))!;
    assert.equal(done.status, 'done');
    assert.equal(done.verdict?.kind, 'inconclusive');
    assert.match(done.verdict!.reasons[0]!, /the store is unavailable: .*could not record a flow result/);
    await waitUntil(() => runner.started.length === 2);
    assert.deepEqual(heard, [`started ${deployRun.id}`, `finished ${deployRun.id}`, `deployment ${deployment.id} inconclusive`, `started ${queued.run.id}`]);
    runner.release(queued.run.id);
    assert.equal((await queued.finished).verdict?.kind, 'pass');
    await verifier.shutdown();
    await store.close();
  });

  it('starts a deploy queued behind scheduled and manual runs first, then manual, then scheduled in order', async () => {
    const store = await openStore({ kind: 'sqlite', file: ':memory:' });
    const runner = new GatedRunner();
    const verifier = createVerifier({ config, store, runner, logger: pino({ level: 'silent' }) });
    await verifier.recover();

    const first = await verifier.submitRun({ trigger: 'schedule', environment: 'canary', schedule: 'nightly' });
    const second = await verifier.submitRun({ trigger: 'schedule', environment: 'production', schedule: 'nightly' });
    const manual = await verifier.submitRun({ trigger: 'manual', environment: 'production', schedule: 'nightly' });
    const third = await verifier.submitRun({ trigger: 'schedule', environment: 'canary', schedule: 'hourly' });
    const { deployment } = await verifier.submit({ environment: 'canary', version: '2.0.0' });
    const deployRun = (await store.runsOfDeployment(deployment.id))[0]!;

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
    await store.close();
  });
});

async function waitUntilAsync(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the store');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function waitUntil(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the next run to start');
    await new Promise((r) => setTimeout(r, 5));
  }
}
