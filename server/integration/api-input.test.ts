import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import type { Service } from '../service.ts';
import { githubSignature } from '../gates/github.ts';
import { assertRefused, rawRequest, type Refused } from '../testing/refusal.ts';
import { api, startService, workspace, type Workspace } from './harness.ts';

const TOKEN = 'test-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const JSON_TYPE = { 'content-type': 'application/json' };
const GITHUB_SECRET = 'github-webhook-secret-0123456789';

interface BadCase extends Refused {
  readonly name: string;
  readonly method?: string;
  readonly path?: string;
  /** An object is sent as JSON; a string or Buffer as it is. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Leave out the bearer token (the gates that authenticate otherwise). */
  readonly anonymous?: boolean;
}

const DEPLOY = { environment: 'canary', version: '1' };
const FLAGGER = { name: 'checkout', namespace: 'shop', phase: 'Progressing', checksum: 'abc123' };
const BAD_PERCENT = '%E0%A4%A';

/** A GitHub delivery signed with the right secret, so the gate gets past the signature to what is wrong. */
const signed = (body: string, headers: Record<string, string> = {}) => ({
  body,
  anonymous: true,
  headers: { ...JSON_TYPE, 'x-github-event': 'deployment_status', 'x-github-delivery': 'd-1', 'x-hub-signature-256': githubSignature(GITHUB_SECRET, body), ...headers },
});
const without = (headers: Record<string, string>, name: string) => Object.fromEntries(Object.entries(headers).filter(([key]) => key !== name));
const signedWithout = (header: string, body = '{}') => {
  const s = signed(body);
  return { ...s, headers: without(s.headers, header) };
};

const malformedPath = (name: string, method: string, path: string): BadCase => ({ name: `bad percent-encoding in ${name}`, method, path, status: 400, code: 'malformed_path', field: 'path' });
const unknownQuery = (name: string, method: string, path: string, field: string, body?: unknown): BadCase => ({
  name: `unknown query key on ${name}`,
  method,
  path,
  body,
  status: 400,
  code: 'unknown_field',
  field,
});
const badField = (name: string, method: string, path: string, field: string, body?: unknown): BadCase => ({ name, method, path, body, status: 400, code: 'invalid_field', field });
const wrongMethod = (method: string, path: string): BadCase => ({ name: `${method} ${path}`, method, path, status: 405, code: 'method_not_allowed' });

const cases: BadCase[] = [
  // The deployment body.
  { name: 'malformed JSON', body: '{"environment": "canary",', headers: JSON_TYPE, status: 400, code: 'malformed_json' },
  { name: 'JSON that is an array', body: '[1, 2]', headers: JSON_TYPE, status: 400, code: 'invalid_body' },
  { name: 'JSON that is a number', body: '42', headers: JSON_TYPE, status: 400, code: 'malformed_json' },
  { name: 'JSON that is null', body: 'null', headers: JSON_TYPE, status: 400, code: 'malformed_json' },
  { name: 'JSON that is a string', body: '"canary"', headers: JSON_TYPE, status: 400, code: 'malformed_json' },
  { name: 'an empty body', body: '', headers: JSON_TYPE, status: 400, code: 'missing_field', field: 'environment' },
  { name: 'missing version', body: { environment: 'canary' }, status: 400, code: 'missing_field', field: 'version' },
  { name: 'missing environment', body: { version: '1' }, status: 400, code: 'missing_field', field: 'environment' },
  { name: 'unknown environment', body: { environment: 'staging', version: '1' }, status: 400, code: 'unknown_environment', field: 'environment', message: /known: production, canary/ },
  { name: 'environment of an inherited name', body: { environment: 'constructor', version: '1' }, status: 400, code: 'unknown_environment', field: 'environment' },
  {
    name: 'a key given twice: the last one counts',
    body: '{"environment": "canary", "environment": "staging", "version": "1"}',
    headers: JSON_TYPE,
    status: 400,
    code: 'unknown_environment',
    field: 'environment',
  },
  { name: 'a key in the wrong case', body: { Environment: 'canary', environment: 'canary', version: '1' }, status: 400, code: 'unknown_field', field: 'Environment' },
  { name: 'a key with a trailing space', body: { ...DEPLOY, 'version ': '2' }, status: 400, code: 'unknown_field', field: 'version ' },
  { name: 'a __proto__ key', body: '{"__proto__": {"admin": true}, "environment": "canary", "version": "1"}', headers: JSON_TYPE, status: 400, code: 'unknown_field', field: '__proto__' },
  { name: 'over-long version', body: { environment: 'canary', version: 'v'.repeat(129) }, status: 400, code: 'invalid_field', field: 'version', message: /at most 128/ },
  { name: 'empty version', body: { environment: 'canary', version: '' }, status: 400, code: 'invalid_field', field: 'version' },
  { name: 'version of the wrong type', body: { environment: 'canary', version: 12 }, status: 400, code: 'invalid_field', field: 'version' },
  { name: 'version that is null', body: { environment: 'canary', version: null }, status: 400, code: 'invalid_field', field: 'version' },
  { name: 'version with spaces', body: { environment: 'canary', version: '1 2' }, status: 400, code: 'invalid_field', field: 'version' },
  { name: 'version with a NUL', body: { environment: 'canary', version: '1\u0000' }, status: 400, code: 'invalid_field', field: 'version' },
  { name: 'version in unicode', body: { environment: 'canary', version: 'vé1' }, status: 400, code: 'invalid_field', field: 'version' },
  { name: 'environment that is an object', body: { environment: { name: 'canary' }, version: '1' }, status: 400, code: 'invalid_field', field: 'environment' },
  { name: 'over-long deploymentId', body: { ...DEPLOY, deploymentId: 'k'.repeat(201) }, status: 400, code: 'invalid_field', field: 'deploymentId' },
  { name: 'a URL to visit is refused: only configured environments are targeted', body: { ...DEPLOY, baseURL: 'http://169.254.169.254/' }, status: 400, code: 'unknown_field', field: 'baseURL' },

  // How the body is sent.
  { name: 'oversized body', body: JSON.stringify({ ...DEPLOY, pad: 'x'.repeat(100_000) }), headers: JSON_TYPE, status: 413, code: 'body_too_large' },
  { name: 'not JSON at all', body: 'environment=canary', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type' },
  { name: 'no content type', body: JSON.stringify(DEPLOY), status: 415, code: 'unsupported_media_type' },
  { name: 'text/plain', body: JSON.stringify(DEPLOY), headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'a charset other than UTF-8', body: JSON.stringify(DEPLOY), headers: { 'content-type': 'application/json; charset=latin1' }, status: 415, code: 'unsupported_charset' },
  { name: 'corrupt gzip', body: 'this is not gzip', headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, status: 400, code: 'bad_request', message: /header check/ },
  { name: 'truncated gzip', body: gzipSync(JSON.stringify(DEPLOY)).subarray(0, 12), headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, status: 400, code: 'bad_request' },
  { name: 'deflate garbage', body: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]), headers: { ...JSON_TYPE, 'content-encoding': 'deflate' }, status: 400, code: 'bad_request' },
  { name: 'gzip that decodes to a bad body', body: gzipSync('{"environment": "canary"}'), headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, status: 400, code: 'missing_field', field: 'version' },
  { name: 'deflate that decodes to bad JSON', body: deflateSync('{"environment":'), headers: { ...JSON_TYPE, 'content-encoding': 'deflate' }, status: 400, code: 'malformed_json' },
  { name: 'an unsupported encoding', body: JSON.stringify(DEPLOY), headers: { ...JSON_TYPE, 'content-encoding': 'compress' }, status: 415, code: 'unsupported_encoding' },


  // Query strings.
  { name: 'wait that is not a number', path: '/api/v1/deployments?wait=soon', body: DEPLOY, status: 400, code: 'invalid_field', field: 'wait' },
  { name: 'wait beyond the limit', path: '/api/v1/deployments?wait=100000', body: DEPLOY, status: 400, code: 'invalid_field', field: 'wait', message: /at most 900 seconds/ },
  { name: 'wait that is negative', path: '/api/v1/deployments?wait=-1', body: DEPLOY, status: 400, code: 'invalid_field', field: 'wait' },
  { name: 'wait that is empty', path: '/api/v1/deployments?wait=', body: DEPLOY, status: 400, code: 'invalid_field', field: 'wait' },
  { name: 'wait that is huge', path: `/api/v1/deployments?wait=${'9'.repeat(400)}`, body: DEPLOY, status: 400, code: 'invalid_field', field: 'wait' },
  { name: 'wait in exponent notation', path: '/api/v1/deployments?wait=1e3', body: DEPLOY, status: 400, code: 'invalid_field', field: 'wait' },
  { name: 'wait given twice', path: '/api/v1/deployments?wait=1&wait=2', body: DEPLOY, status: 400, code: 'repeated_field', field: 'wait' },
  unknownQuery('POST /deployments', 'POST', '/api/v1/deployments?wiat=10', 'wiat', DEPLOY),
  unknownQuery('GET /deployments', 'GET', '/api/v1/deployments?env=canary', 'env'),
  unknownQuery('GET /deployments/:id', 'GET', '/api/v1/deployments/dep_missing?timeout=5', 'timeout'),
  unknownQuery('GET /runs', 'GET', '/api/v1/runs?__proto__=x', '__proto__'),
  unknownQuery('GET /runs/:id', 'GET', '/api/v1/runs/run_missing?verbose=1', 'verbose'),
  unknownQuery('GET /signals', 'GET', '/api/v1/signals?state=dead', 'state'),
  unknownQuery('GET /signals/:id', 'GET', '/api/v1/signals/msg_missing?x=1', 'x'),
  unknownQuery('GET /schedules', 'GET', '/api/v1/schedules?name=nightly', 'name'),
  unknownQuery('GET /schedules/:name', 'GET', '/api/v1/schedules/nightly?x=1', 'x'),
  unknownQuery('POST /schedules/:name/run', 'POST', '/api/v1/schedules/nightly/run?now=1', 'now'),
  unknownQuery('GET /gates/argo', 'GET', '/api/v1/gates/argo?environment=canary&revision=abc&extra=1', 'extra'),
  badField('GET /deployments/:id with a bad wait', 'GET', '/api/v1/deployments/dep_missing?wait=-5', 'wait'),
  { name: 'GET /deployments/:id with wait given twice', method: 'GET', path: '/api/v1/deployments/dep_missing?wait=1&wait=1', status: 400, code: 'repeated_field', field: 'wait' },
  badField('deployment list limit of zero', 'GET', '/api/v1/deployments?limit=0', 'limit'),
  badField('deployment list limit that is not a number', 'GET', '/api/v1/deployments?limit=ten', 'limit'),
  badField('deployment list over-long environment', 'GET', `/api/v1/deployments?environment=${'e'.repeat(65)}`, 'environment'),
  badField('run list limit out of range', 'GET', '/api/v1/runs?limit=0', 'limit'),
  badField('run list limit above the maximum', 'GET', '/api/v1/runs?limit=501', 'limit'),
  badField('run list limit that is a fraction', 'GET', '/api/v1/runs?limit=1.5', 'limit'),
  { name: 'run list limit given twice', method: 'GET', path: '/api/v1/runs?limit=1&limit=2', status: 400, code: 'repeated_field', field: 'limit' },
  badField('signal list status that is not one', 'GET', '/api/v1/signals?status=lost', 'status'),
  badField('signal list limit that is negative', 'GET', '/api/v1/signals?limit=-1', 'limit'),
  { name: 'Argo GET without a revision', method: 'GET', path: '/api/v1/gates/argo?environment=canary', status: 400, code: 'missing_field', field: 'revision' },
  { name: 'Argo GET environment given twice', method: 'GET', path: '/api/v1/gates/argo?environment=canary&environment=production&revision=abc', status: 400, code: 'repeated_field', field: 'environment' },
  badField('Argo GET revision with a space', 'GET', '/api/v1/gates/argo?environment=canary&revision=a%20b', 'revision'),

  // Path parameters.
  malformedPath('a deployment id', 'GET', `/api/v1/deployments/${BAD_PERCENT}`),
  malformedPath('a run id', 'GET', `/api/v1/runs/${BAD_PERCENT}`),
  malformedPath('the run id of an artifact', 'GET', '/api/v1/runs/%zz/artifacts/x'),
  malformedPath('an artifact path', 'GET', `/api/v1/runs/run_missing/artifacts/${BAD_PERCENT}`),
  malformedPath('a signal id', 'GET', `/api/v1/signals/${BAD_PERCENT}`),
  malformedPath('the signal id to redeliver', 'POST', `/api/v1/signals/${BAD_PERCENT}/redeliver`),
  malformedPath('a schedule name', 'GET', `/api/v1/schedules/${BAD_PERCENT}`),
  malformedPath('the schedule name to run', 'POST', '/api/v1/schedules/%ff/run'),
  badField('an over-long deployment id', 'GET', `/api/v1/deployments/dep_${'0'.repeat(300)}`, 'id'),
  badField('a deployment id with a slash', 'GET', '/api/v1/deployments/dep%2F..%2Fx', 'id'),
  badField('a deployment id with a NUL', 'GET', '/api/v1/deployments/dep_%00', 'id'),
  badField('a run id in unicode', 'GET', '/api/v1/runs/run_%C3%A9t%C3%A9', 'id'),
  badField('a signal id with a space', 'POST', '/api/v1/signals/msg%201/redeliver', 'id'),
  badField('a schedule name in upper case', 'GET', '/api/v1/schedules/Nightly', 'name'),
  { name: 'unknown deployment', method: 'GET', path: '/api/v1/deployments/dep_missing', status: 404, code: 'not_found' },
  { name: 'unknown deployment, trailing slash', method: 'GET', path: '/api/v1/deployments/dep_missing/', status: 404, code: 'not_found' },
  { name: 'unknown run', method: 'GET', path: '/api/v1/runs/run_missing', status: 404, code: 'not_found' },
  { name: 'artifact of an unknown run', method: 'GET', path: '/api/v1/runs/run_missing/artifacts/x.png', status: 404, code: 'not_found' },
  { name: 'unknown signal to redeliver', method: 'POST', path: '/api/v1/signals/msg_missing/redeliver', status: 404, code: 'not_found' },
  { name: 'unknown schedule to run', method: 'POST', path: '/api/v1/schedules/weekly/run', status: 404, code: 'not_found' },
  badField('a query on a route with a trailing slash', 'GET', '/api/v1/runs/?limit=0', 'limit'),

  // Routes and methods.
  { name: 'unknown route', method: 'GET', path: '/api/v1/nope', status: 404, code: 'not_found' },
  { name: 'unknown route outside the API', method: 'PUT', path: '/healthz', status: 404, code: 'not_found' },
  { name: 'HEAD of an unknown route', method: 'HEAD', path: '/api/v1/nope', status: 404, code: 'not_found' },
  { name: 'an unknown gate', method: 'POST', path: '/api/v1/gates/spinnaker', body: {}, status: 404, code: 'not_found' },
  { name: 'DELETE on a gate', method: 'DELETE', path: '/api/v1/gates/argo', status: 404, code: 'not_found' },
  wrongMethod('PUT', '/api/v1/deployments'),
  wrongMethod('DELETE', '/api/v1/deployments/dep_missing'),
  wrongMethod('PATCH', '/api/v1/runs'),
  wrongMethod('POST', '/api/v1/runs/run_missing'),
  wrongMethod('DELETE', '/api/v1/runs/run_missing/artifacts/x.png'),
  wrongMethod('GET', '/api/v1/signals/msg_missing/redeliver'),
  wrongMethod('DELETE', '/api/v1/signals'),
  wrongMethod('GET', '/api/v1/schedules/nightly/run'),
  wrongMethod('PUT', '/api/v1/schedules/nightly'),

  // Flagger.
  { name: 'Flagger body without checksum', method: 'POST', path: '/api/v1/gates/flagger', body: { name: 'checkout', namespace: 'shop' }, status: 400, code: 'missing_field', field: 'checksum' },
  { name: 'Flagger body without name', method: 'POST', path: '/api/v1/gates/flagger', body: { namespace: 'shop', checksum: 'abc' }, status: 400, code: 'missing_field', field: 'name' },
  { name: 'Flagger name of the wrong type', method: 'POST', path: '/api/v1/gates/flagger', body: { ...FLAGGER, name: 7 }, status: 400, code: 'invalid_field', field: 'name' },
  { name: 'Flagger namespace that is not one', method: 'POST', path: '/api/v1/gates/flagger', body: { ...FLAGGER, namespace: 'Shop!' }, status: 400, code: 'invalid_field', field: 'namespace' },
  { name: 'Flagger metadata that is not a string map', method: 'POST', path: '/api/v1/gates/flagger/rollback', body: { ...FLAGGER, metadata: { version: 2 } }, status: 400, code: 'invalid_field', field: 'metadata.version' },
  { name: 'Flagger body that is an array', method: 'POST', path: '/api/v1/gates/flagger', body: '[]', headers: JSON_TYPE, status: 400, code: 'invalid_body' },
  { name: 'Flagger body not JSON', method: 'POST', path: '/api/v1/gates/flagger', body: 'name=checkout', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'Flagger corrupt gzip', method: 'POST', path: '/api/v1/gates/flagger', body: 'garbage', headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, status: 400, code: 'bad_request' },
  { name: 'Flagger without the token', method: 'POST', path: '/api/v1/gates/flagger', body: FLAGGER, anonymous: true, status: 401, code: 'unauthorized', field: 'metadata.token' },
  { name: 'Argo POST of the wrong type', method: 'POST', path: '/api/v1/gates/argo', body: { environment: 'canary', revision: ['a'] }, status: 400, code: 'invalid_field', field: 'revision' },

  // GitHub.
  { name: 'GitHub delivery without a signature', method: 'POST', path: '/api/v1/gates/github', ...signedWithout('x-hub-signature-256'), status: 401, code: 'bad_signature', field: 'x-hub-signature-256' },
  {
    name: 'GitHub delivery with a wrong signature',
    method: 'POST',
    path: '/api/v1/gates/github',
    ...signed('{}', { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }),
    status: 401,
    code: 'bad_signature',
    field: 'x-hub-signature-256',
  },
  {
    name: 'GitHub delivery with a malformed signature',
    method: 'POST',
    path: '/api/v1/gates/github',
    ...signed('{}', { 'x-hub-signature-256': 'md5=zz' }),
    status: 401,
    code: 'bad_signature',
    field: 'x-hub-signature-256',
  },
  { name: 'GitHub delivery without an event header', method: 'POST', path: '/api/v1/gates/github', ...signedWithout('x-github-event'), status: 400, code: 'missing_field', field: 'x-github-event' },
  { name: 'GitHub delivery without a delivery id', method: 'POST', path: '/api/v1/gates/github', ...signedWithout('x-github-delivery'), status: 400, code: 'missing_field', field: 'x-github-delivery' },
  { name: 'GitHub delivery of bad JSON', method: 'POST', path: '/api/v1/gates/github', ...signed('{"action":'), status: 400, code: 'malformed_json' },
  { name: 'GitHub delivery without deployment_status', method: 'POST', path: '/api/v1/gates/github', ...signed('{"action": "created"}'), status: 400, code: 'invalid_field', field: 'deployment_status' },
  {
    name: 'GitHub delivery larger than GitHub sends',
    method: 'POST',
    path: '/api/v1/gates/github',
    ...signed(JSON.stringify({ pad: 'x'.repeat(1_100_000) })),
    status: 413,
    code: 'body_too_large',
  },
];

describe('bad input', () => {
  let ws: Workspace;
  let service: Service;

  before(async () => {
    // Nothing listens at these URLs: no request here may get as far as a run.
    ws = workspace(
      { production: { baseURL: 'http://127.0.0.1:9' }, canary: { baseURL: 'http://127.0.0.1:9', baseline: 'production' } },
      {
        apiToken: TOKEN,
        schedules: `  - name: nightly\n    cron: "0 3 * * *"\n    environments: [production]\n`,
        gates: `  flagger:\n    targets:\n      - canary: shop/checkout\n        environment: canary\n  github:\n    secret: ${GITHUB_SECRET}\n    environments:\n      production-eu: canary\n`,
      },
    );
    service = await startService(ws);
  });

  after(async () => {
    await service?.close();
    ws?.remove();
  });

  it(`has a wide table (${cases.length} cases)`, () => {
    assert.ok(cases.length >= 60);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
  });

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code}`, async () => {
      const method = c.method ?? 'POST';
      const json = c.body !== undefined && typeof c.body !== 'string' && !Buffer.isBuffer(c.body);
      const res = await rawRequest(service.url, {
        method,
        path: c.path ?? '/api/v1/deployments',
        headers: { ...(!c.anonymous && AUTH), ...(json && JSON_TYPE), ...c.headers },
        ...(c.body !== undefined && { body: json ? JSON.stringify(c.body) : (c.body as string | Buffer) }),
      });
      assertRefused(res, c, method);
    });
  }

  for (const [name, head] of [
    ['a Content-Length that is not a number', 'POST /api/v1/deployments HTTP/1.1\r\nHost: smoke\r\nContent-Length: ten\r\n\r\n'],
    ['a control byte in the path', 'GET /api/v1/runs/\u0001 HTTP/1.1\r\nHost: smoke\r\n\r\n'],
    ['a request line that is not HTTP', 'HELLO smoke\r\n\r\n'],
    ['both Content-Length and Transfer-Encoding', 'POST /api/v1/deployments HTTP/1.1\r\nHost: smoke\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ] as const) {
    it(`${name}, refused by the HTTP parser itself → 400 malformed_request in JSON`, async () => {
      const answer = await rawSocket(service.url, head);
      const [statusLine, ...rest] = answer.split('\r\n');
      assert.match(statusLine!, /^HTTP\/1\.1 400 /, answer);
      assert.match(rest.join('\n'), /content-type: application\/json/i);
      assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code, 'malformed_request');
    });
  }

  it('answers 405 with the methods that are allowed', async () => {
    const res = await rawRequest(service.url, { method: 'PUT', path: '/api/v1/deployments', headers: AUTH });
    assert.equal(res.headers.allow, 'GET, POST, HEAD');
  });

  it('started no run and stored no deployment for any of them', async () => {
    assert.deepEqual((await service.store.listRuns({ limit: 10 })), []);
    assert.deepEqual((await service.store.listDeployments({ limit: 10 })), []);
  });

  it('every /api call needs the bearer token when one is configured', async () => {
    const missing = await api(service.url, 'GET', '/api/v1/runs');
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.code, 'unauthorized');
    const wrong = await api(service.url, 'GET', '/api/v1/runs', undefined, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    const posted = await api(service.url, 'POST', '/api/v1/deployments', { environment: 'canary', version: '1' });
    assert.equal(posted.status, 401);
    assert.deepEqual((await service.store.listDeployments({ limit: 10 })), []);
    const right = await api(service.url, 'GET', '/api/v1/runs', undefined, AUTH);
    assert.equal(right.status, 200);
    assert.ok(!JSON.stringify(missing.body).includes(TOKEN));
  });

  it('health endpoints stay open for probes', async () => {
    assert.equal((await api(service.url, 'GET', '/healthz')).status, 200);
    const ready = await api(service.url, 'GET', '/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(Object.keys(ready.body.checks).sort(), ['accepting', 'browser', 'store']);
  });
});

/** Bytes as written, over a plain socket: even node:http would refuse to send these. */
function rawSocket(base: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(bytes, 'latin1'));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}
