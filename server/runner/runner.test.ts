import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { EnvironmentConfig } from '../config/config.ts';
import { chooseBrowser } from './browser.ts';
import { findMarkedProcesses } from './processes.ts';
import { aheadMark, createRunner, type PlaywrightRunner, type RunRequest } from './runner.ts';

const SPEC_FOLDER = fileURLToPath(new URL('../integration/fixtures/spec-folder', import.meta.url));
const TEAM_SUITE = fileURLToPath(new URL('../integration/fixtures/team-suite/playwright.config.ts', import.meta.url));

/**
 * The runner started ahead (`runs.warmRunner`): the real Playwright runner,
 * spawned before its run is known, handed the run through a pipe.
 */
describe('a runner started ahead of its run', () => {
  const shop = createServer((req, res) => {
    if (req.url === '/') {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>shop</title><h1>Smoke Shop</h1>');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(req.url === '/api/products' ? '[]' : '{}');
  });
  let environment: EnvironmentConfig;
  let tmpRoot: string;
  let outputRoot: string;
  let runner: PlaywrightRunner;

  before(async () => {
    shop.listen(0, '127.0.0.1');
    await once(shop, 'listening');
    environment = { name: 'canary', baseURL: `http://127.0.0.1:${(shop.address() as AddressInfo).port}`, headers: {} } as EnvironmentConfig;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-runner-test-'));
    tmpRoot = path.join(dir, 'tmp');
    outputRoot = path.join(dir, 'out');
    runner = createRunner({
      suite: { kind: 'directory', path: SPEC_FOLDER, grep: '@critical', retries: 0, workers: 1 },
      browser: chooseBrowser(),
      graceMs: 5_000,
      tmpRoot,
      startAhead: true,
    });
  });

  after(async () => {
    await runner.close();
    shop.close();
    rmSync(path.dirname(tmpRoot), { recursive: true, force: true });
  });

  const request = (runId: string): RunRequest => ({
    runId,
    environments: [environment],
    outputDir: path.join(outputRoot, runId),
    deadlineMs: 60_000,
    signal: new AbortController().signal,
    logger: pino({ level: 'silent' }),
  });

  it('is started by the start-up sweep, waits, runs the next run, and is replaced after it', async () => {
    runner.sweep();
    const first = findMarkedProcesses(path.join(aheadMark(tmpRoot), '1'));
    assert.equal(first.length, 1, 'one runner process waits for the next run');

    const report = await runner.run(request('run_a'));
    assert.deepEqual(report.outcome, { kind: 'completed' });
    assert.deepEqual(report.results.map((r) => [r.flow, r.outcome]), [['catalogue.spec.ts › catalogue answers @critical', 'passed']]);
    assert.deepEqual(report.attempts, { canary: { passed: 1, failed: 0, error: 0, interrupted: 0 } });
    assert.ok(report.timings.runnerStartMs !== undefined, 'the hand-over is timed');
    assert.deepEqual(findMarkedProcesses(path.join(tmpRoot, 'run_a')), [], 'the run left nothing behind');
    assert.deepEqual(findMarkedProcesses(path.join(aheadMark(tmpRoot), '1')), [], 'the run used the one started ahead');
    assert.equal(findMarkedProcesses(path.join(aheadMark(tmpRoot), '2')).length, 1, 'and the next one waits');
  });

  it('a runner started ahead that died is replaced by a fresh one, and the run never notices', async () => {
    for (const pid of findMarkedProcesses(path.join(aheadMark(tmpRoot), '2'))) process.kill(pid, 'SIGKILL');
    while (findMarkedProcesses(path.join(aheadMark(tmpRoot), '2')).length > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const report = await runner.run(request('run_b'));
    assert.deepEqual(report.outcome, { kind: 'completed' });
    assert.equal(report.results[0]?.outcome, 'passed');
  });

  it('named flows (a baseline check) start their own runner and leave the waiting one alone', async () => {
    const waiting = findMarkedProcesses(path.join(aheadMark(tmpRoot), '3'));
    assert.equal(waiting.length, 1);
    const report = await runner.run({ ...request('run_c'), tests: [{ file: 'catalogue.spec.ts', titles: ['catalogue answers @critical'] }] });
    assert.equal(report.results.length, 1);
    assert.deepEqual(findMarkedProcesses(path.join(aheadMark(tmpRoot), '3')), waiting);
  });

  it("runs just the named flows of a team's config (its testDir, projects, describes), the way a baseline check names them", async () => {
    const team = createRunner({
      suite: { kind: 'config', path: TEAM_SUITE, grep: '@smoke', retries: 0, workers: 1 },
      browser: chooseBrowser(),
      graceMs: 5_000,
      tmpRoot: path.join(tmpRoot, 'team'),
    });
    // As the reporter names them: relative to the config's testDir, then the titles under the file.
    const report = await team.run({ ...request('run_team'), tests: [{ file: 'api-only.spec.ts', titles: ['catalogue', 'lists products'] }] });
    assert.deepEqual(report.outcome, { kind: 'completed' });
    assert.deepEqual(report.results.map((r) => `${r.flow}: ${r.outcome}`), ['[api] api-only.spec.ts › catalogue › lists products: passed']);
    await team.close();
  });

  it('close() stops the waiting runner', async () => {
    await runner.close();
    assert.deepEqual(findMarkedProcesses(tmpRoot), []);
  });
});
