import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/config.ts';
import { tmpRootFor, type Service } from '../service.ts';
import { api, runProcesses, startService, startShop, waitFor, workspace, type Shop, type Workspace } from './harness.ts';

describe('deployment lifecycle', () => {
  let production: Shop;
  let canary: Shop;
  let ws: Workspace;
  let service: Service;
  let tmpRoot: string;

  before(async () => {
    production = await startShop('production');
    // Slow enough that a run is still going when the next deploy arrives.
    canary = await startShop('canary', 'none', 1_500);
    ws = workspace(
      {
        production: { baseURL: production.url },
        canary: { baseURL: canary.url, baseline: 'production' },
        staging: { baseURL: canary.url },
      },
    );
    service = await startService(ws);
    tmpRoot = tmpRootFor(loadConfig(ws.configFile));
  });

  after(async () => {
    await service?.close();
    await Promise.all([production?.close(), canary?.close()]);
    ws?.remove();
  });

  it('the same deploymentId posted twice starts one verification', async () => {
    const body = { environment: 'staging', version: '3.0.0', deploymentId: 'pipeline-417' };
    const first = await api(service.url, 'POST', '/api/v1/deployments', body);
    const second = await api(service.url, 'POST', '/api/v1/deployments', body);
    assert.equal(first.status, 202);
    assert.ok([200, 202].includes(second.status));
    assert.equal(second.body.id, first.body.id);
    assert.equal(first.body.deploymentId, 'pipeline-417');
    const done = await api(service.url, 'GET', `/api/v1/deployments/${first.body.id}?wait=120`);
    assert.equal(done.body.status, 'done');
    assert.equal(done.body.verdict, 'pass', done.body.reasons.join('\n'));
    assert.equal(done.body.runs.length, 1);
    // The replica that ran it: this process, under the default `<hostname>-<pid>` name.
    const replica = loadConfig(ws.configFile).server.instanceId;
    assert.equal(done.body.run.replica, replica);
    assert.equal(done.body.runs[0].replica, replica);
    assert.equal((await api(service.url, 'GET', `/api/v1/runs/${done.body.run.id}`)).body.replica, replica);
    const again = await api(service.url, 'POST', '/api/v1/deployments', body);
    assert.equal(again.status, 200);
    assert.equal(again.body.runs.length, 1);

    const conflicting = await api(service.url, 'POST', '/api/v1/deployments', { ...body, version: '3.0.1' });
    assert.equal(conflicting.status, 409);
    assert.equal(conflicting.body.error.field, 'deploymentId');
  });

  it('a newer deploy to the same environment supersedes the running one', async () => {
    canary.state.fault = 'slow';
    const older = await api(service.url, 'POST', '/api/v1/deployments', { environment: 'canary', version: '4.0.0' });
    assert.equal(older.status, 202);
    await waitFor('the first verification to be running', async () => {
      const d = await api(service.url, 'GET', `/api/v1/deployments/${older.body.id}`);
      return d.body.status === 'running' && d.body.run.status === 'running' ? true : undefined;
    });
    // Let the runner get as far as launching browsers, so the cancel has something to stop.
    await waitFor('browsers of the first run', () => (runProcesses(tmpRoot).length > 2 ? true : undefined), 30_000);
    canary.state.fault = 'none';
    const newer = await api(service.url, 'POST', '/api/v1/deployments?wait=180', { environment: 'canary', version: '4.0.1' });
    assert.equal(newer.body.verdict, 'pass', newer.body.reasons.join('\n'));

    const superseded = await api(service.url, 'GET', `/api/v1/deployments/${older.body.id}?wait=60`);
    assert.equal(superseded.body.status, 'done');
    assert.equal(superseded.body.verdict, null);
    assert.equal(superseded.body.supersededBy, newer.body.id);
    assert.equal(superseded.body.run.status, 'cancelled');
    assert.match(superseded.body.run.note, new RegExp(`superseded by deployment ${newer.body.id}`));
    assert.deepEqual(runProcesses(tmpRoot), [], 'no runner or browser process outlives its run');
  });

  it('deploys to different environments run side by side', async () => {
    const a = await api(service.url, 'POST', '/api/v1/deployments', { environment: 'canary', version: '5.0.0' });
    const b = await api(service.url, 'POST', '/api/v1/deployments', { environment: 'staging', version: '5.0.0' });
    await waitFor('both to run at once', async () => {
      const [da, db] = await Promise.all([
        api(service.url, 'GET', `/api/v1/deployments/${a.body.id}`),
        api(service.url, 'GET', `/api/v1/deployments/${b.body.id}`),
      ]);
      return da.body.status === 'running' && db.body.status === 'running' ? true : undefined;
    });
    const [da, db] = await Promise.all([
      api(service.url, 'GET', `/api/v1/deployments/${a.body.id}?wait=180`),
      api(service.url, 'GET', `/api/v1/deployments/${b.body.id}?wait=180`),
    ]);
    assert.equal(da.body.verdict, 'pass');
    assert.equal(db.body.verdict, 'pass');
    assert.equal(existsSync(tmpRoot) ? runProcesses(tmpRoot).length : 0, 0);
  });
});

describe('a run past its deadline', () => {
  it('is stopped, judged inconclusive, and leaves no process or temp folder behind', async () => {
    const production = await startShop('production', 'slow', 2_000);
    const canary = await startShop('canary', 'slow', 2_000);
    const ws = workspace(
      { production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } },
      { deadlineSeconds: 5 },
    );
    const service = await startService(ws);
    try {
      const tmpRoot = tmpRootFor(loadConfig(ws.configFile));
      const { body } = await api(service.url, 'POST', '/api/v1/deployments?wait=120', { environment: 'canary', version: '9.9.9' });
      assert.equal(body.verdict, 'inconclusive', body.reasons.join('\n'));
      assert.equal(body.cause, 'service');
      assert.match(body.reasons[0], /exceeded its 5 s deadline/);
      assert.deepEqual(body.run.runner, { kind: 'deadline', seconds: 5 });
      assert.deepEqual(runProcesses(tmpRoot), []);
      assert.equal(existsSync(`${tmpRoot}/${body.run.id}`), false);
    } finally {
      await service.close();
      await Promise.all([production.close(), canary.close()]);
      ws.remove();
    }
  });
});
