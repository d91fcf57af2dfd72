import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { StoreUnavailable } from '../errors.ts';
import { pagePaths } from '../pages/paths.ts';
import { pageRoutes } from '../pages/routes.ts';
import type { Store } from '../store/store.ts';
import { scheduleStatus } from '../testing/schedule-status.ts';
import type { Verifier } from '../verification/verifier.ts';
import { deploymentRoutes } from './deployments.ts';
import { errorHandler, STORE_RETRY_AFTER_SECONDS } from './errors.ts';
import { healthRoutes } from './health.ts';
import { runRoutes } from './runs.ts';

/** What `pg` raises when PostgreSQL is down: no SQLSTATE, only a socket error. */
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

/** A store whose database is gone: reads fail with pg's raw error, the readiness write with `StoreUnavailable`. */
const downStore = new Proxy({} as Store, {
  get(_target, method) {
    if (method === 'then') return undefined; // not a thenable
    if (method === 'probeWrite') return () => Promise.reject(new StoreUnavailable('probe the store', { cause: refused() }));
    return () => Promise.reject(refused());
  },
});

const verifier = {
  submit: () => Promise.reject(new StoreUnavailable('record the deployment', { cause: refused() })),
  waitUntilDone: () => Promise.reject(refused()),
} as unknown as Verifier;

/**
 * The routes that read the store, over one whose PostgreSQL is down: every
 * answer is a clear 503 with `Retry-After`, never a 500 or a hang.
 */
describe('routes while the store is unavailable', () => {
  let server: Server;
  let url: string;

  before(async () => {
    const app = express();
    app.use(healthRoutes({ store: downStore, browser: { check: async () => ({ ok: true, checkedAt: 0 }) }, readiness: { accepting: () => true } }));
    const base = () => 'http://smoke.test';
    app.use('/api/v1/deployments', express.json(), deploymentRoutes({ store: downStore, verifier, signals: { ofDeployment: async () => [] }, base }));
    app.use('/api/v1/runs', runRoutes({ store: downStore, artifactsDir: '/nonexistent', base }));
    app.use(pageRoutes({ store: downStore, scheduler: { list: async () => [scheduleStatus({ name: 'nightly', cron: '0 3 * * *', environments: ['canary'] })] }, signals: { ofDeployment: async () => [] }, paths: pagePaths(''), environments: ['canary'] }));
    app.use(errorHandler);
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it('says not ready, naming the store', async () => {
    const res = await fetch(`${url}/readyz`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean; error?: string }> };
    assert.equal(body.status, 'not ready');
    assert.equal(body.checks.store?.ok, false);
    assert.match(body.checks.store?.error ?? '', /ECONNREFUSED/);
    assert.deepEqual(body.checks.browser, { ok: true });
  });

  const api: [string, string, RequestInit?][] = [
    ['list deployments', '/api/v1/deployments'],
    ['get a deployment', '/api/v1/deployments/dep_1'],
    ['wait for a deployment', '/api/v1/deployments/dep_1?wait=5'],
    ['post a deployment', '/api/v1/deployments', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ environment: 'canary', version: '1' }) }],
    ['list runs', '/api/v1/runs'],
    ['get a run', '/api/v1/runs/run_1'],
    ['get an artifact', '/api/v1/runs/run_1/artifacts/a.png'],
  ];
  for (const [what, path, init] of api) {
    it(`answers ${what} with 503 store_unavailable and Retry-After`, async () => {
      const res = await fetch(url + path, init);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), String(STORE_RETRY_AFTER_SECONDS));
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'store_unavailable');
      assert.match(body.error.message, /ECONNREFUSED/);
    });
  }

  it('answers a page with a 503 page, not JSON', async () => {
    for (const path of ['/', '/deployments/dep_1', '/runs/run_1/live', '/schedules']) {
      const res = await fetch(url + path);
      assert.equal(res.status, 503, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, path);
      assert.equal(res.headers.get('retry-after'), String(STORE_RETRY_AFTER_SECONDS), path);
      assert.match(await res.text(), /Try again shortly/, path);
    }
  });
});
