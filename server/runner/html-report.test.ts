import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import pino from 'pino';
import { createShopApp } from '../../demo/shop.ts';
import type { EnvironmentConfig, SuiteConfig } from '../config/config.ts';
import { Secret } from '../values/secret.ts';
import { runFlows } from '../verification/flows.ts';
import { blobFolder } from './blob.ts';
import { chooseBrowser } from './browser.ts';
import { createReports, reportFolder, type Reports } from './html-report.ts';
import { createRunner, type PlaywrightRunner } from './runner.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The demo suite: its checkout flows fail on a shop whose checkout answers 500. */
const SUITE: SuiteConfig = { kind: 'config', path: path.join(REPO, 'playwright.config.ts'), grep: '@critical', retries: 0, workers: 2 };
/** Long and fixed, with characters whose encoded forms differ from it. */
const SECRET = 'rpt-9Kd2+Vb7/Qx4=Lm8_Zt1-Hs6~Wc3';
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** Every form the secret could leak in: raw, percent-encoded, base64 at each alignment. */
const LEAK_FORMS = [
  SECRET,
  encodeURIComponent(SECRET),
  ...[0, 1, 2].map((offset) => Buffer.from(`${'p'.repeat(offset)}${SECRET}`).toString('base64').slice(4, -4)),
];

/** Where a form of the secret appears in the bytes, or in any zip inside them, or in a report's embedded base64 zip. */
function leaks(where: string, bytes: Uint8Array, found: string[] = []): string[] {
  const text = Buffer.from(bytes).toString('latin1');
  for (const form of LEAK_FORMS) if (text.includes(form)) found.push(`${where}: ${form}`);
  if (Buffer.from(bytes.subarray(0, 4)).equals(ZIP_MAGIC)) {
    for (const [name, content] of Object.entries(unzipSync(bytes))) leaks(`${where}!${name}`, content, found);
  }
  const embedded = embeddedZip(text);
  if (embedded) leaks(`${where}!embedded`, embedded, found);
  return found;
}

/** The html reporter embeds its data in index.html as a base64 zip. */
function embeddedZip(html: string): Uint8Array | undefined {
  const match = /data:application\/zip;base64,([A-Za-z0-9+/=]+)/.exec(html);
  return match ? Buffer.from(match[1]!, 'base64') : undefined;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("a run's Playwright HTML report", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-report-test-'));
  const artifactsDir = path.join(dir, 'artifacts');
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  const built = () => lines.filter((l) => l.includes('built the Playwright HTML report')).length;
  const servers: Server[] = [];
  let runner: PlaywrightRunner;
  let reports: Reports;
  let target: EnvironmentConfig;
  let baseline: EnvironmentConfig;

  before(async () => {
    const canary = createServer(createShopApp({ name: 'canary', fault: 'checkout-500' }).app);
    const production = createServer(createShopApp({ name: 'production' }).app);
    servers.push(canary, production);
    const headers = { 'x-canary-auth': new Secret(SECRET) };
    target = { name: 'canary', baseURL: await listen(canary), headers };
    baseline = { name: 'production', baseURL: await listen(production), headers };
    runner = createRunner({ suite: SUITE, browser: chooseBrowser(), graceMs: 5_000, tmpRoot: path.join(dir, 'tmp') });
    reports = createReports({ artifactsDir, suite: SUITE, logger });
  });

  after(async () => {
    await reports.close();
    await runner.close();
    for (const server of servers) {
      server.close();
      server.closeAllConnections();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('each invocation of a failing run leaves a whole, scrubbed blob; the report is merged once, on demand, with both environments and no secret', async () => {
    const runFolder = path.join(artifactsDir, 'run_fail');
    mkdirSync(runFolder, { recursive: true });
    const report = await runFlows(runner, {
      runId: 'run_fail',
      target,
      baseline,
      mode: 'on-failure',
      outputDir: runFolder,
      deadlineMs: 90_000,
      signal: new AbortController().signal,
      logger,
      onResult: () => {},
      now: Date.now,
    });
    assert.ok(
      report.results.some((r) => r.environment === 'canary' && r.outcome === 'failed'),
      `a flow fails on the canary: ${JSON.stringify(report.results.map((r) => [r.environment, r.flow, r.outcome]))}`,
    );
    // The baseline checks the failed flows in one invocation or more, as their failures arrive.
    const blobs = readdirSync(blobFolder(runFolder)).sort();
    assert.equal(blobs.at(-1), 'target.zip');
    assert.match(blobs.slice(0, -1).join(' '), /^baseline-1\.zip( baseline-\d\.zip)*$/);
    for (const blob of filesUnder(blobFolder(runFolder))) assert.deepEqual(leaks(blob, readFileSync(blob)), [], 'blobs are scrubbed');

    assert.deepEqual(await reports.ensure('run_fail', false), { kind: 'pending' }, 'no report while the run runs');
    const [first, second] = await Promise.all([reports.ensure('run_fail', true), reports.ensure('run_fail', true)]);
    const folder = reportFolder(artifactsDir, 'run_fail');
    assert.deepEqual(first, { kind: 'ready', folder });
    assert.deepEqual(second, first);
    assert.equal(built(), 1, 'two asks at once, one merge');

    const index = path.join(folder, 'index.html');
    const data = embeddedZip(readFileSync(index, 'utf8'));
    assert.ok(data, 'index.html embeds its data');
    const files = unzipSync(data);
    const summary = JSON.parse(Buffer.from(files['report.json']!).toString('utf8')) as {
      projectNames: string[];
      files: { tests: { title: string; projectName: string; outcome: string }[] }[];
    };
    // Each baseline invocation brings its own project of that name.
    assert.deepEqual([...new Set(summary.projectNames)].sort(), ['canary', 'production']);
    const tests = summary.files.flatMap((f) => f.tests.map((t) => `${t.projectName}: ${t.title}: ${t.outcome}`)).sort();
    assert.ok(tests.includes('canary: checkout API accepts an order: unexpected'), tests.join('\n'));
    assert.ok(tests.includes('production: checkout API accepts an order: expected'), tests.join('\n'));
    assert.ok(tests.includes('canary: customer can check out: unexpected'), tests.join('\n'));
    assert.ok(existsSync(path.join(folder, 'trace', 'index.html')), 'the report carries its trace viewer');
    assert.ok(readdirSync(path.join(folder, 'data')).some((f) => f.endsWith('.zip')), 'and the failures’ traces');

    const traces = readdirSync(path.join(folder, 'data')).filter((f) => f.endsWith('.zip'));
    const entries = traces.flatMap((t) => Object.values(unzipSync(readFileSync(path.join(folder, 'data', t)))));
    assert.ok(
      entries.some((e) => Buffer.from(e).includes('{"name":"x-canary-auth","value":"<redacted>"}')),
      'the traces recorded the header, and its value was scrubbed',
    );
    const found = filesUnder(folder).flatMap((file) => leaks(path.relative(folder, file), readFileSync(file)));
    assert.deepEqual(found, [], 'no form of the secret anywhere in the report');
    assert.deepEqual(
      readdirSync(runFolder).filter((name) => name.startsWith('.report-')),
      [],
      'no temp folder left behind',
    );

    assert.equal(existsSync(blobFolder(runFolder)), false, 'the blobs are gone once merged: the report holds what they held');
    const writtenAt = statSync(index).mtimeMs;
    assert.deepEqual(await reports.ensure('run_fail', true), first);
    assert.equal(built(), 1, 'asked again, not merged again');
    assert.equal(statSync(index).mtimeMs, writtenAt);
  });

  it('a run stopped at its first failure (fail-fast) still has a report of what ran, both environments in one invocation', async () => {
    const runFolder = path.join(artifactsDir, 'run_stopped');
    mkdirSync(runFolder, { recursive: true });
    const stop = new AbortController();
    await runFlows(runner, {
      runId: 'run_stopped',
      target,
      baseline,
      mode: 'always',
      outputDir: runFolder,
      deadlineMs: 90_000,
      signal: stop.signal,
      logger,
      onResult: (result) => {
        if (result.outcome === 'failed') stop.abort(new Error('decided'));
      },
      now: Date.now,
    });
    assert.ok(stop.signal.aborted, 'the run was stopped');
    assert.deepEqual(readdirSync(blobFolder(runFolder)), ['run.zip']);
    const state = await reports.ensure('run_stopped', true);
    assert.deepEqual(state, { kind: 'ready', folder: reportFolder(artifactsDir, 'run_stopped') });
    const found = filesUnder(state.folder).flatMap((file) => leaks(file, readFileSync(file)));
    assert.deepEqual(found, []);
  });

  it('a run without blobs, an unknown run and a bad id have none, saying why', async () => {
    mkdirSync(path.join(artifactsDir, 'run_empty'), { recursive: true });
    for (const id of ['run_empty', 'run_unknown']) {
      const state = await reports.ensure(id, true);
      assert.equal(state.kind, 'none');
      assert.match(state.kind === 'none' ? state.reason : '', /no Playwright report/);
    }
    assert.deepEqual(await reports.ensure('../run_fail', true), { kind: 'none', reason: "'../run_fail' is not a run id" });
  });

  it('a merge that fails answers none with its cause, and leaves no half report', async () => {
    const runFolder = path.join(artifactsDir, 'run_corrupt');
    mkdirSync(blobFolder(runFolder), { recursive: true });
    writeFileSync(path.join(blobFolder(runFolder), 'run.zip'), 'not a zip');
    const state = await reports.ensure('run_corrupt', true);
    assert.equal(state.kind, 'none');
    assert.match(state.kind === 'none' ? state.reason : '', /could not build the Playwright HTML report: Playwright merge-reports exited with code 1/);
    assert.deepEqual(readdirSync(runFolder), ['.blob']);
    assert.deepEqual(await reports.ensure('run_corrupt', true), state, 'the failure is remembered, not retried at once');
  });
});
