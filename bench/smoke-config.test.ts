import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { REPO, writeSmokeConfig } from '../demo/demo-config.ts';
import { loadConfig } from '../server/config/config.ts';

// The time-to-verdict benchmark's config variants are configs smoke accepts, with the values asked for.
const cases = [
  { runs: {}, failFast: true, baseline: 'on-failure', warmBrowser: true },
  { runs: { baseline: 'always', warmBrowser: false }, failFast: true, baseline: 'always', warmBrowser: false },
  { runs: { failFast: false, baseline: 'on-failure', warmBrowser: true }, failFast: false, baseline: 'on-failure', warmBrowser: true },
] as const;

for (const c of cases) {
  test(`runs ${JSON.stringify(c.runs)} with the rollback suite`, (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-bench-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const suite = path.join(REPO, 'bench/rollback-suite/playwright.config.ts');
    const file = writeSmokeConfig(dir, { port: 0, production: 'http://127.0.0.1:1', canary: 'http://127.0.0.1:2', suite: { config: suite }, runs: c.runs });
    const config = loadConfig(file, {});
    assert.deepEqual([config.runs.failFast, config.runs.baseline, config.runs.warmBrowser], [c.failFast, c.baseline, c.warmBrowser]);
    assert.deepEqual([config.suite.path, config.suite.kind], [suite, 'config']);
    assert.equal(config.suite.grep, '@critical');
  });
}
