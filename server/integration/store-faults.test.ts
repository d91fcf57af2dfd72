import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createShopApp } from '../../demo/shop.ts';
import { loadConfig } from '../config/config.ts';
import { tmpRootFor, type Service } from '../service.ts';
import { startPostgres, type Postgres } from '../testing/postgres.ts';
import { api, startService, waitFor, workspace, type Workspace, type WorkspaceOptions } from './harness.ts';

/**
 * A demo shop that holds every request from a browser or Playwright's API
 * client until the test lets them through (the service's reachability check
 * passes), so no flow can report before the test has broken the disk.
 */
async function heldShop() {
  const shop = createShopApp({ name: 'canary' });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held = 0;
  const server = createServer((req, res) => {
    if (!/Mozilla|Playwright/i.test(req.headers['user-agent'] ?? '')) return void shop.app(req, res);
    held++;
    void released.then(() => shop.app(req, res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held,
    release,
    close: () => close(server),
  };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A way to take the database away and give it back. */
interface Breakage {
  readonly name: string;
  /** Workspace settings it needs (a database of its own), before the workspace exists. */
  options?(): Promise<WorkspaceOptions>;
  /** Set up before the service starts; a reason to skip when this machine cannot. */
  prepare(ws: Workspace): string | undefined;
  breakStore(service: Service): void | Promise<void>;
  repairStore(service: Service): void | Promise<void>;
  cleanUp(ws: Workspace): void | Promise<void>;
}

/** A real full disk: a small tmpfs under the database, filled to the last byte. Needs root and mount. */
const fullTmpfs = (): Breakage => {
  let mounted: string | undefined;
  return {
    name: 'a tmpfs under the database fills up (SQLITE_FULL from a real ENOSPC)',
    prepare(ws) {
      const data = path.join(ws.dir, 'data');
      mkdirSync(data, { recursive: true });
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', data], { stdio: 'pipe' });
      } catch (err) {
        return `this machine does not allow mounting a tmpfs (${String((err as Error).message).split('\n')[0]}); the read-only case still runs`;
      }
      mounted = data;
      return undefined;
    },
    breakStore() {
      const fd = openSync(path.join(mounted!, 'filler'), 'w');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      }
      // The last bytes, smaller than a chunk.
      try {
        for (;;) writeSync(fd, chunk.subarray(0, 512));
      } catch {
        // Full.
      }
      closeSync(fd);
    },
    repairStore() {
      rmSync(path.join(mounted!, 'filler'));
    },
    cleanUp() {
      if (mounted) execFileSync('umount', [mounted], { stdio: 'pipe' });
    },
  };
};

/**
 * The service's PostgreSQL stops (a crash: `immediate`, sessions cut) and
 * starts again on the same port and data: every read and write fails with a
 * refused connection meanwhile, and the pool reconnects afterwards.
 */
const postgresDown = (): Breakage => {
  let server: Postgres | undefined;
  return {
    name: 'its PostgreSQL stops and starts again',
    async options() {
      server = await startPostgres({ database: 'store_faults' });
      return { postgres: server.url };
    },
    prepare: () => undefined,
    breakStore: () => server!.stopServer('immediate'),
    repairStore: () => server!.startServer(),
    cleanUp: async () => {
      await server?.stop();
    },
  };
};

for (const breakage of [fullTmpfs(), postgresDown()]) {
  describe(`store faults: ${breakage.name}`, () => {
    let shop: Awaited<ReturnType<typeof heldShop>>;
    let ws: Workspace;
    let service: Service | undefined;
    let skip: string | undefined;

    before(async () => {
      shop = await heldShop();
      ws = workspace({ canary: { baseURL: shop.url }, staging: { baseURL: shop.url } }, { retries: 0, ...(await breakage.options?.()) });
      skip = breakage.prepare(ws);
      if (!skip) service = await startService(ws);
    });

    after(async () => {
      shop?.release();
      await service?.close();
      await shop?.close();
      await breakage.cleanUp(ws);
      ws?.remove();
    });

    it('a run whose results cannot be stored ends inconclusive once writes work again; the process stays up, readiness and writes answer 503 meanwhile', async (t) => {
      if (skip) return t.skip(skip);
      const s = service!;
      const posted = await api(s.url, 'POST', '/api/v1/deployments', { environment: 'canary', version: '2.0.0' });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      const id = posted.body.id as string;
      await waitFor('a flow to reach the shop', () => (shop.held() > 0 ? true : undefined), 90_000);

      await breakage.breakStore(s);
      const ready = await api(s.url, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.store.ok, false);
      assert.match(ready.body.checks.store.error, /^the store is unavailable: /);

      const refused = await fetch(`${s.url}/api/v1/deployments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ environment: 'staging', version: '1.0.0' }),
      });
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After says when to try again');
      const body = (await refused.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'store_unavailable');
      assert.match(body.error.message, /^the store is unavailable: .*; could not record the deployment/);

      // The flows now report; their results cannot be stored, so the run stops and its ending waits in memory.
      shop.release();
      await waitFor('the run to stop', () => (s.verifier.activeRuns === 0 ? true : undefined), 90_000);
      const waited = await api(s.url, 'GET', `/api/v1/deployments/${id}?wait=1`);
      // A database that cannot even be read (PostgreSQL down) answers 503; one that only cannot write shows the run still going.
      if (waited.status === 503) assert.equal(waited.body.error.code, 'store_unavailable');
      else assert.equal(waited.body.status, 'running', 'a caller never sees a verdict the store does not have');
      assert.equal((await api(s.url, 'GET', '/healthz')).status, 200, 'the process is up');

      await breakage.repairStore(s);
      const done = await waitFor(
        'the stored verdict',
        async () => {
          const d = await api(s.url, 'GET', `/api/v1/deployments/${id}`);
          return d.body.status === 'done' ? d.body : undefined;
        },
        60_000,
      );
      assert.equal(done.verdict, 'inconclusive');
      assert.match(done.reasons.join('\n'), /the store is unavailable: .*could not record a flow result/);
      const run = (await api(s.url, 'GET', `/api/v1/runs/${done.runs.at(-1).id}`)).body;
      assert.ok(JSON.stringify(run).includes('service error: the store is unavailable'), 'the error is in the run diagnostics');

      const readyAgain = await api(s.url, 'GET', '/readyz');
      assert.equal(readyAgain.body.checks.store.ok, true, JSON.stringify(readyAgain.body));
      assert.equal(readyAgain.status, 200, JSON.stringify(readyAgain.body));

      // Work resumes without a restart: a new deploy is stored, runs and is judged on its flows.
      // (Pass or fail: on a loaded machine a browser flow may time out, which is not what this test is about.)
      const next = await api(s.url, 'POST', '/api/v1/deployments?wait=180', { environment: 'staging', version: '1.0.0' });
      assert.equal(next.status, 200, JSON.stringify(next.body));
      assert.ok(['pass', 'fail'].includes(next.body.verdict), next.body.reasons?.join('\n'));
      assert.ok(next.body.run.environments.staging.flows.length > 0, 'its flow results were stored');
    });
  });
}

describe('a verification always ends', () => {
  let shop: Awaited<ReturnType<typeof heldShop>>;
  let ws: Workspace;
  let service: Service;

  before(async () => {
    shop = await heldShop();
    shop.release();
    ws = workspace({ canary: { baseURL: shop.url } });
    // storage.artifacts is ./data/artifacts: a regular file there makes every run's folder impossible, even for root (ENOTDIR).
    mkdirSync(path.join(ws.dir, 'data'), { recursive: true });
    writeFileSync(path.join(ws.dir, 'data', 'artifacts'), 'not a folder');
    service = await startService(ws);
  });

  after(async () => {
    await service?.close();
    await shop?.close();
    ws?.remove();
  });

  it('an artifacts folder that cannot be made ends the deployment inconclusive (service), answers the waiting caller, frees the slot', async () => {
    const done = await api(service.url, 'POST', '/api/v1/deployments?wait=60', { environment: 'canary', version: '2.0.0' });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.verdict, 'inconclusive');
    assert.equal(done.body.cause, 'service', JSON.stringify(done.body));
    assert.match(done.body.reasons.join('\n'), /cannot create the run's artifacts folder .*ENOTDIR/);
    const run = (await api(service.url, 'GET', `/api/v1/runs/${done.body.runs.at(-1).id}`)).body;
    assert.match(JSON.stringify(run), /service error: cannot create the run's artifacts folder/);
    assert.equal(service.verifier.activeRuns, 0);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(metrics, /^smoke_runs_in_progress 0$/m);
    const tmpRoot = tmpRootFor(loadConfig(ws.configFile));
    // What the service keeps between runs (its warm browser, the runner waiting for the next run) aside.
    const left = existsSync(tmpRoot) ? readdirSync(tmpRoot).filter((name) => name !== 'warm-browser' && name !== 'ahead') : [];
    assert.deepEqual(left, [], 'no temp folder of the run is left behind');
  });

  const names = ['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty'];
  for (const name of names) {
    it(`an environment named '${name}' is unknown, to the API and to the Argo gate`, async () => {
      const deploy = await api(service.url, 'POST', '/api/v1/deployments', `{"environment":${JSON.stringify(name)},"version":"1"}`);
      assert.equal(deploy.status, 400, JSON.stringify(deploy.body));
      assert.equal(deploy.body.error.code, 'unknown_environment');
      assert.equal(deploy.body.error.field, 'environment');
      const argoGet = await api(service.url, 'GET', `/api/v1/gates/argo?environment=${encodeURIComponent(name)}&revision=r1`);
      assert.equal(argoGet.status, 400, JSON.stringify(argoGet.body));
      assert.equal(argoGet.body.error.code, 'unknown_environment');
      const argoPost = await api(service.url, 'POST', '/api/v1/gates/argo', `{"environment":${JSON.stringify(name)},"revision":"r1"}`);
      assert.equal(argoPost.status, 400, JSON.stringify(argoPost.body));
      assert.equal(argoPost.body.error.code, 'unknown_environment');
      assert.equal((await api(service.url, 'GET', '/api/v1/deployments')).body.deployments.length, 1, 'nothing was started');
    });
  }
});
