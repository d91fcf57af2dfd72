import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ConfigError } from '../errors.ts';
import { loadConfig, parseConfig } from './config.ts';

const FILE = '/etc/smoke/smoke.config.yaml';
const MINIMAL = 'environments:\n  production:\n    baseURL: https://shop.example.com\n';

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, FILE, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.issues.length > 0 ? [...err.issues] : [err.message];
  }
  assert.fail('expected the config to be refused');
}

describe('config validation', () => {
  const refused: { name: string; text: string; env?: NodeJS.ProcessEnv; issue: string }[] = [
    { name: 'no environments', text: 'service: shop\n', issue: 'environments: is required' },
    { name: 'empty environments', text: 'environments: {}\n', issue: 'environments: must define at least one environment' },
    {
      name: 'baseURL not http(s)',
      text: 'environments:\n  canary:\n    baseURL: ftp://x\n',
      issue: 'environments.canary.baseURL: must be an http(s) URL',
    },
    { name: 'baseURL missing', text: 'environments:\n  canary:\n    baseline: canary\n', issue: 'environments.canary.baseURL: is required' },
    {
      name: 'baseline that does not exist',
      text: `${MINIMAL}  canary:\n    baseURL: http://c\n    baseline: prod\n`,
      issue: "environments.canary.baseline: names 'prod', which is not an environment (known: production, canary)",
    },
    {
      name: 'baseline of itself',
      text: 'environments:\n  canary:\n    baseURL: http://c\n    baseline: canary\n',
      issue: 'environments.canary.baseline: must name another environment, not itself',
    },
    { name: 'misspelt key', text: `${MINIMAL}suite:\n  retires: 2\n`, issue: 'suite.retires: unknown key (check its spelling)' },
    { name: 'unknown top-level key', text: `${MINIMAL}enviroments: {}\n`, issue: 'enviroments: unknown key (check its spelling)' },
    { name: 'negative retries', text: `${MINIMAL}suite:\n  retries: -1\n`, issue: 'suite.retries: must be a whole number from 0 to 10, not -1' },
    { name: 'fractional workers', text: `${MINIMAL}suite:\n  workers: 1.5\n`, issue: 'suite.workers: must be a whole number from 1 to 64, not 1.5' },
    { name: 'port out of range', text: `${MINIMAL}server:\n  port: 70000\n`, issue: 'server.port: must be a whole number from 0 to 65535, not 70000' },
    { name: 'port not a number', text: `${MINIMAL}server:\n  port: http\n`, issue: "server.port: must be a whole number from 0 to 65535, not 'http'" },
    { name: 'port left empty', text: `${MINIMAL}server:\n  port:\n`, issue: 'server.port: must be a whole number from 0 to 65535, not empty' },
    {
      name: 'port from a variable holding a word',
      text: `${MINIMAL}server:\n  port: \${SMOKE_PORT}\n`,
      env: { SMOKE_PORT: 'abc' },
      issue: "server.port: must be a whole number from 0 to 65535, not 'abc' (set by ${SMOKE_PORT})",
    },
    {
      name: 'port from a variable with digits then letters',
      text: `${MINIMAL}server:\n  port: \${SMOKE_PORT:-8080}\n`,
      env: { SMOKE_PORT: '80abc' },
      issue: "server.port: must be a whole number from 0 to 65535, not '80abc' (set by ${SMOKE_PORT})",
    },
    {
      name: 'port from a variable in exponent form',
      text: `${MINIMAL}server:\n  port: \${SMOKE_PORT}\n`,
      env: { SMOKE_PORT: '8e3' },
      issue: "server.port: must be a whole number from 0 to 65535, not '8e3' (set by ${SMOKE_PORT})",
    },
    {
      name: 'port from a variable out of range',
      text: `${MINIMAL}server:\n  port: \${SMOKE_PORT}\n`,
      env: { SMOKE_PORT: '65536' },
      issue: 'server.port: must be a whole number from 0 to 65535, not 65536 (set by ${SMOKE_PORT})',
    },
    {
      name: 'concurrency from a variable holding a fraction',
      text: `${MINIMAL}runs:\n  concurrency: \${SMOKE_CONCURRENCY}\n`,
      env: { SMOKE_CONCURRENCY: '1.5' },
      issue: "runs.concurrency: must be a whole number from 1 to 32, not '1.5' (set by ${SMOKE_CONCURRENCY})",
    },
    {
      name: 'a variable naming only itself, never the secret beside it',
      text: `${MINIMAL}server:\n  apiToken: "abc\${SMOKE_TOKEN_SUFFIX:-xyz}"\n`,
      issue: 'server.apiToken: must be at least 16 characters (set by ${SMOKE_TOKEN_SUFFIX})',
    },
    { name: 'instance id with a space', text: `${MINIMAL}server:\n  instanceId: smoke one\n`, issue: 'server.instanceId: must be 1 to 128 printable characters without spaces, such as a pod or host name' },
    { name: 'empty instance id', text: `${MINIMAL}server:\n  instanceId: ""\n`, issue: 'server.instanceId: must be 1 to 128 printable characters without spaces, such as a pod or host name' },
    {
      name: 'instance id past 128 characters',
      text: `${MINIMAL}server:\n  instanceId: ${'r'.repeat(129)}\n`,
      issue: 'server.instanceId: must be 1 to 128 printable characters without spaces, such as a pod or host name',
    },
    {
      name: 'instance id from a variable holding a space',
      text: `${MINIMAL}server:\n  instanceId: \${POD_NAME}\n`,
      env: { POD_NAME: 'smoke 0' },
      issue: 'server.instanceId: must be 1 to 128 printable characters without spaces, such as a pod or host name (set by ${POD_NAME})',
    },
    { name: 'deadline too short', text: `${MINIMAL}runs:\n  deadlineSeconds: 1\n`, issue: 'runs.deadlineSeconds: must be a whole number from 5 to 86400, not 1' },
    { name: 'short api token', text: `${MINIMAL}server:\n  apiToken: abc\n`, issue: 'server.apiToken: must be at least 16 characters' },
    { name: 'retention of zero days', text: `${MINIMAL}storage:\n  retentionDays: 0\n`, issue: 'storage.retentionDays: must be a whole number from 1 to 3650, not 0' },
    { name: 'retention of half a day', text: `${MINIMAL}storage:\n  retentionDays: 0.5\n`, issue: 'storage.retentionDays: must be a whole number from 1 to 3650, not 0.5' },
    { name: 'retention past ten years', text: `${MINIMAL}storage:\n  retentionDays: 4000\n`, issue: 'storage.retentionDays: must be a whole number from 1 to 3650, not 4000' },
    { name: 'retention as words', text: `${MINIMAL}storage:\n  retentionDays: a month\n`, issue: "storage.retentionDays: must be a whole number from 1 to 3650, not 'a month'" },
    {
      name: 'environment name with capitals',
      text: 'environments:\n  Canary:\n    baseURL: http://c\n',
      issue: 'environments.Canary: environment names must be lower-case letters, digits, - or _',
    },
    {
      name: 'bad header name',
      text: `${MINIMAL}    headers:\n      "x bad": y\n`,
      issue: 'environments.production.headers.x bad: must be a valid HTTP header name',
    },
    {
      name: 'unset environment variable',
      text: `${MINIMAL}server:\n  apiToken: \${SMOKE_API_TOKEN}\n`,
      issue: 'server.apiToken: environment variable SMOKE_API_TOKEN is not set (use ${SMOKE_API_TOKEN:-default} for a default)',
    },
    { name: 'not a mapping', text: '- a\n- b\n', issue: `${FILE}: the top level must be a mapping of keys (service, server, suite, environments, …)` },
    ...scheduleCases(),
  ];

  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      const issues = issuesOf(c.text, c.env);
      assert.ok(issues.includes(c.issue), `expected "${c.issue}" among:\n${issues.join('\n')}`);
    });
  }

  it('fills schedule defaults and keeps what was given', () => {
    const config = parseConfig(
      `${MINIMAL}  canary:\n    baseURL: http://c\n    baseline: production\nschedules:\n  - name: nightly\n    cron: "0 3 * * *"\n    environments: [canary]\n  - name: every-minute\n    cron: "*/30 * * * * *"\n    environments: [production, canary]\n    grep: "@checkout"\n    jitterSeconds: 20\n    timezone: europe/paris\n    recheckSeconds: 60\n`,
      FILE,
      {},
    );
    assert.deepEqual(config.schedules, [
      { name: 'nightly', cron: '0 3 * * *', timezone: 'UTC', environments: ['canary'], jitterSeconds: 0 },
      {
        name: 'every-minute',
        cron: '*/30 * * * * *',
        // As Intl spells it, whatever case the file used.
        timezone: 'Europe/Paris',
        environments: ['production', 'canary'],
        grep: '@checkout',
        jitterSeconds: 20,
        recheckSeconds: 60,
      },
    ]);
    assert.ok(Object.isFrozen(config.schedules[1]!.environments));
    assert.deepEqual(parseConfig(MINIMAL, FILE, {}).schedules, []);
  });

  it('reports every problem at once, not one per start', () => {
    const issues = issuesOf('environments:\n  canary:\n    baseURL: nope\nsuite:\n  retries: -1\n  grepp: x\n');
    assert.equal(issues.length, 3);
  });

  it('names the line of a YAML syntax error', () => {
    const [issue] = issuesOf('environments:\n  canary: [\n');
    assert.match(issue!, /line \d+/);
  });

  it('reads storage.postgres as a secret, treats an empty one as unset, and never quotes it in an error', () => {
    const file = path.join(os.tmpdir(), 'smoke-config-test', 'smoke.config.yaml');
    const yaml = 'environments:\n  canary:\n    baseURL: http://127.0.0.1:3002\nstorage:\n  postgres: ${DATABASE_URL:-}\n';
    assert.equal(parseConfig(yaml, file, {}).storage.postgres, undefined);
    const url = 'postgres://smoke:hunter2-password@db.internal:5432/smoke';
    const set = parseConfig(yaml, file, { DATABASE_URL: url }).storage.postgres;
    assert.equal(set?.reveal(), url);
    assert.equal(String(set), '<redacted>');
    for (const [bad, message] of [
      ['mysql://smoke:hunter2-password@db/smoke', /storage\.postgres: must start with postgres:\/\/ or postgresql:\/\//],
      ['hunter2-password', /storage\.postgres: must be a URL such as postgres:\/\//],
      ['postgres:///smoke?password=hunter2-password', /storage\.postgres: must name a host/],
    ] as const) {
      assert.throws(
        () => parseConfig(yaml, file, { DATABASE_URL: bad }),
        (err: Error) => message.test(err.message) && !err.message.includes('hunter2') && /\$\{DATABASE_URL\}/.test(err.message),
        bad,
      );
    }
  });

  it('fills every default and resolves paths against the config file', () => {
    const config = parseConfig(MINIMAL, FILE, {}, { hostname: 'smoke-7f9c', pid: 4242 });
    assert.equal(config.service, 'app');
    assert.deepEqual({ ...config.server }, { host: '0.0.0.0', port: 8080, instanceId: 'smoke-7f9c-4242' });
    assert.equal(config.suite.path, '/etc/smoke/playwright.config.ts');
    assert.equal(config.suite.kind, 'config');
    assert.equal(config.suite.grep, '@critical');
    assert.equal(config.suite.retries, 2);
    assert.equal(config.suite.workers, 2);
    assert.deepEqual({ ...config.runs }, { deadlineSeconds: 300, concurrency: 2, graceSeconds: 10, reachabilityTimeoutSeconds: 10, resumeAttempts: 1, leaseSeconds: 30,
      failFast: true,
      baseline: 'on-failure',
      warmBrowser: true,
      warmRunner: true,
    });
    assert.equal(config.storage.database, '/etc/smoke/data/smoke.db');
    assert.equal(config.storage.artifacts, '/etc/smoke/data/artifacts');
    assert.equal(config.storage.retentionDays, 30);
    assert.deepEqual(config.environments.get('production')!.headers, {});
  });

  it('keeps the retention given, also from an environment variable, beside the other storage defaults', () => {
    const config = parseConfig(`${MINIMAL}storage:\n  retentionDays: \${SMOKE_RETENTION_DAYS}\n`, FILE, { SMOKE_RETENTION_DAYS: '7' });
    assert.deepEqual({ ...config.storage }, { database: '/etc/smoke/data/smoke.db', artifacts: '/etc/smoke/data/artifacts', retentionDays: 7 });
  });

  it('names this replica <hostname>-<pid> by default, or as configured, also from an environment variable', () => {
    const machine = { hostname: 'node-a.internal', pid: 31 };
    assert.equal(parseConfig(MINIMAL, FILE, {}).server.instanceId, `${os.hostname().replace(/[^\x21-\x7e]+/g, '-').slice(0, 100)}-${process.pid}`);
    assert.equal(parseConfig(`${MINIMAL}server:\n  instanceId: smoke-eu-1\n`, FILE, {}, machine).server.instanceId, 'smoke-eu-1');
    const fromEnv = (env: NodeJS.ProcessEnv) => parseConfig(`${MINIMAL}server:\n  instanceId: \${POD_NAME:-smoke-local}\n`, FILE, env, machine).server.instanceId;
    assert.equal(fromEnv({ POD_NAME: 'smoke-5d8f7-x2k9q' }), 'smoke-5d8f7-x2k9q');
    assert.equal(fromEnv({}), 'smoke-local');
    // A hostname with a space still makes a valid label.
    assert.equal(parseConfig(MINIMAL, FILE, {}, { hostname: 'Build Box', pid: 7 }).server.instanceId, 'Build-Box-7');
  });

  it('reads numeric keys from environment variables, with or without a default', () => {
    const text = `${MINIMAL}server:\n  port: \${SMOKE_PORT:-8080}\nruns:\n  concurrency: \${SMOKE_CONCURRENCY}\n`;
    assert.equal(parseConfig(text, FILE, { SMOKE_CONCURRENCY: '4' }).server.port, 8080);
    const config = parseConfig(text, FILE, { SMOKE_PORT: '8081', SMOKE_CONCURRENCY: ' 4 ' });
    assert.equal(config.server.port, 8081);
    assert.equal(config.runs.concurrency, 4);
  });

  it('is frozen all the way down', () => {
    const config = parseConfig(MINIMAL, FILE, {});
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.environments.get('production')));
    assert.throws(() => {
      (config.runs as { concurrency: number }).concurrency = 99;
    }, TypeError);
  });

  it('expands ${VAR} and ${VAR:-default}, with $$ as a literal dollar', () => {
    const config = parseConfig(
      `server:\n  port: \${PORT}\n  publicUrl: \${PUBLIC:-http://smoke.internal:8080/}\nenvironments:\n  canary:\n    baseURL: \${CANARY_URL}\n    headers:\n      x-price: "$$5"\n`,
      FILE,
      { PORT: '9090', CANARY_URL: 'https://canary.example.com' },
    );
    assert.equal(config.server.port, 9090);
    assert.equal(config.server.publicUrl, 'http://smoke.internal:8080');
    assert.equal(config.environments.get('canary')!.baseURL, 'https://canary.example.com');
    assert.equal(config.environments.get('canary')!.headers['x-price']!.reveal(), '$5');
  });

  it('keeps secrets out of every printed form', () => {
    const config = parseConfig(
      `server:\n  apiToken: \${TOKEN}\nenvironments:\n  canary:\n    baseURL: http://c\n    headers:\n      authorization: Bearer \${TOKEN}\n`,
      FILE,
      { TOKEN: 'super-secret-token-value' },
    );
    for (const printed of [JSON.stringify(config), inspect(config, { depth: 10 }), String(config.server.apiToken)]) {
      assert.ok(!printed.includes('super-secret-token-value'), printed);
    }
    assert.equal(config.server.apiToken!.reveal(), 'super-secret-token-value');
  });

  it('reads a file from disk and says when it is missing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-config-'));
    const file = path.join(dir, 'smoke.config.yaml');
    writeFileSync(file, `${MINIMAL}suite:\n  config: .\n`);
    const config = loadConfig(file, {});
    assert.equal(config.suite.kind, 'directory');
    assert.equal(config.suite.path, dir);
    assert.throws(() => loadConfig(path.join(dir, 'missing.yaml')), /cannot read config file .*missing\.yaml: ENOENT/);
  });
});

/** Refusals of `schedules`, each against a config with production and canary. */
function scheduleCases(): { name: string; text: string; issue: string }[] {
  const base = `${MINIMAL}  canary:\n    baseURL: http://c\n    baseline: production\nschedules:\n`;
  const nightly = (extra: string, cron = '"0 3 * * *"') => `${base}  - name: nightly\n    cron: ${cron}\n    environments: [canary]\n${extra}`;
  const FORMAT = 'use 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first';
  return [
    {
      name: 'a cron field out of range',
      text: nightly('', "'61 * * * *'"),
      issue: `schedules[0] (nightly).cron: '61 * * * *' is not a valid cron expression (bad minute field '61'); ${FORMAT}`,
    },
    {
      name: 'a cron expression with too few fields',
      text: nightly('', '"every day"'),
      issue: `schedules[0] (nightly).cron: 'every day' is not a valid cron expression (expected 5 or 6 fields but got 2); ${FORMAT}`,
    },
    { name: 'a schedule without cron', text: `${base}  - name: nightly\n    environments: [canary]\n`, issue: 'schedules[0] (nightly).cron: is required' },
    {
      name: 'an unknown time zone',
      text: nightly('    timezone: Mars/Olympus_Mons\n'),
      issue: "schedules[0] (nightly).timezone: 'Mars/Olympus_Mons' is not a known time zone (use an IANA name such as Europe/Paris or UTC)",
    },
    {
      name: 'a schedule of an unknown environment',
      text: `${base}  - name: nightly\n    cron: "0 3 * * *"\n    environments: [canary, staging]\n`,
      issue: "schedules[0] (nightly).environments[1]: names 'staging', which is not an environment (known: production, canary)",
    },
    {
      name: 'an environment listed twice',
      text: `${base}  - name: nightly\n    cron: "0 3 * * *"\n    environments: [canary, canary]\n`,
      issue: "schedules[0] (nightly).environments[1]: lists 'canary' twice",
    },
    { name: 'a schedule of no environment', text: `${base}  - name: nightly\n    cron: "0 3 * * *"\n    environments: []\n`, issue: 'schedules[0] (nightly).environments: must list at least one environment' },
    {
      name: 'two schedules with one name',
      text: `${nightly('')}  - name: nightly\n    cron: "0 4 * * *"\n    environments: [production]\n`,
      issue: "schedules[1] (nightly).name: 'nightly' is already the name of schedules[0]; names must be unique",
    },
    {
      name: 'a schedule name with capitals',
      text: `${base}  - name: Nightly\n    cron: "0 3 * * *"\n    environments: [canary]\n`,
      issue: 'schedules[0] (Nightly).name: must be lower-case letters, digits, - or _ (at most 63)',
    },
    { name: 'a schedule without a name', text: `${base}  - cron: "0 3 * * *"\n    environments: [canary]\n`, issue: 'schedules[0].name: is required' },
    { name: 'negative jitter', text: nightly('    jitterSeconds: -5\n'), issue: 'schedules[0] (nightly).jitterSeconds: must be a whole number from 0 to 3600, not -5' },
    { name: 'a recheck faster than 10 s', text: nightly('    recheckSeconds: 2\n'), issue: 'schedules[0] (nightly).recheckSeconds: must be a whole number from 10 to 86400, not 2' },
    { name: 'a misspelt schedule key', text: nightly('    recheck: 60\n'), issue: 'schedules[0] (nightly).recheck: unknown key (check its spelling)' },
    { name: 'schedules as a mapping', text: `${MINIMAL}schedules:\n  nightly: {}\n`, issue: 'schedules: must be a list of schedules' },
  ];
}
