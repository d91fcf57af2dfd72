import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import nock from 'nock';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { DeploymentRecord } from '../verification/records.ts';
import { openStore, type Store } from '../store/store.ts';
import { fakeGitHubApi } from '../testing/fake-github-api.ts';
import { ManualTimers } from '../testing/manual-timers.ts';
import type { Verdict } from '../verdict/types.ts';
import { Secret } from '../values/secret.ts';
import type { GitHubStatusConfig, StatusKind } from './config.ts';
import { clip, deploymentStatus, rateLimitWait, SECONDARY_LIMIT_WAIT_MS } from './github-status.ts';
import { statusRequest } from './github-status-kinds.ts';
import type { StatusQueue } from './github-status-queue.ts';
import { BACKOFF, createGitHubStatuses, LEASE_MS, MAX_ATTEMPTS, STORE_RETRY_MS } from './github-statuses.ts';
import { POLL_MS } from '../signals/claim-loop.ts';

const SHA = '9f2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
const TOKEN = 'ghp_TestTokenThatMustNeverBePrinted0001';
const BASE = 'https://ci.example.com/smoke';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

const failVerdict: Verdict = {
  kind: 'fail',
  reasons: ["'checkout' failed on canary but passed on production: Expected status 200, got 500"],
  failed: [{ flow: 'checkout', environment: 'canary', error: 'Expected status 200, got 500' }],
};

function config(apiUrl: string, options: { context?: string; post?: StatusKind[] } = {}): GitHubStatusConfig {
  return { token: new Secret(TOKEN), apiUrl, context: options.context ?? 'smoke/{environment}', post: options.post ?? ['commit'] };
}

/** The GitHub deployment whose `success` started the verification. */
const GH_DEPLOYMENT = 1_145_988_746;
const ENVIRONMENT_URL = 'https://canary.shop.example.com';

function deployment(overrides: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return { id: 'dep_1', service: 'shop', environment: 'canary', version: SHA, status: 'queued', createdAt: '2026-03-01T10:00:00.000Z', ...overrides };
}

describe('commit status, as GitHub receives it', () => {
  it('posts to the commit of the repository with the documented headers and the page as target_url', () => {
    const request = statusRequest(config('https://api.github.com'), { kind: 'commit', repository: 'acme/shop', sha: SHA, environment: 'canary' }, deploymentStatus(deployment()), `${BASE}/deployments/dep_1`);
    assert.equal(request.url, `https://api.github.com/repos/acme/shop/statuses/${SHA}`);
    assert.deepEqual(request.headers, {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      'user-agent': 'smoke-github-status/1',
      'x-github-api-version': '2022-11-28',
    });
    assert.deepEqual(JSON.parse(request.body), {
      state: 'pending',
      target_url: `${BASE}/deployments/dep_1`,
      description: 'smoke is verifying 9f2b1c4 on canary',
      context: 'smoke/canary',
    });
  });

  it('keeps the path of a GitHub Enterprise Server API and a fixed context', () => {
    const request = statusRequest(config('https://github.example.com/api/v3', { context: 'smoke' }), { kind: 'commit', repository: 'acme/shop', sha: 'abc', environment: 'production' }, { state: 'success', description: 'ok' }, 'x');
    assert.equal(request.url, 'https://github.example.com/api/v3/repos/acme/shop/statuses/abc');
    assert.equal(JSON.parse(request.body).context, 'smoke');
  });
});

describe('deployment status, as GitHub receives it', () => {
  const target = { kind: 'deployment', repository: 'acme/shop', environment: 'canary', githubDeploymentId: GH_DEPLOYMENT } as const;
  const failed = deploymentStatus(deployment({ status: 'done', verdict: failVerdict }));

  it('posts to the deployment with the same headers, the page as log_url (and target_url), and never deactivates other deployments', () => {
    const request = statusRequest(config('https://api.github.com'), { ...target, environmentUrl: ENVIRONMENT_URL }, failed, `${BASE}/deployments/dep_1`);
    assert.equal(request.url, `https://api.github.com/repos/acme/shop/deployments/${GH_DEPLOYMENT}/statuses`);
    assert.deepEqual(request.headers, statusRequest(config('https://api.github.com'), { kind: 'commit', repository: 'acme/shop', sha: SHA, environment: 'canary' }, failed, '').headers);
    assert.deepEqual(JSON.parse(request.body), {
      state: 'failure',
      log_url: `${BASE}/deployments/dep_1`,
      target_url: `${BASE}/deployments/dep_1`,
      description: `Failed: ${failVerdict.reasons[0]}`,
      environment_url: ENVIRONMENT_URL,
      auto_inactive: false,
    });
  });

  it('sends no environment_url when the webhook had none', () => {
    const body = JSON.parse(statusRequest(config('https://github.example.com/api/v3'), target, failed, 'x').body);
    assert.equal('environment_url' in body, false);
    assert.equal(statusRequest(config('https://github.example.com/api/v3'), target, failed, 'x').url, `https://github.example.com/api/v3/repos/acme/shop/deployments/${GH_DEPLOYMENT}/statuses`);
  });
});

describe('states, descriptions and rate limits', () => {
  const states: [string, DeploymentRecord, string, string][] = [
    ['queued', deployment(), 'pending', 'smoke is verifying 9f2b1c4 on canary'],
    ['running, version not a commit id', deployment({ status: 'running', version: '1.4.2' }), 'pending', 'smoke is verifying 1.4.2 on canary'],
    ['passed', deployment({ status: 'done', verdict: { kind: 'pass', reasons: ['4 of 4 critical flows passed on canary'], flaky: [] } }), 'success', 'Passed: 4 of 4 critical flows passed on canary'],
    ['failed', deployment({ status: 'done', verdict: failVerdict }), 'failure', `Failed: ${failVerdict.reasons[0]}`],
    ['inconclusive', deployment({ status: 'done', verdict: { kind: 'inconclusive', cause: 'baseline', reasons: ['checkout fails on production too'] } }), 'error', 'Inconclusive: checkout fails on production too'],
    ['superseded', deployment({ status: 'done', supersededBy: 'dep_2' }), 'error', 'Superseded by a newer deploy to canary: not judged'],
  ];
  for (const [name, record, state, description] of states) {
    it(`${name} → ${state}`, () => assert.deepEqual(deploymentStatus(record), { state, description }));
  }

  it('cuts a long reason to 140 characters, counting characters rather than UTF-16 units', () => {
    const long = deploymentStatus(deployment({ status: 'done', verdict: { ...failVerdict, reasons: [`'checkout 🛒' failed: ${'x'.repeat(300)}`] } }));
    assert.equal(Array.from(long.description).length, 140);
    assert.ok(long.description.endsWith('…'));
    assert.equal(clip('a\n  b'), 'a b');
  });

  const now = T0;
  const limits: [string, number, Record<string, string>, string, number | undefined][] = [
    ['429 with Retry-After', 429, { 'retry-after': '7' }, '', 7_000],
    ['403 with Retry-After (secondary limit)', 403, { 'retry-after': '30' }, '', 30_000],
    ['403 with the primary limit used up', 403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 120) }, '', 120_000],
    ['403 naming a secondary limit without a time', 403, {}, '{"message":"You have exceeded a secondary rate limit."}', SECONDARY_LIMIT_WAIT_MS],
    ['429 without any header', 429, {}, '', SECONDARY_LIMIT_WAIT_MS],
    ['403 for a token without access', 403, { 'x-ratelimit-remaining': '4999' }, '{"message":"Resource not accessible by personal access token"}', undefined],
    ['500', 500, {}, '', undefined],
  ];
  for (const [name, status, headers, body, wait] of limits) {
    it(`rate limit: ${name} → ${wait === undefined ? 'not a rate limit' : `${wait} ms`}`, () => assert.equal(rateLimitWait(status, new Headers(headers), body, now), wait));
  }
});

/** A store in a fresh temporary file; the rigs close it. */
async function freshStore(): Promise<Store> {
  const store = await openStore({ kind: 'sqlite', file: path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-github-status-')), 'smoke.db') });
  stores.add(store);
  return store;
}
const stores = new Set<Store>();
afterEach(async () => {
  await Promise.all([...stores].map((s) => s.close()));
  stores.clear();
});

/** The poster over a store, a hand-set clock, hand-fired timers and captured logs. */
async function rig(apiUrl: string, options: { store?: Store; clock?: { now: number }; queue?: (queue: StatusQueue) => StatusQueue; post?: StatusKind[] } = {}) {
  const store = options.store ?? (await freshStore());
  const clock = options.clock ?? { now: T0 };
  const timers = new ManualTimers();
  const registry = new Registry();
  let logs = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs += chunk.toString();
      done();
    },
  });
  const statuses = createGitHubStatuses({
    config: config(apiUrl, { ...(options.post && { post: options.post }) }),
    queue: (options.queue ?? ((q) => q))(store.githubStatuses),
    store,
    registry,
    logger: pino({ level: 'debug' }, sink),
    publicBase: () => BASE,
    now: () => clock.now,
    timers,
  });
  const posts = async () => {
    const metric = await registry.getSingleMetric('smoke_github_status_posts_total')!.get();
    return Object.fromEntries(metric.values.map((v) => [`${v.labels.kind}/${v.labels.state}/${v.labels.result}`, v.value]));
  };
  const accept = (record: DeploymentRecord) => statuses.accepted(record, { repository: 'acme/shop', deploymentId: GH_DEPLOYMENT, sha: SHA, environmentUrl: ENVIRONMENT_URL });
  /** Judges the deployment and tells the poster, as the verifier would. */
  const judge = async (id: string, verdict: Verdict) => {
    await store.finishDeployment(id, verdict);
    await statuses.observer.deploymentFinished!((await store.getDeployment(id))!);
  };
  return { store, clock, timers, statuses, posts, accept, judge, logs: () => logs };
}

async function until(what: string, probe: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('posting to a GitHub API on a loopback port', () => {
  let github: Awaited<ReturnType<typeof fakeGitHubApi>>;
  before(async () => {
    github = await fakeGitHubApi();
  });
  after(() => github.close());

  it('posts pending on the commit when the gate accepts, then the verdict on the commit and the deployment, all linking the deployment page', async () => {
    const { store, statuses, accept, judge, posts, logs } = await rig(github.url, { post: ['commit', 'deployment'] });
    const { deployment: record } = await store.createDeployment({ service: 'shop', environment: 'canary', version: SHA });
    statuses.start();
    await accept(record);
    await statuses.idle();
    assert.deepEqual(github.requests.map((r) => r.path), [`/repos/acme/shop/statuses/${SHA}`], 'the deployment hears nothing before the verdict');
    await judge(record.id, failVerdict);
    await statuses.idle();
    await statuses.stop();

    const commit = github.requests.filter((r) => r.path === `/repos/acme/shop/statuses/${SHA}`);
    const onDeployment = github.requests.filter((r) => r.path === `/repos/acme/shop/deployments/${GH_DEPLOYMENT}/statuses`);
    assert.equal(github.requests.length, 3);
    assert.ok(github.requests.every((r) => r.method === 'POST'));
    const [pending, failure] = commit;
    for (const request of [pending!, onDeployment[0]!]) {
      assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(request.headers.accept, 'application/vnd.github+json');
      assert.equal(request.headers['x-github-api-version'], '2022-11-28');
      assert.match(request.headers['user-agent'] ?? '', /^smoke/);
    }
    const page = `${BASE}/deployments/${record.id}`;
    assert.deepEqual(pending!.body, { state: 'pending', target_url: page, description: 'smoke is verifying 9f2b1c4 on canary', context: 'smoke/canary' });
    assert.deepEqual(failure!.body, { state: 'failure', target_url: page, description: `Failed: ${failVerdict.reasons[0]}`, context: 'smoke/canary' });
    assert.deepEqual(onDeployment.map((r) => r.body), [
      { state: 'failure', log_url: page, target_url: page, description: `Failed: ${failVerdict.reasons[0]}`, environment_url: ENVIRONMENT_URL, auto_inactive: false },
    ]);
    const counted = await posts();
    assert.equal(Object.keys(counted).length, 14, 'every kind × state × result series exists from the start (a deployment is never told pending)');
    assert.equal(counted['deployment/pending/posted'], undefined);
    assert.equal(counted['commit/pending/posted'], 1);
    assert.equal(counted['commit/failure/posted'], 1);
    assert.equal(counted['deployment/failure/posted'], 1);
    assert.equal(counted['commit/failure/failed'], 0);
    assert.ok(!logs().includes(TOKEN), 'the token is never logged');
    github.requests.length = 0;
  });

  it('posts only the deployment status when gates.github.post says so, and a deployment without a sha still gets it', async () => {
    const { store, statuses, judge } = await rig(github.url, { post: ['deployment'] });
    const { deployment: record } = await store.createDeployment({ service: 'shop', environment: 'canary', version: 'main' });
    statuses.start();
    await statuses.accepted(record, { repository: 'acme/shop', deploymentId: GH_DEPLOYMENT });
    await statuses.idle();
    assert.equal(github.requests.length, 0);
    await judge(record.id, { kind: 'pass', reasons: ['2 of 2 critical flows passed on canary'], flaky: [] });
    await statuses.idle();
    await statuses.stop();
    const page = `${BASE}/deployments/${record.id}`;
    assert.deepEqual(
      github.requests.map((r) => [r.path, r.body]),
      [[`/repos/acme/shop/deployments/${GH_DEPLOYMENT}/statuses`, { state: 'success', log_url: page, target_url: page, description: 'Passed: 2 of 2 critical flows passed on canary', auto_inactive: false }]],
    );
    github.requests.length = 0;
  });

  it('posts nothing for deployments the GitHub gate did not start, nor without a token', async () => {
    const { store, statuses, judge } = await rig(github.url);
    const { deployment: record } = await store.createDeployment({ service: 'shop', environment: 'canary', version: SHA });
    statuses.start();
    await judge(record.id, failVerdict);
    await statuses.idle();
    const registry = new Registry();
    const off = createGitHubStatuses({ config: undefined, queue: store.githubStatuses, store, registry, logger: pino({ level: 'silent' }), publicBase: () => BASE });
    off.start();
    await off.accepted(record, { repository: 'acme/shop', deploymentId: GH_DEPLOYMENT, sha: SHA });
    await off.idle();
    assert.equal(github.requests.length, 0);
    assert.ok(registry.getSingleMetric('smoke_github_status_posts_total'), 'the metric exists without a token too');
    await Promise.all([statuses.stop(), off.stop()]);
  });

  it('two replicas sharing a store post each status once', async () => {
    const store = await freshStore();
    const clock = { now: T0 };
    const a = await rig(github.url, { store, clock });
    const b = await rig(github.url, { store, clock });
    a.statuses.start();
    b.statuses.start();
    const records = [];
    for (let i = 0; i < 6; i++) {
      const { deployment } = await store.createDeployment({ service: 'shop', environment: 'canary', version: `${i}`.repeat(40) });
      records.push(deployment);
    }
    // Accepted on either replica; both poll the one queue.
    await Promise.all(records.map((record, i) => (i % 2 ? a : b).statuses.accepted(record, { repository: 'acme/shop', deploymentId: GH_DEPLOYMENT + i, sha: record.version })));
    for (const replica of [a, b, a]) {
      // A poll on each: whatever the other left is found.
      await replica.statuses.idle();
      replica.timers.fire();
      await replica.statuses.idle();
    }
    await Promise.all([a.statuses.stop(), b.statuses.stop()]);
    const paths = github.requests.map((r) => r.path).sort();
    assert.deepEqual(paths, records.map((r) => `/repos/acme/shop/statuses/${r.version}`).sort());
    github.requests.length = 0;
  });
});

describe('when GitHub fails (nock)', () => {
  const API = 'https://api.github.com';
  const PATH = `/repos/acme/shop/statuses/${SHA}`;
  before(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  after(() => nock.enableNetConnect());

  async function accepted(r: Awaited<ReturnType<typeof rig>>) {
    const { deployment: record } = await r.store.createDeployment({ service: 'shop', environment: 'canary', version: SHA });
    r.statuses.start();
    await r.accept(record);
    await r.statuses.idle();
    return record;
  }
  async function fireAfter(r: Awaited<ReturnType<typeof rig>>, ms: number) {
    r.clock.now += ms;
    r.timers.fire();
    await r.statuses.idle();
  }
  /** When the commit status is next attempted, as stored. */
  const nextAttempt = async (r: Awaited<ReturnType<typeof rig>>, id: string) => (await r.store.githubStatuses.get(id, 'commit'))!.nextAttemptAtMs;

  it('retries a 5xx after the backoff, then posts', async () => {
    const scope = nock(API).post(PATH).reply(502, 'Bad gateway').post(PATH).reply(201, {});
    const r = await rig(API);
    const record = await accepted(r);
    assert.equal(await nextAttempt(r, record.id), T0 + BACKOFF.firstMs);
    assert.equal(r.timers.delays.at(-1), BACKOFF.firstMs);
    await fireAfter(r, BACKOFF.firstMs);
    assert.ok(scope.isDone());
    assert.equal((await r.posts())['commit/pending/posted'], 1);
    assert.match(r.logs(), /will retry/);
    await r.statuses.stop();
  });

  it('retries a network error', async () => {
    const scope = nock(API).post(PATH).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' }).post(PATH).reply(201, {});
    const r = await rig(API);
    await accepted(r);
    await fireAfter(r, r.timers.delays.at(-1)!);
    assert.ok(scope.isDone());
    await r.statuses.stop();
  });

  it("waits as long as a 429's Retry-After says, however often it polls meanwhile", async () => {
    const scope = nock(API).post(PATH).reply(429, { message: 'API rate limit exceeded' }, { 'retry-after': '7' }).post(PATH).reply(201, {});
    const r = await rig(API);
    const record = await accepted(r);
    assert.equal(await nextAttempt(r, record.id), T0 + 7_000);
    assert.equal(r.timers.delays.at(-1), POLL_MS, 'it polls for other replicas’ work before then');
    await fireAfter(r, POLL_MS);
    assert.ok(!scope.isDone(), 'not before the 7 s');
    assert.equal(r.timers.delays.at(-1), 7_000 - POLL_MS);
    await fireAfter(r, 7_000 - POLL_MS);
    assert.ok(scope.isDone());
    await r.statuses.stop();
  });

  it('waits until x-ratelimit-reset when a 403 says the primary limit is used up', async () => {
    const reset = String(T0 / 1000 + 600);
    const scope = nock(API).post(PATH).reply(403, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }).post(PATH).reply(201, {});
    const r = await rig(API);
    const record = await accepted(r);
    assert.equal(await nextAttempt(r, record.id), T0 + 600_000);
    await fireAfter(r, 600_000);
    assert.ok(scope.isDone());
    await r.statuses.stop();
  });

  it('gives up on a 401 at once, with an error naming the repository and the status', async () => {
    const scope = nock(API).post(PATH).reply(401, { message: 'Bad credentials' });
    const r = await rig(API);
    const record = await accepted(r);
    assert.ok(scope.isDone());
    assert.equal((await r.store.githubStatuses.get(record.id, 'commit'))!.status, 'failed', 'no retry');
    assert.equal(r.timers.delays.at(-1), POLL_MS, 'only the poll is armed');
    assert.equal((await r.posts())['commit/pending/failed'], 1);
    const line = r.logs().split('\n').find((l) => l.includes('given up'))!;
    assert.ok(line, r.logs());
    assert.equal(JSON.parse(line).level, 50);
    assert.match(line, /acme\/shop/);
    assert.match(line, /HTTP 401.*Bad credentials.*gates\.github\.token is invalid or expired/);
    assert.ok(!r.logs().includes(TOKEN));
    await r.statuses.stop();
  });

  const refusals: [string, StatusKind, number, RegExp[]][] = [
    ['a 403 on the deployment', 'deployment', 403, [/deployment status for acme\/shop deployment 1145988746 given up/, /\\"Deployments: write\\", a classic one repo_deployment/]],
    ['a 404 on the commit', 'commit', 404, [/commit status for acme\/shop@9f2b1c4d5e6f given up/, /\\"Commit statuses: write\\", a classic one repo:status/]],
  ];
  for (const [name, refused, code, logged] of refusals) {
    it(`${name} (a token without that permission) gives that kind up; the other is posted`, async () => {
      const other: StatusKind = refused === 'commit' ? 'deployment' : 'commit';
      const paths = { commit: PATH, deployment: `/repos/acme/shop/deployments/${GH_DEPLOYMENT}/statuses` };
      const answers = { commit: refused === 'commit' ? code : 201, deployment: refused === 'deployment' ? code : 201 };
      const scope = nock(API)
        .post(paths.commit)
        .times(2)
        .reply(answers.commit, { message: 'Resource not accessible by personal access token' })
        .post(paths.deployment)
        .reply(answers.deployment, { message: 'Resource not accessible by personal access token' });
      const r = await rig(API, { post: ['commit', 'deployment'] });
      const record = await accepted(r);
      await r.judge(record.id, failVerdict);
      await r.statuses.idle();
      assert.ok(scope.isDone(), 'both kinds were tried, each once per state');
      for (const kind of ['commit', 'deployment'] as const) {
        assert.notEqual((await r.store.githubStatuses.get(record.id, kind))!.status, 'queued', `no retry of the ${kind} status`);
      }
      const counted = await r.posts();
      assert.equal(counted[`${refused}/failure/failed`], 1);
      assert.equal(counted[`${other}/failure/posted`], 1);
      const line = r.logs().split('\n').find((l) => l.includes('given up'))!;
      assert.equal(JSON.parse(line).level, 50);
      for (const pattern of logged) assert.match(line, pattern);
      assert.match(line, new RegExp(`HTTP ${code}`));
      await r.statuses.stop();
    });
  }

  it('a deployment status held until the verdict is posted after a restart when the verdict came while smoke was down', async () => {
    const store = await freshStore();
    const clock = { now: T0 };
    const first = await rig(API, { store, clock, post: ['deployment'] });
    const record = await accepted(first);
    await first.statuses.stop();
    await store.finishDeployment(record.id, { kind: 'inconclusive', cause: 'baseline', reasons: ['checkout fails on production too'] });

    const bodies: Record<string, unknown>[] = [];
    nock(API).post(`/repos/acme/shop/deployments/${GH_DEPLOYMENT}/statuses`, (body) => (bodies.push(body), true)).reply(201, {});
    const second = await rig(API, { store, clock, post: ['deployment'] });
    second.statuses.start();
    await second.statuses.idle();
    assert.deepEqual(bodies.map((b) => [b.state, b.description]), [['error', 'Inconclusive: checkout fails on production too']]);
    assert.ok(nock.isDone());
    await second.statuses.stop();
  });

  it(`gives up after ${MAX_ATTEMPTS} failed attempts`, async () => {
    nock(API).post(PATH).times(MAX_ATTEMPTS).reply(503, 'unavailable');
    const r = await rig(API);
    await accepted(r);
    // Each wait is the backoff, or the poll when that comes first.
    for (let fired = 0; (await r.posts())['commit/pending/failed'] === 0; fired++) {
      assert.ok(fired < 1_000, 'gave up in time');
      await fireAfter(r, r.timers.delays.at(-1)!);
    }
    assert.ok(nock.isDone());
    assert.match(r.logs(), new RegExp(`gave up after ${MAX_ATTEMPTS} attempts`));
    await r.statuses.stop();
  });

  it('a verdict replaces a pending status GitHub has not taken: the stale one is never posted after it', async () => {
    const bodies: Record<string, unknown>[] = [];
    nock(API)
      .post(PATH, (body) => (bodies.push(body), true))
      .reply(503)
      .post(PATH, (body) => (bodies.push(body), true))
      .reply(201, {});
    const r = await rig(API);
    const record = await accepted(r);
    await r.judge(record.id, failVerdict);
    await r.statuses.idle();
    assert.deepEqual(bodies.map((b) => b.state), ['pending', 'failure']);
    assert.equal((await r.posts())['commit/failure/posted'], 1);
    await r.statuses.stop();
  });

  it('a verdict given while pending is on its way is posted after it, never before', async () => {
    const bodies: Record<string, unknown>[] = [];
    nock(API)
      .post(PATH, (body) => (bodies.push(body), true))
      .delay(200)
      .reply(201, {})
      .post(PATH, (body) => (bodies.push(body), true))
      .reply(201, {});
    const r = await rig(API);
    const { deployment: record } = await r.store.createDeployment({ service: 'shop', environment: 'canary', version: SHA });
    r.statuses.start();
    await r.statuses.idle();
    await r.accept(record);
    await until('the pending POST under way', () => bodies.length === 1);
    await r.judge(record.id, failVerdict);
    await r.statuses.idle();
    assert.deepEqual(bodies.map((b) => b.state), ['pending', 'failure'], r.logs());
    assert.deepEqual(await r.posts().then((p) => [p['commit/pending/posted'], p['commit/failure/posted']]), [1, 1]);
    await r.statuses.stop();
  });

  it('a verdict the store refused to queue (disk full) is posted once it takes writes again, without hammering it meanwhile', async () => {
    const bodies: Record<string, unknown>[] = [];
    nock(API).post(PATH, (body) => (bodies.push(body), true)).twice().reply(201, {});
    let refuse = true;
    let changes = 0;
    const r = await rig(API, {
      queue: (queue) => ({
        ...queue,
        change: async (...args) => {
          changes++;
          if (refuse) throw new Error('SQLITE_FULL: database or disk is full');
          return queue.change(...args);
        },
      }),
    });
    const record = await accepted(r);
    await r.judge(record.id, failVerdict);
    await r.statuses.idle();
    assert.match(r.logs(), /could not be queued: the store refuses writes/);
    await fireAfter(r, POLL_MS);
    assert.equal(changes, 1, 'a poll does not retry the refused write: that waits for the retry pause');
    refuse = false;
    await fireAfter(r, STORE_RETRY_MS - POLL_MS);
    assert.deepEqual(bodies.map((b) => b.state), ['pending', 'failure']);
    await r.statuses.stop();
  });

  it('resumes after a restart: what was queued is posted, and a verdict given while down replaces pending', async () => {
    nock(API).post(PATH).reply(201, {});
    const store = await freshStore();
    const clock = { now: T0 };
    const first = await rig(API, { store, clock });
    const record = await accepted(first);
    await first.statuses.stop();
    // Judged while smoke's status poster was down: no observer heard it.
    await store.finishDeployment(record.id, { kind: 'pass', reasons: ['2 of 2 critical flows passed on canary'], flaky: [] });

    const bodies: Record<string, unknown>[] = [];
    nock(API).post(PATH, (body) => (bodies.push(body), true)).reply(201, {});
    const second = await rig(API, { store, clock });
    second.statuses.start();
    await second.statuses.idle();
    assert.deepEqual(bodies, [{ state: 'success', target_url: `${BASE}/deployments/${record.id}`, description: 'Passed: 2 of 2 critical flows passed on canary', context: 'smoke/canary' }]);
    await second.statuses.stop();
  });

  it('an attempt cut short by a stop (or a crash) is taken again, here or on another replica, once its lease ends', async () => {
    const store = await freshStore();
    const clock = { now: T0 };
    const first = await rig(API, { store, clock });
    const { deployment: record } = await store.createDeployment({ service: 'shop', environment: 'canary', version: SHA });
    // A replica that claimed the row and died before its POST came back.
    await store.githubStatuses.track(record.id, { kind: 'commit', repository: 'acme/shop', sha: SHA, environment: 'canary' }, deploymentStatus(record), false, T0);
    assert.equal((await store.githubStatuses.claimDue(T0, 10, LEASE_MS)).length, 1);

    const bodies: Record<string, unknown>[] = [];
    nock(API).post(PATH, (body) => (bodies.push(body), true)).reply(201, {});
    first.statuses.start();
    await first.statuses.idle();
    assert.equal(bodies.length, 0, 'not while the lease runs');
    await fireAfter(first, LEASE_MS);
    assert.deepEqual(bodies.map((b) => b.state), ['pending']);
    await first.statuses.stop();
  });

  it('gives up a status not posted within a day, rather than post a stale one', async () => {
    nock(API).post(PATH).reply(503);
    const store = await freshStore();
    const clock = { now: T0 };
    const first = await rig(API, { store, clock });
    await accepted(first);
    await first.statuses.stop();
    clock.now += 25 * 3_600_000;
    const second = await rig(API, { store, clock });
    second.statuses.start();
    await second.statuses.idle();
    assert.equal((await second.posts())['commit/pending/failed'], 1);
    assert.match(second.logs(), /not posted within 24 h; last error: HTTP 503/);
    assert.ok(nock.isDone());
    await second.statuses.stop();
  });
});
