import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../log.ts';
import { run, type Service } from '../service.ts';
import { deploymentStatusPayload, githubHeaders } from '../testing/github.ts';
import { api, deadUrl, startShop, waitFor, workspace, type ApiResponse, type Shop, type Workspace } from './harness.ts';

const TOKEN = 'gate-api-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const GITHUB_SECRET = 'github-webhook-secret-9876543210';
/** Sent as a Flagger metadata.token that is wrong: still not something to log. */
const WRONG_TOKEN = 'not-the-token-at-all';
/** A Flagger call as Flagger makes it: JSON, no Authorization header, the token in the metadata. */
const flaggerCall = (name: string, checksum: string, metadata: Record<string, string> = {}) => ({
  name,
  namespace: 'shop',
  phase: 'Progressing',
  checksum,
  metadata: { token: TOKEN, ...metadata },
});

const without = (headers: Record<string, string>, name: string) => Object.fromEntries(Object.entries(headers).filter(([key]) => key !== name));

/**
 * The gates end to end: the real service (its real logger, captured) runs the
 * demo suite against real shops while Flagger, Argo Rollouts and GitHub
 * calls arrive exactly as those tools send them.
 */
describe('pull gates against the demo shops', () => {
  let production: Shop;
  let canary: Shop;
  let broken: Shop;
  let ws: Workspace;
  let service: Service;
  let logs = '';
  const answered: string[] = [];

  const call = async (method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> => {
    const response = await api(service.url, method, route, body, headers);
    answered.push(JSON.stringify(response.body));
    return response;
  };
  const counts = async () => ({ deployments: (await service.store.listDeployments({ limit: 500 })).length, runs: (await service.store.listRuns({ limit: 500 })).length });

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary');
    broken = await startShop('canary', 'checkout-500');
    const behind = (baseURL: string) => ({ baseURL, baseline: 'production' });
    // GitHub's verification is only started here, never awaited: against nothing, it ends without a browser.
    const nowhere = await deadUrl();
    ws = workspace(
      { production: { baseURL: production.url }, canary: behind(canary.url), broken: behind(broken.url), argo: behind(canary.url), gh: { baseURL: nowhere } },
      {
        apiToken: TOKEN,
        // One retry: on a loaded machine a healthy flow may time out once, which must not read as a failed deploy.
        retries: 1,
        gates: `  flagger:
    targets:
      - canary: shop/checkout
        environment: canary
        service: checkout
  github:
    secret: ${GITHUB_SECRET}
    environments:
      production-eu: gh
`,
      },
    );
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk.toString();
        done();
      },
    });
    service = await run(loadConfig(ws.configFile), { logger: createLogger({ LOG_LEVEL: 'debug' }, sink) });
  });

  after(async () => {
    await service?.close();
    await Promise.all([production?.close(), canary?.close(), broken?.close()]);
    ws?.remove();
  });

  describe('bad input: a 4xx naming the field, nothing started', () => {
    const signed = (body: string, event = 'deployment_status', delivery = 'bad-1', contentType = 'application/json'): Record<string, string> => ({
      ...githubHeaders(GITHUB_SECRET, body, event, delivery),
      'content-type': contentType,
    });
    const noId = JSON.stringify({ ...deploymentStatusPayload(), deployment: { ...deploymentStatusPayload().deployment, id: undefined } });
    const cases: { name: string; method?: string; route: string; body?: unknown; headers?: Record<string, string>; status: number; code: string; field?: string }[] = [
      { name: 'Flagger: malformed JSON', route: '/api/v1/gates/flagger', body: '{"name": "checkout",', headers: AUTH, status: 400, code: 'malformed_json' },
      { name: 'Flagger: not JSON', route: '/api/v1/gates/flagger', body: 'name=checkout', headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type' },
      { name: 'Flagger: no checksum', route: '/api/v1/gates/flagger', body: { name: 'checkout', namespace: 'shop', phase: 'Progressing' }, headers: AUTH, status: 400, code: 'missing_field', field: 'checksum' },
      { name: 'Flagger: name of the wrong type', route: '/api/v1/gates/flagger', body: { name: 7, namespace: 'shop', checksum: 'c' }, headers: AUTH, status: 400, code: 'invalid_field', field: 'name' },
      { name: 'Flagger: metadata that is not a string map', route: '/api/v1/gates/flagger', body: { ...flaggerCall('checkout', 'c'), metadata: { token: TOKEN, version: 3 } }, status: 400, code: 'invalid_field', field: 'metadata.version' },
      { name: 'Flagger: a canary nobody mapped', route: '/api/v1/gates/flagger', body: flaggerCall('unknown', 'c'), status: 400, code: 'unknown_canary', field: 'metadata.environment' },
      { name: 'Flagger: an unknown environment', route: '/api/v1/gates/flagger', body: flaggerCall('checkout', 'c', { environment: 'staging' }), status: 400, code: 'unknown_environment', field: 'metadata.environment' },
      { name: 'Flagger: no token', route: '/api/v1/gates/flagger', body: { ...flaggerCall('checkout', 'c'), metadata: {} }, status: 401, code: 'unauthorized', field: 'metadata.token' },
      { name: 'Flagger: a wrong token', route: '/api/v1/gates/flagger', body: flaggerCall('checkout', 'c', { token: WRONG_TOKEN }), status: 401, code: 'unauthorized', field: 'metadata.token' },
      { name: 'Flagger: an oversized body', route: '/api/v1/gates/flagger', body: JSON.stringify({ ...flaggerCall('checkout', 'c'), pad: 'x'.repeat(100_000) }), status: 413, code: 'body_too_large' },
      { name: 'Flagger rollback: no namespace', route: '/api/v1/gates/flagger/rollback', body: { name: 'checkout', checksum: 'c', metadata: { token: TOKEN } }, status: 400, code: 'missing_field', field: 'namespace' },
      { name: 'Argo: no revision', method: 'GET', route: '/api/v1/gates/argo?environment=argo', headers: AUTH, status: 400, code: 'missing_field', field: 'revision' },
      { name: 'Argo: an unknown environment', method: 'GET', route: '/api/v1/gates/argo?environment=staging&revision=r1', headers: AUTH, status: 400, code: 'unknown_environment', field: 'environment' },
      { name: 'Argo: an unknown parameter', method: 'GET', route: '/api/v1/gates/argo?environment=argo&revision=r1&url=http://x', headers: AUTH, status: 400, code: 'unknown_field', field: 'url' },
      { name: 'Argo: a revision with spaces', method: 'GET', route: '/api/v1/gates/argo?environment=argo&revision=a%20b', headers: AUTH, status: 400, code: 'invalid_field', field: 'revision' },
      { name: 'Argo: the environment twice', method: 'GET', route: '/api/v1/gates/argo?environment=argo&environment=gh&revision=r1', headers: AUTH, status: 400, code: 'repeated_field', field: 'environment' },
      { name: 'Argo: a body that is not an object', route: '/api/v1/gates/argo', body: '["argo"]', headers: AUTH, status: 400, code: 'invalid_body' },
      { name: 'Argo: no token', method: 'GET', route: '/api/v1/gates/argo?environment=argo&revision=r1', status: 401, code: 'unauthorized', field: 'authorization' },
      { name: 'GitHub: no signature', route: '/api/v1/gates/github', body: JSON.stringify(deploymentStatusPayload()), headers: { 'x-github-event': 'deployment_status', 'x-github-delivery': 'bad-2' }, status: 401, code: 'bad_signature', field: 'x-hub-signature-256' },
      { name: 'GitHub: signed with another secret', route: '/api/v1/gates/github', body: JSON.stringify(deploymentStatusPayload()), headers: githubHeaders('some-other-secret-entirely', JSON.stringify(deploymentStatusPayload()), 'deployment_status', 'bad-3'), status: 401, code: 'bad_signature', field: 'x-hub-signature-256' },
      { name: 'GitHub: malformed JSON, signed', route: '/api/v1/gates/github', body: '{"deployment":', headers: signed('{"deployment":'), status: 400, code: 'malformed_json' },
      { name: 'GitHub: no deployment id, signed', route: '/api/v1/gates/github', body: noId, headers: signed(noId), status: 400, code: 'invalid_field', field: 'deployment.id' },
      { name: 'GitHub: no event header', route: '/api/v1/gates/github', body: '{}', headers: without(signed('{}'), 'x-github-event'), status: 400, code: 'missing_field', field: 'x-github-event' },
      { name: 'GitHub: no delivery id', route: '/api/v1/gates/github', body: '{}', headers: without(signed('{}'), 'x-github-delivery'), status: 400, code: 'missing_field', field: 'x-github-delivery' },
      { name: 'GitHub: a content type GitHub does not send', route: '/api/v1/gates/github', body: 'hello', headers: signed('hello', 'deployment_status', 'bad-4', 'text/plain'), status: 415, code: 'unsupported_media_type' },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.status} ${c.code}`, async () => {
        const before = await counts();
        const { status, body } = await call(c.method ?? 'POST', c.route, c.body, c.headers ?? {});
        assert.equal(status, c.status, JSON.stringify(body));
        assert.equal(body.error.code, c.code);
        if (c.field) assert.equal(body.error.field, c.field);
        assert.deepEqual(await counts(), before);
      });
    }
  });

  it('Flagger: the call as Flagger sends it starts the verification, 423 while it runs, 200 once it passed', async () => {
    const first = await call('POST', '/api/v1/gates/flagger', flaggerCall('checkout', '6d8f4c7b9'));
    assert.equal(first.status, 423, JSON.stringify(first.body));
    assert.equal(first.body.verdict, 'running');
    assert.match(first.body.message, /^running: the verification of checkout 6d8f4c7b9 on canary is (queued|running) since/);
    const deployment = (await service.store.getDeployment(first.body.deploymentId))!;
    assert.deepEqual(
      { key: deployment.idempotencyKey, service: deployment.service, version: deployment.version, environment: deployment.environment },
      { key: 'flagger:shop/checkout:6d8f4c7b9', service: 'checkout', version: '6d8f4c7b9', environment: 'canary' },
    );
    // The broken revision, mapped by its metadata alone, verified side by side.
    const brokenFirst = await call('POST', '/api/v1/gates/flagger', flaggerCall('broken', 'b7e1', { environment: 'broken', version: '2.0.0' }));
    assert.equal(brokenFirst.status, 423);
    assert.equal((await service.store.getDeployment(brokenFirst.body.deploymentId))!.version, '2.0.0');

    const again = await call('POST', '/api/v1/gates/flagger', flaggerCall('checkout', '6d8f4c7b9'));
    assert.equal(again.body.deploymentId, first.body.deploymentId, 'the same revision never starts a second verification');
    const rollbackWhileRunning = await call('POST', '/api/v1/gates/flagger/rollback', flaggerCall('broken', 'b7e1', { environment: 'broken' }));
    assert.equal(rollbackWhileRunning.status, 409);
    assert.equal(rollbackWhileRunning.body.rollback, false);

    const passed = await waitFor(
      'the canary gate to open',
      async () => {
        const answer = await call('POST', '/api/v1/gates/flagger', flaggerCall('checkout', '6d8f4c7b9'));
        return answer.status === 423 ? undefined : answer;
      },
      150_000,
    );
    assert.equal(passed.status, 200, JSON.stringify(passed.body));
    assert.equal(passed.body.verdict, 'pass');
    assert.equal(passed.body.link, `${service.url}/api/v1/deployments/${first.body.deploymentId}`);
  });

  it('Flagger rollback gate: 200 (roll back) only for a failed revision, and it never starts a verification', async () => {
    const failed = await waitFor(
      'the broken revision to fail',
      async () => {
        const answer = await call('POST', '/api/v1/gates/flagger', flaggerCall('broken', 'b7e1', { environment: 'broken', version: '2.0.0' }));
        return answer.status === 423 ? undefined : answer;
      },
      150_000,
    );
    assert.equal(failed.status, 412, JSON.stringify(failed.body));
    assert.equal(failed.body.verdict, 'fail');
    assert.match(failed.body.message, /^fail: .*checkout.*failed on broken/);

    const before = await counts();
    const rollback = await call('POST', '/api/v1/gates/flagger/rollback', flaggerCall('broken', 'b7e1'));
    assert.equal(rollback.status, 200, JSON.stringify(rollback.body));
    assert.equal(rollback.body.rollback, true);
    const healthy = await call('POST', '/api/v1/gates/flagger/rollback', flaggerCall('checkout', '6d8f4c7b9'));
    assert.equal(healthy.status, 409);
    const unknown = await call('POST', '/api/v1/gates/flagger/rollback', flaggerCall('checkout', 'never-deployed'));
    assert.equal(unknown.status, 404);
    // The token may come as a bearer header too.
    const byHeader = await call('POST', '/api/v1/gates/flagger/rollback', { ...flaggerCall('broken', 'b7e1'), metadata: {} }, AUTH);
    assert.equal(byHeader.status, 200);
    assert.deepEqual(await counts(), before);
  });

  it('Argo Rollouts web metric: always 200, verdict running and then pass', async () => {
    const route = '/api/v1/gates/argo?environment=argo&revision=5d4f8b9c7&service=shop';
    const first = await call('GET', route, undefined, AUTH);
    assert.equal(first.status, 200);
    assert.equal(first.body.verdict, 'running');
    assert.equal(first.body.key, 'argo:argo:5d4f8b9c7');
    const posted = await call('POST', '/api/v1/gates/argo', { environment: 'argo', revision: '5d4f8b9c7', service: 'shop' }, AUTH);
    assert.equal(posted.body.deploymentId, first.body.deploymentId);

    const done = await waitFor('the Argo verdict', async () => {
      const answer = await call('GET', route, undefined, AUTH);
      assert.equal(answer.status, 200);
      return answer.body.verdict === 'running' ? undefined : answer;
    }, 150_000);
    assert.equal(done.body.verdict, 'pass', JSON.stringify(done.body));
    assert.ok(Array.isArray(done.body.reasons));
  });

  it("GitHub: a signed deployment_status starts a verification at once; a redelivery starts nothing", async () => {
    const text = JSON.stringify(deploymentStatusPayload({ deploymentId: 1_234_567, environment: 'Production-EU', sha: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e' }));
    const ping = await call('POST', '/api/v1/gates/github', JSON.stringify({ zen: 'Design for failure.', hook_id: 1 }), githubHeaders(GITHUB_SECRET, JSON.stringify({ zen: 'Design for failure.', hook_id: 1 }), 'ping', 'ping-1'));
    assert.equal(ping.status, 200);

    const started = Date.now();
    const first = await call('POST', '/api/v1/gates/github', text, githubHeaders(GITHUB_SECRET, text, 'deployment_status', 'b7f9a1d0-0000-11f0-8f1e-1234567890ab'));
    assert.ok(Date.now() - started < 10_000, 'GitHub waits 10 s at most');
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const deployment = (await service.store.getDeployment(first.body.deploymentId))!;
    assert.deepEqual(
      { key: deployment.idempotencyKey, environment: deployment.environment, service: deployment.service, version: deployment.version },
      { key: 'github:acme/shop:1234567', environment: 'gh', service: 'shop', version: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e' },
    );

    const before = await counts();
    const redelivered = await call('POST', '/api/v1/gates/github', text, githubHeaders(GITHUB_SECRET, text, 'deployment_status', 'b7f9a1d0-0000-11f0-8f1e-1234567890ab'));
    assert.equal(redelivered.status, 200);
    assert.equal(redelivered.body.duplicate, true);
    const tampered = text.replace('1234567', '7654321');
    const forged = await call('POST', '/api/v1/gates/github', tampered, { ...githubHeaders(GITHUB_SECRET, text, 'deployment_status', 'forged-1') });
    assert.equal(forged.status, 401);
    const inProgress = JSON.stringify(deploymentStatusPayload({ deploymentId: 99, environment: 'production-eu', state: 'in_progress' }));
    const ignored = await call('POST', '/api/v1/gates/github', inProgress, githubHeaders(GITHUB_SECRET, inProgress, 'deployment_status', 'ignored-1'));
    assert.equal(ignored.status, 202);
    assert.match(ignored.body.message, /^ignored: .*'in_progress'/);
    assert.deepEqual(await counts(), before);
  });

  it("never puts the API token, Flagger's metadata.token or the GitHub secret in a log line or an answer", async () => {
    assert.ok(logs.includes('gate started a verification'), 'the capture works');
    for (const secret of [TOKEN, WRONG_TOKEN, GITHUB_SECRET]) {
      assert.ok(!logs.includes(secret), 'a secret reached the log');
      assert.ok(!answered.some((body) => body.includes(secret)), 'a secret reached an answer');
    }
  });
});
