import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { deploymentPage } from '../pages/deployment-page.ts';
import { pagePaths } from '../pages/paths.ts';
import { runPage } from '../pages/run-page.ts';
import { openStore } from '../store/store.ts';
import { deploymentView, runSummaryView, runView } from './views.ts';

const BASE = 'https://smoke.example.com';

/** A deploy whose first run a replica started and ended, and whose second run is still queued. */
async function deployWithTwoRuns(replica: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-views-'));
  const store = await openStore({ kind: 'sqlite', file: path.join(dir, 'smoke.db') });
  const { deployment, run } = await store.createDeployment({ service: 'shop', environment: 'canary', version: '2.0.0' });
  await store.markRunRunning(run!.id, replica);
  await store.finishRun(run!.id, { status: 'interrupted', note: 'the service stopped' });
  const queued = await store.createRun({ deploymentId: deployment.id, trigger: 'deploy', target: 'canary', environments: ['canary'] });
  return {
    store,
    deployment: (await store.getDeployment(deployment.id))!,
    started: (await store.getRun(run!.id))!,
    queued: (await store.getRun(queued!.id))!,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('replica in views and pages', () => {
  it("names the replica that ran a run in the API's run and deployment views, null for a run not started", async () => {
    const { store, deployment, started, queued, close } = await deployWithTwoRuns('smoke-0');
    assert.equal(runView(BASE, started).replica, 'smoke-0');
    assert.equal(runSummaryView(BASE, started).replica, 'smoke-0');
    assert.equal(runView(BASE, queued).replica, null);
    const view = deploymentView(BASE, deployment, started, await store.runsOfDeployment(deployment.id));
    assert.equal(view.run?.replica, 'smoke-0');
    assert.deepEqual(view.runs.map((r) => r.replica), ['smoke-0', null]);
    await close();
  });

  it('shows "ran on" on the run and deployment pages, escaped', async () => {
    const { store, deployment, started, queued, close } = await deployWithTwoRuns('<b>smoke-0</b>');
    const paths = pagePaths('');
    const escaped = '<code>&lt;b&gt;smoke-0&lt;/b&gt;</code>';
    const page = runPage(started, paths);
    assert.ok(page.includes(`<dt>Ran on</dt><dd>${escaped}</dd>`), page);
    assert.ok(!page.includes('<b>smoke-0'));
    assert.ok(!runPage(queued, paths).includes('<dt>Ran on</dt>'), 'a run not started names no replica');
    const deploymentHtml = deploymentPage({ deployment, runs: await store.runsOfDeployment(deployment.id), latest: started, signals: [] }, paths);
    assert.ok(deploymentHtml.includes(`<dt>Ran on</dt><dd>${escaped}</dd>`));
    assert.ok(deploymentHtml.includes(`<td>${escaped}</td>`), 'the runs table names it too');
    await close();
  });
});
