import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Secret } from './values/secret.ts';
import { createLogger, redactUrl } from './log.ts';

/** A stream that keeps what is written; `isTTY` as a terminal or a pipe would say. */
function capture(isTTY = false): { stream: Writable & { isTTY?: boolean }; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as Writable & { isTTY?: boolean };
  if (isTTY) stream.isTTY = true;
  return {
    stream,
    text: () => text,
    // Every line must be a JSON document of its own.
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('logger', () => {
  it('writes one JSON document per line when not on a terminal', () => {
    const out = capture();
    const logger = createLogger({}, out.stream);
    logger.info({ runId: 'run_1', environment: 'canary' }, 'run started');
    logger.child({ runId: 'run_1' }).info({ flow: 'checkout', environment: 'canary', outcome: 'passed' }, 'flow result');
    const lines = out.lines();
    assert.equal(lines.length, 2);
    assert.equal(out.text().split('\n').length, 3, 'newline-terminated lines, nothing else');
    assert.deepEqual(
      lines.map(({ level, msg, service, runId, flow }) => ({ level, msg, service, runId, flow })),
      [
        { level: 30, msg: 'run started', service: 'smoke', runId: 'run_1', flow: undefined },
        { level: 30, msg: 'flow result', service: 'smoke', runId: 'run_1', flow: 'checkout' },
      ],
    );
    assert.match(String(lines[0]!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('redacts tokens, headers and secrets wherever they appear', () => {
    const out = capture();
    const logger = createLogger({}, out.stream);
    logger.info(
      {
        apiToken: 'token-top-level',
        headers: { authorization: 'Bearer header-top-level' },
        environment: { name: 'canary', headers: { 'x-canary-key': 'header-nested' } },
        req: { method: 'POST', headers: { authorization: 'Bearer request-header' } },
        config: { server: { apiToken: 'token-in-config' } },
        cookie: new Secret('secret-value'),
      },
      'something with secrets',
    );
    const text = out.text();
    for (const leaked of ['token-top-level', 'header-top-level', 'header-nested', 'request-header', 'token-in-config', 'secret-value']) {
      assert.ok(!text.includes(leaked), `${leaked} reached the log: ${text}`);
    }
    const [line] = out.lines() as any[];
    assert.equal(line.apiToken, '<redacted>');
    assert.equal(line.headers, '<redacted>');
    assert.equal(line.environment.headers, '<redacted>');
    assert.equal(line.environment.name, 'canary', 'only the secret parts go');
    assert.equal(line.req.method, 'POST');
    assert.equal(line.config.server.apiToken, '<redacted>');
    assert.equal(line.cookie, '<redacted>');
  });

  it('takes its level from LOG_LEVEL', () => {
    const out = capture();
    const logger = createLogger({ LOG_LEVEL: 'warn' }, out.stream);
    logger.info('not shown');
    logger.warn('shown');
    assert.deepEqual(out.lines().map((l) => l.msg), ['shown']);
  });

  it('stays JSON on a terminal when LOG_FORMAT=json', () => {
    const out = capture(true);
    createLogger({ LOG_FORMAT: 'json' }, out.stream).info('on a terminal');
    assert.deepEqual(out.lines().map((l) => l.msg), ['on a terminal']);
  });
});

describe('redactUrl', () => {
  const cases: [string, string][] = [
    ['/api/v1/deployments', '/api/v1/deployments'],
    ['/api/v1/deployments?wait=30', '/api/v1/deployments?wait=30'],
    ['/api/v1/deployments?token=abc123', '/api/v1/deployments?token=<redacted>'],
    ['/x?wait=30&TOKEN=abc&limit=5', '/x?wait=30&TOKEN=<redacted>&limit=5'],
    ['/x?access_token=a&refresh_token=b', '/x?access_token=<redacted>&refresh_token=<redacted>'],
    ['/x?api_key=a&apikey=b&api-key=c&key=d', '/x?api_key=<redacted>&apikey=<redacted>&api-key=<redacted>&key=<redacted>'],
    ['/x?client_secret=a&password=b&passwd=c&pwd=d', '/x?client_secret=<redacted>&password=<redacted>&passwd=<redacted>&pwd=<redacted>'],
    ['/x?auth=a&Authorization=b&signature=c&sig=d', '/x?auth=<redacted>&Authorization=<redacted>&signature=<redacted>&sig=<redacted>'],
    ['/x?session=a&sessionId=b&code=c&credentials=d', '/x?session=<redacted>&sessionId=<redacted>&code=<redacted>&credentials=<redacted>'],
    ['/x?X-Amz-Signature=abc', '/x?X-Amz-Signature=<redacted>'],
    ['/x?%74oken=abc', '/x?%74oken=<redacted>'],
    ['/x?token', '/x?token'],
    ['/x?token=&a=1', '/x?token=<redacted>&a=1'],
    ['/x?keyword=shoes&zipcode=123&design=a', '/x?keyword=shoes&zipcode=123&design=a'],
    ['/x?%E0%A4%A=1&token=z', '/x?%E0%A4%A=1&token=<redacted>'],
    ['/x?token=a#frag', '/x?token=<redacted>#frag'],
  ];
  for (const [url, expected] of cases) {
    it(url, () => assert.equal(redactUrl(url), expected));
  }
});

describe('logger redaction of request secrets', () => {
  it('blanks cookies and webhook signatures in logged request headers', () => {
    const out = capture();
    createLogger({}, out.stream).info(
      {
        req: { headers: { cookie: 'sid=cookie-value', 'x-hub-signature-256': 'sha256=hub-sig', 'webhook-signature': 'v1,webhook-sig', accept: 'text/html' } },
        res: { headers: { 'set-cookie': 'sid=set-cookie-value' } },
        token: 'bare-token',
      },
      'request',
    );
    for (const leaked of ['cookie-value', 'hub-sig', 'webhook-sig', 'set-cookie-value', 'bare-token']) {
      assert.ok(!out.text().includes(leaked), `${leaked} reached the log: ${out.text()}`);
    }
  });
});
