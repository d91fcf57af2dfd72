import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../log.ts';
import { run, type Service } from '../service.ts';
import { api, REPO, waitFor } from './harness.ts';

/** Long and fixed (no randomness in a test), with `+ / = ~` so its encoded forms differ from it. */
const SECRET = 'cnry-7Qp2+Zk9/Lm4=Xv8_Rt6-Hs3~Jd5.Wf1-Yb0+Ng2/Ue7';
const QUERY_TOKEN = 'qtok-5d1c9e7a3b8f2a6c4e0d';
const HEADER = 'x-canary-auth';

/** Every form a leak could take: raw, JSON-escaped, percent-encoded, base64 at each alignment. */
const LEAK_FORMS = [
  SECRET,
  encodeURIComponent(SECRET),
  ...[0, 1, 2].flatMap((offset) => {
    // The middle of the encoding depends on the secret alone, whatever precedes it.
    const middle = Buffer.from(`${'p'.repeat(offset)}${SECRET}`).toString('base64').slice(4, -4);
    return [middle, middle.replace(/\+/g, '-').replace(/\//g, '_')];
  }),
];

/** An environment that needs the header and echoes it back in its page and its API. */
async function startEchoTarget(): Promise<{ url: string; seen: () => number; close: () => Promise<void> }> {
  let seen = 0;
  const auth = (req: IncomingMessage) => String(req.headers[HEADER] ?? '');
  const server: Server = createServer((req, res) => {
    if (auth(req) === SECRET) seen += 1;
    if (req.url === '/api/whoami') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ auth: auth(req), headers: req.headers }));
      return;
    }
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>Account</title><h1>Hello</h1>
<p id="auth">signed in with ${auth(req)}</p>
<p id="b64">${Buffer.from(auth(req)).toString('base64')}</p>
<a href="/next?key=${encodeURIComponent(auth(req))}">next</a>`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: () => seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function leaksIn(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes).toString('latin1');
  return LEAK_FORMS.filter((form) => text.includes(form));
}

/** Where in the bytes (and in any zip inside them, at any depth) a form of the secret appears. */
function findLeaks(where: string, bytes: Uint8Array, found: string[] = [], entries: string[] = []): { found: string[]; entries: string[] } {
  for (const form of leaksIn(bytes)) found.push(`${where}: ${form}`);
  if (Buffer.from(bytes.subarray(0, 4)).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) {
    for (const [name, content] of Object.entries(unzipSync(bytes))) {
      entries.push(`${where}!${name}`);
      findLeaks(`${where}!${name}`, content, found, entries);
    }
  }
  return { found, entries };
}

describe('no secret in any artifact or log', () => {
  let target: Awaited<ReturnType<typeof startEchoTarget>>;
  let dir: string;
  let service: Service;
  let log = '';

  before(async () => {
    target = await startEchoTarget();
    dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-secrets-'));
    const configFile = path.join(dir, 'smoke.config.yaml');
    writeFileSync(
      configFile,
      `service: shop
server:
  host: 127.0.0.1
  port: 0
suite:
  config: ${path.join(REPO, 'server/integration/fixtures/secret-suite')}
  grep: "@critical"
  retries: 1
  workers: 2
runs:
  deadlineSeconds: 120
  graceSeconds: 5
  reachabilityTimeoutSeconds: 3
  # Every flow to its end: the test reads the artifacts of each, not only of the first regression.
  failFast: false
storage:
  database: ./data/smoke.db
  artifacts: ./data/artifacts
environments:
  canary:
    baseURL: ${target.url}
    headers:
      ${HEADER}: "${SECRET}"
`,
    );
    const stream = new Writable({
      write(chunk, _encoding, done) {
        log += chunk.toString();
        done();
      },
    });
    // The service's own logger, redaction and all, at its most talkative level.
    service = await run(loadConfig(configFile), { logger: createLogger({ LOG_LEVEL: 'trace', LOG_FORMAT: 'json' }, stream) });
  });

  after(async () => {
    await service?.close();
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a failed run keeps its trace, screenshot and error text, with the header value in none of them', async () => {
    const { status, body } = await api(service.url, 'POST', '/api/v1/deployments?wait=180', { environment: 'canary', version: '2.0.0' });
    assert.equal(status, 200);
    assert.equal(body.verdict, 'fail', body.reasons?.join('\n'));
    assert.ok(target.seen() > 0, 'the flows sent the header: there was something to leak');
    assert.deepEqual(leaksIn(Buffer.from(JSON.stringify(body))), [], 'the deployment view');

    // The verdict was given at the first regression; the run goes on to its end (failFast: false).
    const runView = await waitFor('the run to end', async () => {
      const view = await api(service.url, 'GET', `/api/v1/runs/${body.run.id}`);
      return view.body.status === 'running' ? undefined : view;
    });
    assert.deepEqual(leaksIn(Buffer.from(JSON.stringify(runView.body))), [], 'the run view, errors and diagnostics');
    const flows = runView.body.environments.canary.flows as { flow: string; error?: string; artifacts: { name: string; url: string }[] }[];
    const api_ = flows.find((f) => f.flow.includes('whoami'))!;
    assert.match(api_.error ?? '', /<redacted>/, 'the error text said what the server saw, scrubbed');

    // Every byte on disk, every zip opened.
    const artifactsDir = path.join(dir, 'data/artifacts', body.run.id);
    const files = readdirSync(artifactsDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    const kinds = new Set(files.map((f) => path.extname(f.name)));
    for (const kind of ['.zip', '.png', '.md']) assert.ok(kinds.has(kind), `a ${kind} was written: ${[...kinds]}`);
    const onDisk = { found: [] as string[], entries: [] as string[] };
    for (const file of files) {
      const full = path.join(file.parentPath, file.name);
      findLeaks(path.relative(artifactsDir, full), readFileSync(full), onDisk.found, onDisk.entries);
    }
    assert.deepEqual(onDisk.found, [], 'files under the run artifacts folder');

    // The trace records request headers: it names the header, with the value replaced.
    const trace = files.find((f) => f.name === 'trace.zip')!;
    const entries = unzipSync(readFileSync(path.join(trace.parentPath, trace.name)));
    const network = Object.entries(entries).filter(([name]) => name.endsWith('.network'));
    assert.ok(network.length > 0, `trace entries: ${Object.keys(entries)}`);
    const networkText = network.map(([, data]) => Buffer.from(data).toString()).join('\n');
    assert.match(networkText, new RegExp(`"name":"${HEADER}","value":"<redacted>"`));

    // And everything the API serves.
    const served = flows.flatMap((f) => f.artifacts);
    assert.ok(served.some((a) => a.name === 'trace') && served.some((a) => a.name === 'screenshot'), `served: ${served.map((a) => a.name)}`);
    for (const artifact of served) {
      const response = await fetch(artifact.url.startsWith('http') ? artifact.url : `${service.url}${artifact.url}`);
      assert.equal(response.status, 200, artifact.url);
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.deepEqual(findLeaks(artifact.url, bytes).found, [], `served ${artifact.name}`);
    }
  });

  it('a token in a request URL is not logged, nor is the header value', async () => {
    await api(service.url, 'GET', `/api/v1/runs?limit=1&token=${QUERY_TOKEN}`);
    assert.ok(log.includes('token=<redacted>'), 'the request was logged, its token replaced');
    assert.ok(!log.includes(QUERY_TOKEN), 'the query token reached the log');
    assert.deepEqual(leaksIn(Buffer.from(log)), [], 'the service log');
  });
});
