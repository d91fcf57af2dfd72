import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../service.ts';
import { api, startService, workspace, type Workspace } from './harness.ts';

const TOKEN = 'test-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface BadCase {
  readonly name: string;
  readonly method?: string;
  readonly route?: string;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly message?: RegExp;
}

const cases: BadCase[] = [
  { name: 'malformed JSON', body: '{"environment": "canary",', status: 400, code: 'malformed_json' },
  { name: 'not an object', body: '[1, 2]', status: 400, code: 'invalid_body' },
  { name: 'missing version', body: { environment: 'canary' }, status: 400, code: 'missing_field', field: 'version' },
  { name: 'missing environment', body: { version: '1' }, status: 400, code: 'missing_field', field: 'environment' },
  {
    name: 'unknown environment',
    body: { environment: 'staging', version: '1' },
    status: 400,
    code: 'unknown_environment',
    field: 'environment',
    message: /known: production, canary/,
  },
  { name: 'over-long version', body: { environment: 'canary', version: 'v'.repeat(129) }, status: 400, code: 'invalid_field', field: 'version', message: /at most 128/ },
  { name: 'empty version', body: { environment: 'canary', version: '' }, status: 400, code: 'invalid_field', field: 'version' },
  { name: 'version of the wrong type', body: { environment: 'canary', version: 12 }, status: 400, code: 'invalid_field', field: 'version' },
  { name: 'version with spaces', body: { environment: 'canary', version: '1 2' }, status: 400, code: 'invalid_field', field: 'version' },
  { name: 'over-long deploymentId', body: { environment: 'canary', version: '1', deploymentId: 'k'.repeat(201) }, status: 400, code: 'invalid_field', field: 'deploymentId' },
  {
    name: 'a URL to visit is refused: only configured environments are targeted',
    body: { environment: 'canary', version: '1', baseURL: 'http://169.254.169.254/' },
    status: 400,
    code: 'unknown_field',
    field: 'baseURL',
  },
  { name: 'oversized body', body: JSON.stringify({ environment: 'canary', version: '1', pad: 'x'.repeat(100_000) }), status: 413, code: 'body_too_large' },
  { name: 'not JSON at all', body: 'environment=canary', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type' },
  { name: 'wait that is not a number', route: '/api/v1/deployments?wait=soon', body: { environment: 'canary', version: '1' }, status: 400, code: 'invalid_field', field: 'wait' },
  { name: 'wait beyond the limit', route: '/api/v1/deployments?wait=100000', body: { environment: 'canary', version: '1' }, status: 400, code: 'invalid_field', field: 'wait' },
  { name: 'unknown route', method: 'GET', route: '/api/v1/nope', body: undefined, status: 404, code: 'not_found' },
  { name: 'unknown deployment', method: 'GET', route: '/api/v1/deployments/dep_missing', body: undefined, status: 404, code: 'not_found' },
  { name: 'unknown run', method: 'GET', route: '/api/v1/runs/run_missing', body: undefined, status: 404, code: 'not_found' },
  { name: 'run list limit out of range', method: 'GET', route: '/api/v1/runs?limit=0', body: undefined, status: 400, code: 'invalid_field', field: 'limit' },
  { name: 'artifact of an unknown run', method: 'GET', route: '/api/v1/runs/run_missing/artifacts/x.png', body: undefined, status: 404, code: 'not_found' },
];

describe('bad input', () => {
  let ws: Workspace;
  let service: Service;

  before(async () => {
    // Nothing listens at these URLs: no request here may get as far as a run.
    ws = workspace(
      { production: { baseURL: 'http://127.0.0.1:9' }, canary: { baseURL: 'http://127.0.0.1:9', baseline: 'production' } },
      { apiToken: TOKEN },
    );
    service = await startService(ws);
  });

  after(async () => {
    await service?.close();
    ws?.remove();
  });

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code}`, async () => {
      const headers = { ...AUTH, ...c.headers };
      const { status, body } = await api(service.url, c.method ?? 'POST', c.route ?? '/api/v1/deployments', c.body, headers);
      assert.equal(status, c.status, JSON.stringify(body));
      assert.equal(body.error.code, c.code);
      assert.equal(typeof body.error.message, 'string');
      if (c.field) assert.equal(body.error.field, c.field);
      if (c.message) assert.match(body.error.message, c.message);
    });
  }

  it('started no run and stored no deployment for any of them', () => {
    assert.deepEqual(service.store.listRuns({ limit: 10 }), []);
    assert.deepEqual(service.store.listDeployments({ limit: 10 }), []);
  });

  it('every /api call needs the bearer token when one is configured', async () => {
    const missing = await api(service.url, 'GET', '/api/v1/runs');
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.code, 'unauthorized');
    const wrong = await api(service.url, 'GET', '/api/v1/runs', undefined, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    const posted = await api(service.url, 'POST', '/api/v1/deployments', { environment: 'canary', version: '1' });
    assert.equal(posted.status, 401);
    assert.deepEqual(service.store.listDeployments({ limit: 10 }), []);
    const right = await api(service.url, 'GET', '/api/v1/runs', undefined, AUTH);
    assert.equal(right.status, 200);
    assert.ok(!JSON.stringify(missing.body).includes(TOKEN));
  });

  it('health endpoints stay open for probes', async () => {
    assert.equal((await api(service.url, 'GET', '/healthz')).status, 200);
    const ready = await api(service.url, 'GET', '/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(Object.keys(ready.body.checks).sort(), ['accepting', 'browser', 'store']);
  });
});
