import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploymentPage } from '../pages/deployment-page.ts';
import { pagePaths } from '../pages/paths.ts';
import { runPage } from '../pages/run-page.ts';
import { openStore } from '../store/store.ts';
import { deploymentView, runSummaryView, runView } from './views.ts';

const BASE = 'https://smoke.example.com';

/** A deploy whose first run a replica started and ended, and whose second run is still queued. */
function deployWithTwoRuns(replica: string) {
  const store = openStore(':memory:');
  const { deployment, run } = store.createDeployment({ service: 'shop', environment: 'canary', version: '2.0.0' });
  store.markRunRunning(run!.id, replica);
  store.finishRun(run!.id, { status: 'interrupted', note: 'the service stopped' });
  const queued = store.createRun({ deploymentId: deployment.id, trigger: 'deploy', target: 'canary', environments: ['canary'] });
  return { store, deployment: store.getDeployment(deployment.id)!, started: store.getRun(run!.id)!, queued: store.getRun(queued.id)! };
}

describe('replica in views and pages', () => {
  it("names the replica that ran a run in the API's run and deployment views, null for a run not started", () => {
    const { store, deployment, started, queued } = deployWithTwoRuns('smoke-0');
    assert.equal(runView(BASE, started).replica, 'smoke-0');
    assert.equal(runSummaryView(BASE, started).replica, 'smoke-0');
    assert.equal(runView(BASE, queued).replica, null);
    const view = deploymentView(BASE, deployment, started, store.runsOfDeployment(deployment.id));
    assert.equal(view.run?.replica, 'smoke-0');
    assert.deepEqual(view.runs.map((r) => r.replica), ['smoke-0', null]);
    store.close();
  });

  it('shows "ran on" on the run and deployment pages, escaped', () => {
    const { store, deployment, started, queued } = deployWithTwoRuns('<b>smoke-0</b>');
    const paths = pagePaths('');
    const escaped = '<code>&lt;b&gt;smoke-0&lt;/b&gt;</code>';
    const page = runPage(started, paths);
    assert.ok(page.includes(`<dt>Ran on</dt><dd>${escaped}</dd>`), page);
    assert.ok(!page.includes('<b>smoke-0'));
    assert.ok(!runPage(queued, paths).includes('<dt>Ran on</dt>'), 'a run not started names no replica');
    const deploymentHtml = deploymentPage({ deployment, runs: store.runsOfDeployment(deployment.id), latest: started, signals: [] }, paths);
    assert.ok(deploymentHtml.includes(`<dt>Ran on</dt><dd>${escaped}</dd>`));
    assert.ok(deploymentHtml.includes(`<td>${escaped}</td>`), 'the runs table names it too');
    store.close();
  });
});
