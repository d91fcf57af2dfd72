import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/config.ts';
import { findMarkedProcesses } from '../runner/processes.ts';
import { tmpRootFor } from '../service.ts';
import { api, freePort, runProcesses, spawnService, startShop, waitFor, workspace, type Shop, type Workspace } from './harness.ts';

/**
 * The service as its own process, stopped the hard way and the polite way in
 * the middle of a run: the deployment is never forgotten and still gets its
 * verdict, and no runner or browser outlives the service that started it.
 */
describe('a stop in the middle of a run', () => {
  let production: Shop;
  let canary: Shop;
  let ws: Workspace;
  let port: number;
  let tmpRoot: string;

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary', 'none', 1_500);
    // A short lease: a killed service's run is taken over 5 s after its last renewal, not 30.
    ws = workspace({ production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } }, { leaseSeconds: 5 });
    port = await freePort();
    // The service's temp root is per database and port: the port the spawned service is given.
    tmpRoot = tmpRootFor(loadConfig(ws.configFile, { ...process.env, SMOKE_TEST_PORT: String(port) }));
  });

  /** Every service this file starts, so a failed test leaves none running (their pipes would keep the file alive). */
  const started: ChildProcess[] = [];
  const spawn = async (...args: Parameters<typeof spawnService>) => {
    const service = await spawnService(...args);
    started.push(service.child);
    return service;
  };

  after(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all([production?.close(), canary?.close()]);
    ws?.remove();
  });

  async function startRunningDeploy(url: string, version: string): Promise<string> {
    canary.state.fault = 'slow';
    const posted = await api(url, 'POST', '/api/v1/deployments', { environment: 'canary', version });
    assert.equal(posted.status, 202);
    await waitFor('runner and workers of the run to start', () => (runProcesses(tmpRoot).length > 2 ? true : undefined), 60_000);
    return posted.body.id as string;
  }

  it('kill -9: the orphaned run stops by itself, and the restarted service re-runs the deployment once the lease runs out', async () => {
    const first = await spawn(ws, port);
    const id = await startRunningDeploy(first.url, '7.0.0');
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');

    // Everything: the run's runner, workers and browsers, and the warm browser and waiting runner the dead service kept.
    await waitFor('the orphaned runner and its browsers to exit', () => (findMarkedProcesses(tmpRoot).length === 0 ? true : undefined), 30_000);

    canary.state.fault = 'none';
    const second = await spawn(ws, port);
    try {
      const done = await api(second.url, 'GET', `/api/v1/deployments/${id}?wait=180`);
      assert.equal(done.status, 200);
      assert.equal(done.body.status, 'done');
      assert.equal(done.body.verdict, 'pass', done.body.reasons.join('\n'));
      assert.deepEqual(done.body.runs.map((r: { status: string }) => r.status), ['interrupted', 'done']);
      assert.match(done.body.runs[0].note, /^replica \S+ stopped renewing its lease/);
    } finally {
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');
    }
  });

  it('SIGTERM: cancels the run, closes the browsers, exits 0, and the next start resumes it', async () => {
    const first = await spawn(ws, port);
    const id = await startRunningDeploy(first.url, '7.1.0');
    first.child.kill('SIGTERM');
    const [code] = await once(first.child, 'exit');
    assert.equal(code, 0, first.output());
    assert.deepEqual(findMarkedProcesses(tmpRoot), [], 'the shutdown waited for the runner and its browsers');
    assert.match(first.output(), /shutting down/);

    canary.state.fault = 'none';
    const second = await spawn(ws, port);
    try {
      const done = await api(second.url, 'GET', `/api/v1/deployments/${id}?wait=180`);
      assert.equal(done.body.verdict, 'pass', done.body.reasons.join('\n'));
      assert.deepEqual(done.body.runs.map((r: { status: string }) => r.status), ['interrupted', 'done']);
      assert.match(done.body.runs[0].note, /shut down during the run/);
    } finally {
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');
    }
  });

  it('a bad config stops start-up with one clear message naming the key', async () => {
    const { spawnSync } = await import('node:child_process');
    const { writeFileSync } = await import('node:fs');
    const bad = `${ws.dir}/bad.yaml`;
    writeFileSync(bad, 'environments:\n  canary:\n    baseURL: ftp://example\n');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts', '--config', bad], { encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /environments\.canary\.baseURL: must be an http\(s\) URL/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });
});
