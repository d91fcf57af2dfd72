import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeploymentRecord, RunWithResults } from '../verification/records.ts';
import { buildPayload } from './payload.ts';

const DEPLOYMENT: DeploymentRecord = {
  id: 'dep_1',
  service: 'shop',
  environment: 'canary',
  baseline: 'production',
  version: '1.2.0',
  status: 'done',
  createdAt: '2026-01-01T00:00:00.000Z',
  verdict: { kind: 'fail', reasons: ['checkout failed'], failed: [{ flow: 'checkout', environment: 'canary', error: 'HTTP 500' }] },
};

const RUN: RunWithResults = {
  id: 'run_1',
  deploymentId: 'dep_1',
  trigger: 'deploy',
  target: 'canary',
  environments: ['canary', 'production'],
  status: 'done',
  diagnostics: [],
  createdAt: '2026-01-01T00:00:00.000Z',
  results: [
    {
      environment: 'canary',
      flow: 'checkout',
      file: 'checkout.spec.ts',
      outcome: 'failed',
      durationMs: 1200,
      retries: 2,
      error: 'HTTP 500',
      artifacts: [
        { name: 'screenshot', path: 'target/checkout a/test-failed-1.png', contentType: 'image/png' },
        { name: 'trace', path: 'target/checkout a/trace.zip', contentType: 'application/zip' },
      ],
    },
  ],
};

const data = (base: string, run: RunWithResults | undefined) =>
  JSON.parse(buildPayload('deployment.rollback_requested', DEPLOYMENT, run, base, new Date(0))).data;

describe('rollback payload links', () => {
  const cases = [
    { name: 'at the root', base: 'https://smoke.example.com', origin: 'https://smoke.example.com', prefix: '' },
    { name: 'under a path prefix', base: 'https://ci.example.com/smoke', origin: 'https://ci.example.com', prefix: '/smoke' },
    { name: 'with a trailing slash', base: 'https://ci.example.com/smoke/', origin: 'https://ci.example.com', prefix: '/smoke' },
  ];
  for (const c of cases) {
    it(`points people at the page and programs at the API, ${c.name}`, () => {
      const { links, failedFlows } = data(c.base, RUN);
      const root = c.origin + c.prefix;
      assert.deepEqual(links, {
        page: `${root}/deployments/dep_1`,
        deployment: `${root}/api/v1/deployments/dep_1`,
        run: `${root}/api/v1/runs/run_1`,
      });
      assert.equal(failedFlows[0].screenshot, `${root}/api/v1/runs/run_1/artifacts/target/checkout%20a/test-failed-1.png`);
      assert.equal(failedFlows[0].trace, `${root}/api/v1/runs/run_1/artifacts/target/checkout%20a/trace.zip`);
      const viewer = new URL(failedFlows[0].traceViewer);
      assert.equal(`${viewer.origin}${viewer.pathname}`, `${root}/trace/index.html`);
      // The viewer loads the trace from its own origin, through the page route under the same prefix.
      assert.equal(viewer.searchParams.get('trace'), `${c.prefix}/runs/run_1/artifacts/target/checkout%20a/trace.zip`);
    });
  }

  it('has no run links when no run was recorded', () => {
    const { links, failedFlows } = data('https://smoke.example.com', undefined);
    assert.equal(links.run, null);
    assert.equal(links.page, 'https://smoke.example.com/deployments/dep_1');
    assert.deepEqual(failedFlows, [{ flow: 'checkout', environment: 'canary', error: 'HTTP 500', screenshot: null, trace: null, traceViewer: null }]);
  });
});
