import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { devices } from '@playwright/test';
import { SYSTEM_CHROMIUM_ARGS } from './browser.ts';
import { RUN_ENV_VAR, type RunDescription } from './protocol.ts';
import { wrapperConfigSource } from './wrapper-config.ts';

const WS = 'ws://127.0.0.1:9/warm';
const SYSTEM = { executablePath: '/usr/bin/chromium', args: [...SYSTEM_CHROMIUM_ARGS] };

function description(overrides: Partial<RunDescription> = {}): RunDescription {
  return {
    runId: 'r1',
    environments: [{ name: 'canary', baseURL: 'http://127.0.0.1:1', headers: {} }],
    grep: '@critical',
    retries: 0,
    workers: 1,
    workersPerProject: 1,
    outputDir: '/tmp/out',
    reporterPath: '/tmp/reporter.ts',
    globalTimeoutMs: 60_000,
    launchOptions: SYSTEM,
    connectWsEndpoint: WS,
    ...overrides,
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-wrapper-'));
let loaded = 0;

interface Project {
  name: string;
  use: { connectOptions?: unknown; launchOptions?: { executablePath?: string; args?: string[] } };
}

/** The wrapper's config as Playwright would load it, around a team config given as an object (or none: a folder of specs). */
async function wrapped(team: object | undefined, run: RunDescription = description()): Promise<{ projects: Project[]; reporter: unknown[] }> {
  loaded += 1;
  let teamFile: string | undefined;
  if (team) {
    teamFile = path.join(dir, `team-${loaded}.mjs`);
    writeFileSync(teamFile, `export default ${JSON.stringify(team)};\n`);
  }
  const wrapper = path.join(dir, `wrapper-${loaded}.mjs`);
  writeFileSync(wrapper, wrapperConfigSource(teamFile));
  process.env[RUN_ENV_VAR] = JSON.stringify(run);
  try {
    return ((await import(pathToFileURL(wrapper).href)) as { default: { projects: Project[]; reporter: unknown[] } }).default;
  } finally {
    delete process.env[RUN_ENV_VAR];
  }
}

describe('the wrapper config and the warm browser', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  // [case, team config, connects?]
  const cases: [string, object | undefined, boolean][] = [
    ['a folder of specs', undefined, true],
    ['a config with no launch settings', { projects: [{ name: 'chromium' }] }, true],
    ['the repo demo: exactly smoke\'s system Chromium, a Desktop Chrome device', { use: { launchOptions: SYSTEM }, projects: [{ name: 'chromium', use: { ...devices['Desktop Chrome'] } }] }, true],
    ['a subset of smoke\'s flags', { use: { launchOptions: { args: ['--no-sandbox'] } } }, true],
    ['explicitly chromium, headless', { use: { browserName: 'chromium', headless: true } }, true],
    ['a launch setting left undefined', { use: { launchOptions: { slowMo: undefined } } }, true],
    ['firefox', { projects: [{ use: { browserName: 'firefox' } }] }, false],
    ['a Desktop Firefox device', { projects: [{ use: { ...devices['Desktop Firefox'] } }] }, false],
    ['webkit at the top level', { use: { browserName: 'webkit' } }, false],
    ['a channel on the project', { projects: [{ use: { channel: 'chrome' } }] }, false],
    ['a channel at the top level', { use: { channel: 'msedge' } }, false],
    ['headed', { use: { headless: false } }, false],
    ['a flag of its own', { use: { launchOptions: { args: ['--lang=de'] } } }, false],
    ['a flag of its own on the project', { use: { launchOptions: SYSTEM }, projects: [{ use: { launchOptions: { args: ['--force-dark-mode'] } } }] }, false],
    ['another executable', { use: { launchOptions: { executablePath: '/opt/chrome/chrome' } } }, false],
    ['another launch setting', { use: { launchOptions: { slowMo: 100 } } }, false],
    ['headed through launchOptions', { use: { launchOptions: { headless: false } } }, false],
  ];
  for (const [name, team, connects] of cases) {
    it(`${connects ? 'connects' : 'launches its own'}: ${name}`, async () => {
      const [project] = (await wrapped(team)).projects;
      assert.deepEqual(project!.use.connectOptions, connects ? { wsEndpoint: WS } : undefined);
    });
  }

  it('keeps a remote browser the team configured itself', async () => {
    const own = { wsEndpoint: 'ws://grid.example:3000/' };
    const [onProject] = (await wrapped({ projects: [{ use: { connectOptions: own } }] })).projects;
    assert.deepEqual(onProject!.use.connectOptions, own);
    // Playwright lays the top-level `use` under the project's: nothing set there, theirs applies.
    const [underTopLevel] = (await wrapped({ use: { connectOptions: own } })).projects;
    assert.equal(underTopLevel!.use.connectOptions, undefined);
  });

  it('decides per project, in every environment', async () => {
    const run = description({ environments: ['canary', 'production'].map((name) => ({ name, baseURL: 'http://127.0.0.1:1', headers: {} })) });
    const { projects } = await wrapped({ projects: [{ name: 'desktop' }, { name: 'firefox', use: { browserName: 'firefox' } }] }, run);
    const connecting = projects.filter((p) => p.use.connectOptions).map((p) => p.name);
    assert.deepEqual(connecting, ['canary desktop', 'production desktop']);
  });

  it('connects nothing when the run has no warm browser', async () => {
    const { connectWsEndpoint: _, ...run } = description();
    const [project] = (await wrapped({}, run)).projects;
    assert.equal(project!.use.connectOptions, undefined);
    assert.deepEqual(project!.use.launchOptions, SYSTEM, 'each worker launches smoke\'s Chromium');
  });

  it("reports to smoke's stream, and to Playwright's blob when the run names one, never to the team's reporters", async () => {
    const team = { reporter: [['html'], ['list']] };
    assert.deepEqual((await wrapped(team)).reporter, [['/tmp/reporter.ts']]);
    const { reporter } = await wrapped(team, description({ blobFile: '/data/run_1/.blob/target.zip' }));
    assert.deepEqual(reporter, [['/tmp/reporter.ts'], ['blob', { outputFile: '/data/run_1/.blob/target.zip' }]]);
  });

  it('never hands smoke\'s Chromium to a project of another browser', async () => {
    const [project] = (await wrapped({ projects: [{ use: { ...devices['Desktop Firefox'] } }] })).projects;
    assert.equal(project!.use.launchOptions?.executablePath, undefined);
  });
});
