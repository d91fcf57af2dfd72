import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../config/config.ts';
import { gateRoutes } from '../http/gates.ts';
import type { Runner, RunReport, RunRequest } from '../runner/runner.ts';
import { openStore, type Store } from '../store/store.ts';
import { deploymentStatusPayload, githubHeaders } from '../testing/github.ts';
import { fakeGitHubApi } from '../testing/fake-github-api.ts';
import { createVerifier } from '../verification/verifier.ts';
import { createGates } from './gates.ts';
import { createGateMetrics } from './metrics.ts';
import { clip } from './github-status.ts';
import { createGitHubStatuses } from './github-statuses.ts';

const SECRET = 'github-webhook-secret-0123456789';
const TOKEN = 'ghp_EndToEndTokenNeverPrinted000000000';
const PUBLIC = 'https://ci.example.com/smoke';

/** Reports `checkout` on every environment, failing on the canary while `failing` is set; nothing is launched. */
class ScriptedRunner implements Runner {
  failing = false;
  async run(request: RunRequest): Promise<RunReport> {
    const results = request.environments.map((env) => {
      const broken = this.failing && env.name === 'canary';
      return {
        environment: env.name,
        flow: 'checkout',
        file: 'checkout.spec.ts',
        outcome: broken ? ('failed' as const) : ('passed' as const),
        durationMs: 5,
        retries: 0,
        ...(broken && { error: 'Expected status 200, got 500' }),
        artifacts: [],
      };
    });
    for (const result of results) request.onResult?.(result);
    return { outcome: { kind: 'completed' }, results, diagnostics: [], attempts: {}, timings: {} };
  }
  sweep(): number {
    return 0;
  }
}

/**
 * From GitHub's signed `deployment_status` webhook through the gate's HTTP
 * route, the verifier and its observers to commit and deployment statuses
 * on a stand-in GitHub API: what a developer sees on the commit and the
 * environment, each link opening the deployment page.
 */
describe('GitHub gate → commit and deployment statuses', () => {
  let github: Awaited<ReturnType<typeof fakeGitHubApi>>;
  let shop: Server;
  let smoke: Server;
  let smokeUrl: string;
  let logs = '';
  let store: Store;
  let verifier: ReturnType<typeof createVerifier>;
  let statuses: ReturnType<typeof createGitHubStatuses>;
  const runner = new ScriptedRunner();

  before(async () => {
    store = await openStore({ kind: 'sqlite', file: path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-github-status-')), 'smoke.db') });
    github = await fakeGitHubApi();
    // The reachability check needs something that answers.
    shop = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
    await once(shop, 'listening');
    const baseURL = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
    const config = parseConfig(
      `server:\n  publicUrl: ${PUBLIC}\nruns:\n  baseline: always\nenvironments:\n  production:\n    baseURL: ${baseURL}\n  canary:\n    baseURL: ${baseURL}\n    baseline: production\n` +
        `gates:\n  github:\n    secret: \${GH_SECRET}\n    token: \${GH_TOKEN}\n    apiUrl: ${github.url}\n    environments:\n      Canary-EU: canary\n`,
      path.join(os.tmpdir(), 'smoke-github-status-test', 'smoke.config.yaml'),
      { GH_SECRET: SECRET, GH_TOKEN: TOKEN },
    );
    const logger = pino({ level: 'debug' }, { write: (line: string) => void (logs += line) });
    statuses = createGitHubStatuses({
      config: config.gates.github?.statuses,
      queue: store.githubStatuses,
      store,
      registry: new Registry(),
      logger,
      publicBase: () => config.server.publicUrl!,
    });
    verifier = createVerifier({ config, store, runner, observers: [statuses.observer], logger });
    await verifier.recover();
    const gates = createGates({ config: config.gates, environments: [...config.environments.keys()], verifier, store, deliveries: store.gateDeliveries, logger, githubStatuses: statuses });
    const app = express();
    app.use('/api/v1/gates', gateRoutes({ gates, metrics: createGateMetrics(new Registry()), base: () => PUBLIC }));
    smoke = app.listen(0, '127.0.0.1');
    await once(smoke, 'listening');
    smokeUrl = `http://127.0.0.1:${(smoke.address() as AddressInfo).port}`;
    statuses.start();
  });

  after(async () => {
    await statuses.stop();
    await verifier.shutdown();
    await Promise.all([github.close(), new Promise((resolve) => smoke.close(resolve)), new Promise((resolve) => shop.close(resolve))]);
    await store.close();
  });

  /** The environment's URL as the deploy tool reported it in the `success` that starts the verification. */
  const ENVIRONMENT_URL = deploymentStatusPayload().deployment_status.environment_url;

  async function deliver(deploymentId: number, sha: string, deliveryId: string, options: { expect?: number; logUrl?: string } = {}) {
    const payload = deploymentStatusPayload({ deploymentId, environment: 'Canary-EU', sha, repository: 'acme/shop' });
    if (options.logUrl) Object.assign(payload.deployment_status, { log_url: options.logUrl, target_url: options.logUrl, description: 'smoke: passed' });
    const body = JSON.stringify(payload);
    const response = await fetch(`${smokeUrl}/api/v1/gates/github`, { method: 'POST', headers: githubHeaders(SECRET, body, 'deployment_status', deliveryId), body });
    assert.equal(response.status, options.expect ?? 202);
    return (await response.json()) as { deploymentId: string; page: string };
  }

  const deploymentPath = (id: number) => `/repos/acme/shop/deployments/${id}/statuses`;

  async function postedTo(path: string, count: number) {
    for (let i = 0; i < 600; i++) {
      const found = github.requests.filter((r) => r.path === path);
      if (found.length >= count) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`GitHub received fewer than ${count} statuses at ${path}: ${JSON.stringify(github.requests.map((r) => [r.path, r.body]))}`);
  }
  const statusesOf = (sha: string, count: number) => postedTo(`/repos/acme/shop/statuses/${sha}`, count);

  it('a passing deploy: pending, then success, each with the deployment page as target_url', async () => {
    const sha = '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const answer = await deliver(101, sha, 'delivery-pass');
    const posted = await statusesOf(sha, 2);
    assert.equal(answer.page, `${PUBLIC}/deployments/${answer.deploymentId}`);
    assert.deepEqual(
      posted.map((r) => r.body),
      [
        { state: 'pending', target_url: answer.page, description: 'smoke is verifying 1111111 on canary', context: 'smoke/canary' },
        { state: 'success', target_url: answer.page, description: 'Passed: 1 of 1 critical flows passed on canary', context: 'smoke/canary' },
      ],
    );
    assert.equal(posted[0]!.headers.authorization, `Bearer ${TOKEN}`);
    const [onDeployment] = await postedTo(deploymentPath(101), 1);
    assert.deepEqual(onDeployment!.body, {
      state: 'success',
      log_url: answer.page,
      target_url: answer.page,
      description: 'Passed: 1 of 1 critical flows passed on canary',
      environment_url: ENVIRONMENT_URL,
      auto_inactive: false,
    });
    assert.equal(onDeployment!.headers.authorization, `Bearer ${TOKEN}`);
  });

  it("GitHub's webhook about smoke's own success status starts nothing and posts nothing", async () => {
    const sha = '3333333ccccccccccccccccccccccccccccccccc';
    const first = await deliver(103, sha, 'delivery-original');
    await postedTo(deploymentPath(103), 1);
    await statuses.idle();
    const before = github.requests.length;
    // What GitHub sends once smoke's `success` is the deployment's newest status: the same deployment, a new delivery.
    const echo = await deliver(103, sha, 'delivery-echo-of-smoke', { expect: 200, logUrl: first.page });
    await statuses.idle();
    assert.equal(echo.deploymentId, first.deploymentId);
    assert.equal((await store.runsOfDeployment(first.deploymentId)).length, 1, 'no second verification');
    assert.equal(github.requests.length, before, JSON.stringify(github.requests.slice(before).map((r) => [r.path, r.body])));
  });

  it('a failing deploy: pending, then failure with the first reason', async () => {
    const sha = '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
    runner.failing = true;
    const answer = await deliver(102, sha, 'delivery-fail');
    const posted = await statusesOf(sha, 2);
    assert.deepEqual(posted.map((r) => r.body.state), ['pending', 'failure'], JSON.stringify(posted.map((r) => r.body)));
    const [onDeployment] = await postedTo(deploymentPath(102), 1);
    assert.equal(onDeployment!.body.state, 'failure');
    assert.equal(onDeployment!.body.log_url, answer.page);
    const failure = posted[1]!.body;
    assert.equal(failure.target_url, answer.page);
    assert.equal(failure.description, clip(`Failed: ${(await store.getDeployment(answer.deploymentId))!.verdict!.reasons[0]}`));
    assert.match(String(failure.description), /checkout/);
    assert.ok(!logs.includes(TOKEN) && !logs.includes(SECRET), 'neither the token nor the webhook secret is logged');
  });
});
