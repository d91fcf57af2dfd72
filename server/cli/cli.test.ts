import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyDeploy, type DeploymentView } from './client.ts';
import { DEFAULT_URL, parseVerifyArgs, type ParsedVerify, type VerifyOptions } from './options.ts';
import { describeOutcome, exitCodeOf } from './report.ts';
import { runVerify } from './verify.ts';

const REQUIRED = ['--environment', 'canary', '--version', '1.4.2'];

describe('smoke verify arguments', () => {
  const cases: { name: string; argv: string[]; env?: NodeJS.ProcessEnv; expect: Partial<VerifyOptions> | { usage: RegExp } | 'help' }[] = [
    { name: 'the two required flags', argv: REQUIRED, expect: { environment: 'canary', version: '1.4.2', url: DEFAULT_URL, timeoutSeconds: 300, json: false } },
    { name: 'the short -e', argv: ['-e', 'canary', '--version', '1'], expect: { environment: 'canary' } },
    {
      name: 'every flag',
      argv: [...REQUIRED, '--url', 'https://smoke.example.com/', '--timeout', '600', '--service', 'shop', '--deployment-id', 'ci-42', '--token', 't0k3n', '--json'],
      expect: { url: 'https://smoke.example.com', timeoutSeconds: 600, service: 'shop', deploymentId: 'ci-42', token: 't0k3n', json: true },
    },
    { name: 'URL and token from the environment', argv: REQUIRED, env: { SMOKE_URL: 'http://smoke:8080', SMOKE_API_TOKEN: 'from-env' }, expect: { url: 'http://smoke:8080', token: 'from-env' } },
    { name: 'flags over the environment', argv: [...REQUIRED, '--url', 'http://flag', '--token', 'flag'], env: { SMOKE_URL: 'http://env', SMOKE_API_TOKEN: 'env' }, expect: { url: 'http://flag', token: 'flag' } },
    { name: 'help', argv: ['--help'], expect: 'help' },
    { name: 'no environment', argv: ['--version', '1'], expect: { usage: /--environment is required/ } },
    { name: 'no version', argv: ['--environment', 'canary'], expect: { usage: /--version is required/ } },
    { name: 'an unknown flag', argv: [...REQUIRED, '--verbose'], expect: { usage: /Unknown option '--verbose'/ } },
    { name: 'a stray argument', argv: [...REQUIRED, 'now'], expect: { usage: /Unexpected argument 'now'/ } },
    { name: 'a timeout that is not a number', argv: [...REQUIRED, '--timeout', '5m'], expect: { usage: /--timeout must be a whole number of seconds/ } },
    { name: 'a zero timeout', argv: [...REQUIRED, '--timeout', '0'], expect: { usage: /--timeout/ } },
    { name: 'a URL that is not http', argv: [...REQUIRED, '--url', 'smoke:8080'], expect: { usage: /--url must be an http\(s\) URL/ } },
    { name: 'a flag without its value', argv: ['--environment'], expect: { usage: /argument missing/ } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const parsed: ParsedVerify = parseVerifyArgs(c.argv, c.env ?? {});
      if (c.expect === 'help') return assert.equal(parsed.kind, 'help');
      if ('usage' in c.expect) {
        assert.equal(parsed.kind, 'usage');
        return assert.match(parsed.kind === 'usage' ? parsed.error : '', c.expect.usage);
      }
      assert.equal(parsed.kind, 'options');
      if (parsed.kind === 'options') for (const [key, value] of Object.entries(c.expect)) assert.deepEqual(parsed.options[key as keyof VerifyOptions], value, key);
    });
  }
});

const view = (status: DeploymentView['status'], verdict: DeploymentView['verdict'], extra: Record<string, unknown> = {}): DeploymentView => ({
  id: 'dep_1',
  status,
  verdict,
  service: 'shop',
  version: '1.4.2',
  environment: 'canary',
  baseline: 'production',
  reasons: verdict ? [`reason for ${verdict}`] : [],
  links: { self: 'http://smoke/api/v1/deployments/dep_1', page: 'http://smoke/deployments/dep_1', run: 'http://smoke/api/v1/runs/run_1' },
  ...extra,
});

/** A fetch that answers from a script, recording what was asked. */
function scripted(answers: (Response | Error)[]) {
  const calls: { url: string; method: string; body?: string; authorization?: string }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit = {}) => {
    const headers = (init.headers ?? {}) as Record<string, string>;
    calls.push({ url, method: init.method ?? 'GET', ...(init.body !== undefined && { body: String(init.body) }), ...(headers.authorization && { authorization: headers.authorization }) });
    const next = answers.shift();
    if (!next) throw new Error('no more scripted answers');
    if (next instanceof Error) throw next;
    return next;
  }) as typeof fetch;
  return { fetchImpl, calls };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const refused = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
const OPTIONS: VerifyOptions = { environment: 'canary', version: '1.4.2', url: 'http://smoke', timeoutSeconds: 60, json: false, deploymentId: 'ci-42', token: 'secret-token' };

describe('smoke verify against the API', () => {
  it('submits once, then long-polls the deployment until it is done', async () => {
    const { fetchImpl, calls } = scripted([json(202, view('running', null)), refused(), json(200, view('running', null)), json(200, view('done', 'pass'))]);
    const outcome = await verifyDeploy(OPTIONS, fetchImpl);
    assert.equal(outcome.kind, 'done');
    assert.equal(exitCodeOf(outcome), 0);
    assert.deepEqual(
      calls.map((c) => `${c.method} ${c.url.replace(/wait=\d+/, 'wait=N')}`),
      ['POST http://smoke/api/v1/deployments?wait=N', ...Array(3).fill('GET http://smoke/api/v1/deployments/dep_1?wait=N')],
    );
    assert.deepEqual(JSON.parse(calls[0]!.body!), { environment: 'canary', version: '1.4.2', deploymentId: 'ci-42' });
    assert.ok(calls.every((c) => c.authorization === 'Bearer secret-token'));
    assert.ok(calls.every((c) => Number(/wait=(\d+)/.exec(c.url)?.[1]) <= 60));
  });

  it('keeps polling through a 503 (a replica shutting down, its store briefly down) and a proxy 502, but not through a 404', async () => {
    const unavailable = json(503, { error: { code: 'store_unavailable', message: 'the store is unavailable: connect ECONNREFUSED' } });
    const { fetchImpl, calls } = scripted([json(202, view('running', null)), unavailable, new Response('bad gateway', { status: 502 }), json(200, view('done', 'pass'))]);
    assert.equal((await verifyDeploy(OPTIONS, fetchImpl)).kind, 'done');
    assert.equal(calls.length, 4);
    const gone = await verifyDeploy(OPTIONS, scripted([json(202, view('running', null)), json(404, { error: { code: 'not_found', message: 'no deployment dep_1' } })]).fetchImpl);
    assert.deepEqual(gone, { kind: 'rejected', status: 404, message: 'no deployment dep_1' });
  });

  it('exits 1 on fail, 2 on inconclusive and on a superseded deploy', async () => {
    for (const [verdict, code] of [['fail', 1], ['inconclusive', 2], [null, 2]] as const) {
      const { fetchImpl } = scripted([json(200, view('done', verdict))]);
      assert.equal(exitCodeOf(await verifyDeploy(OPTIONS, fetchImpl)), code, String(verdict));
    }
  });

  it('gives up at the timeout with the deployment as it stands', async () => {
    let clock = 0;
    const { fetchImpl } = scripted([json(202, view('running', null)), json(200, view('running', null))]);
    const late = (async (...args: Parameters<typeof fetch>) => {
      const response = await fetchImpl(...args);
      clock += 30_000;
      return response;
    }) as typeof fetch;
    const outcome = await verifyDeploy(OPTIONS, late, () => clock);
    assert.equal(outcome.kind, 'timeout');
    assert.equal(exitCodeOf(outcome), 2);
    assert.match(describeOutcome(outcome, 60), /^TIMEOUT {2}shop 1\.4\.2 on canary \(baseline production\): no verdict after 60 s \(still running\)/);
  });

  it('reports a refusal with the API error message, and an unreachable service by its cause', async () => {
    const rejected = await verifyDeploy(OPTIONS, scripted([json(400, { error: { code: 'unknown_environment', message: "environment 'x' is not in the config", field: 'environment' } })]).fetchImpl);
    assert.deepEqual(rejected, { kind: 'rejected', status: 400, message: "environment 'x' is not in the config" });
    const unreachable = await verifyDeploy(OPTIONS, scripted([refused()]).fetchImpl);
    assert.equal(unreachable.kind, 'unreachable');
    assert.match(describeOutcome(unreachable, 60), /cannot reach smoke at http:\/\/smoke: ECONNREFUSED/);
    assert.equal(exitCodeOf(unreachable), 2);
  });

  const failedRun = (artifacts: Record<string, string>[]) => ({
    run: {
      environments: {
        canary: {
          flows: [
            { flow: 'checkout.spec.ts › customer can check out', outcome: 'failed', artifacts },
            { flow: 'storefront', outcome: 'passed', artifacts: [] },
          ],
        },
      },
    },
  });

  it('prints the verdict, its reasons, the failed flows\' screenshot and trace viewer, and the page to open', () => {
    const failed = view(
      'done',
      'fail',
      failedRun([
        { name: 'screenshot', url: 'http://smoke/api/v1/runs/run_1/artifacts/s.png' },
        { name: 'trace', url: 'http://smoke/api/v1/runs/run_1/artifacts/t.zip', viewer: 'http://smoke/trace/index.html?trace=%2Fruns%2Frun_1%2Fartifacts%2Ft.zip' },
      ]),
    );
    assert.equal(
      describeOutcome({ kind: 'done', deployment: failed }, 60),
      [
        'FAIL  shop 1.4.2 on canary (baseline production)',
        '  - reason for fail',
        '    screenshot of "checkout.spec.ts › customer can check out": http://smoke/api/v1/runs/run_1/artifacts/s.png',
        '    trace of "checkout.spec.ts › customer can check out": http://smoke/trace/index.html?trace=%2Fruns%2Frun_1%2Fartifacts%2Ft.zip',
        'details: http://smoke/deployments/dep_1',
        '',
      ].join('\n'),
    );
  });

  it('prints the API links of an older smoke that has no pages', () => {
    const older = view('done', 'fail', { ...failedRun([{ name: 'trace', url: 'http://smoke/t.zip' }]), links: { self: 'http://smoke/api/v1/deployments/dep_1', run: 'http://smoke/api/v1/runs/run_1' } });
    assert.equal(
      describeOutcome({ kind: 'done', deployment: older }, 60),
      [
        'FAIL  shop 1.4.2 on canary (baseline production)',
        '  - reason for fail',
        '    trace of "checkout.spec.ts › customer can check out": http://smoke/t.zip',
        'run: http://smoke/api/v1/runs/run_1',
        'deployment: http://smoke/api/v1/deployments/dep_1',
        '',
      ].join('\n'),
    );
  });

  it('--json prints the deployment on stdout and the summary on stderr', async () => {
    let stdout = '';
    let stderr = '';
    const code = await runVerify([...REQUIRED, '--url', 'http://smoke', '--json'], {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      env: {},
      fetch: scripted([json(200, view('done', 'pass'))]).fetchImpl,
    });
    assert.equal(code, 0);
    assert.equal(JSON.parse(stdout).verdict, 'pass');
    assert.match(stderr, /^PASS {2}shop/);
  });
});
