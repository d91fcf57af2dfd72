import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, outcomes, REPO, startService, startShop, workspace, type Shop } from './harness.ts';

const FIXTURES = path.join(REPO, 'server/integration/fixtures');

/** What a team brings: its own Playwright project or a bare folder of specs, used as it is. */
describe('bring your own suite', () => {
  let production: Shop;
  let canary: Shop;

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary');
  });

  after(async () => {
    await Promise.all([production?.close(), canary?.close()]);
  });

  async function verify(suite: string, extra: { grep?: string; baseline?: 'always' } = {}) {
    const ws = workspace(
      { production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } },
      { suite, retries: 1, ...extra },
    );
    const service = await startService(ws);
    try {
      return (await api(service.url, 'POST', '/api/v1/deployments?wait=180', { environment: 'canary', version: '1.0.0' })).body;
    } finally {
      await service.close();
      ws.remove();
    }
  }

  it("runs a team's own config unchanged: its projects and testDir, the service's grep, no local dev server", async () => {
    // `always`, so that both environments run every project (on-failure runs named flows: runner.test.ts).
    const body = await verify(path.join(FIXTURES, 'team-suite/playwright.config.ts'), { grep: '@smoke', baseline: 'always' });
    assert.equal(body.verdict, 'pass', body.reasons.join('\n'));
    const expected = {
      '[desktop] home.spec.ts › home page shows the shop': 'passed',
      '[api] api-only.spec.ts › catalogue › lists products': 'passed',
    };
    assert.deepEqual(outcomes(body, 'canary'), expected);
    assert.deepEqual(outcomes(body, 'production'), expected);
    // Nothing generated for the run is left beside the team's config.
    assert.deepEqual(readdirSync(path.join(FIXTURES, 'team-suite')).sort(), ['e2e', 'playwright.config.ts']);
  });

  it('runs a bare folder of specs', async () => {
    const body = await verify(path.join(FIXTURES, 'spec-folder'));
    assert.equal(body.verdict, 'pass', body.reasons.join('\n'));
    assert.deepEqual(outcomes(body, 'canary'), { 'catalogue.spec.ts › catalogue answers @critical': 'passed' });
  });

  it('a suite that does not load is the service’s problem: inconclusive, never a rollback', async () => {
    const body = await verify(path.join(FIXTURES, 'broken-suite'));
    assert.equal(body.verdict, 'inconclusive', body.reasons.join('\n'));
    assert.equal(body.cause, 'service');
    assert.match(body.reasons[0], /broken\.spec\.js/);
  });
});
