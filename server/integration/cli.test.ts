import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../service.ts';
import { deadUrl, REPO, startService, startShop, workspace, type Shop, type Workspace } from './harness.ts';

const TOKEN = 'cli-api-token-0123456789';

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `smoke verify …` as a pipeline runs it: its own process, judged by its exit code. */
function smokeVerify(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'server/main.ts'), 'verify', ...args], {
    cwd: REPO,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('smoke verify against the real service', () => {
  let production: Shop;
  let canary: Shop;
  let broken: Shop;
  let ws: Workspace;
  let service: Service;

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary');
    broken = await startShop('canary', 'checkout-500');
    ws = workspace(
      {
        production: { baseURL: production.url },
        canary: { baseURL: canary.url, baseline: 'production' },
        broken: { baseURL: broken.url, baseline: 'production' },
        // Its flows fail and its baseline cannot say whether they should: inconclusive.
        gone: { baseURL: await deadUrl() },
        orphan: { baseURL: broken.url, baseline: 'gone' },
      },
      // One retry: on a loaded machine a healthy flow may time out once, which must not read as a failed deploy.
      { apiToken: TOKEN, retries: 1 },
    );
    service = await startService(ws);
  });

  after(async () => {
    await service?.close();
    await Promise.all([production?.close(), canary?.close(), broken?.close()]);
    ws?.remove();
  });

  it('exits 0 on pass, 1 on fail, 2 on inconclusive, printing verdict, reasons and links', async () => {
    const env = { SMOKE_URL: service.url, SMOKE_API_TOKEN: TOKEN };
    const [pass, fail, inconclusive] = await Promise.all([
      smokeVerify(['--environment', 'canary', '--version', '1.1.0', '--deployment-id', 'ci-1', '--json', '--timeout', '180'], env),
      smokeVerify(['--environment', 'broken', '--version', '1.2.0', '--service', 'shop', '--timeout', '180', '--url', service.url, '--token', TOKEN]),
      smokeVerify(['--environment', 'orphan', '--version', '1.3.0', '--timeout', '180'], env),
    ]);

    assert.equal(pass.code, 0, pass.stderr);
    const deployment = JSON.parse(pass.stdout);
    assert.deepEqual([deployment.verdict, deployment.deploymentId, deployment.environment], ['pass', 'ci-1', 'canary']);
    assert.match(pass.stderr, /^PASS {2}shop 1\.1\.0 on canary \(baseline production\)/);

    assert.equal(fail.code, 1, fail.stdout + fail.stderr);
    assert.match(fail.stdout, /^FAIL {2}shop 1\.2\.0 on broken \(baseline production\)\n/);
    // Failed fast: the regressions confirmed first (one or both checkout flows), each named with its trace.
    const named = [...fail.stdout.matchAll(/- "([^"]+)" failed on broken after \d attempts/g)].map((m) => m[1]!);
    assert.ok(named.length > 0, fail.stdout);
    for (const flow of named) {
      assert.ok(['api.spec.ts › checkout API accepts an order', 'checkout.spec.ts › customer can check out'].includes(flow), flow);
      assert.match(fail.stdout, new RegExp(`trace of "${flow.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": http://127\\.0\\.0\\.1:\\d+/trace/index\\.html\\?trace=%2Fruns%2Frun_`));
    }
    // The page is the thing to open.
    assert.match(fail.stdout, /\ndetails: http:\/\/127\.0\.0\.1:\d+\/deployments\/dep_\w+\n$/);

    assert.equal(inconclusive.code, 2, inconclusive.stdout + inconclusive.stderr);
    assert.match(inconclusive.stdout, /^INCONCLUSIVE {2}shop 1\.3\.0 on orphan \(baseline gone\)/);

    for (const result of [pass, fail, inconclusive]) assert.ok(!(result.stdout + result.stderr).includes(TOKEN), 'the token was printed');
  });

  it('exits 2 when smoke cannot be asked: bad usage, no such service, a refusal, the deadline', async () => {
    const nobody = await deadUrl();
    const [badFlag, unreachable, refused, unauthorized, timeout] = await Promise.all([
      smokeVerify(['--environment', 'canary', '--version', '1', '--wait', '5']),
      smokeVerify(['--environment', 'canary', '--version', '1', '--url', nobody, '--timeout', '5']),
      smokeVerify(['--environment', 'staging', '--version', '1', '--url', service.url, '--token', TOKEN]),
      smokeVerify(['--environment', 'canary', '--version', '1', '--url', service.url]),
      smokeVerify(['--environment', 'canary', '--version', '1.4.0', '--url', service.url, '--token', TOKEN, '--timeout', '1']),
    ]);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /Unknown option '--wait'[\s\S]*usage: smoke verify/);
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.stderr, /cannot reach smoke at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /HTTP 400\): environment 'staging' is not in the config/);
    assert.equal(unauthorized.code, 2);
    assert.match(unauthorized.stderr, /HTTP 401\)/);
    assert.equal(timeout.code, 2, timeout.stdout + timeout.stderr);
    assert.match(timeout.stdout, /^TIMEOUT {2}shop 1\.4\.0 on canary \(baseline production\): no verdict after 1 s/);
  });
});
