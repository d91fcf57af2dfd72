import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/config.ts';
import { ConfigError } from '../errors.ts';

describe('gates config', () => {
  const BASE = 'environments:\n  production:\n    baseURL: https://shop.example.com\n  canary:\n    baseURL: https://canary.shop.example.com\n    baseline: production\n';
  const issues = (gates: string): string[] => {
    try {
      parseConfig(`${BASE}gates:\n${gates}`, '/etc/smoke/smoke.config.yaml', {});
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return [...err.issues];
    }
    return [];
  };

  it('defaults to Flagger and Argo open, GitHub off', () => {
    const config = parseConfig(BASE, '/etc/smoke/smoke.config.yaml', {});
    assert.deepEqual(config.gates, { flagger: { targets: [] } });
  });

  it('reads targets and the GitHub mapping, keeping the secret unprintable', () => {
    const config = parseConfig(
      `${BASE}gates:\n  flagger:\n    targets:\n      - canary: shop/checkout\n        environment: canary\n  github:\n    secret: \${GH_SECRET}\n    environments:\n      Production: production\n`,
      '/etc/smoke/smoke.config.yaml',
      { GH_SECRET: 'a-long-random-webhook-secret' },
    );
    assert.deepEqual(config.gates.flagger.targets, [{ canary: 'shop/checkout', environment: 'canary' }]);
    assert.deepEqual(config.gates.github?.environments, new Map([['production', 'production']]));
    assert.equal(config.gates.github?.secret.reveal(), 'a-long-random-webhook-secret');
    assert.ok(!inspect(config, { depth: 10 }).includes('a-long-random-webhook-secret'));
    assert.ok(!JSON.stringify(config).includes('a-long-random-webhook-secret'));
  });

  const GH = '  github:\n    secret: a-long-random-webhook-secret\n    environments:\n      production: production\n';

  it('posts no commit statuses without a token, nor with an empty one', () => {
    const parse = (extra: string, env: NodeJS.ProcessEnv = {}) => parseConfig(`${BASE}gates:\n${GH}${extra}`, '/etc/smoke/smoke.config.yaml', env).gates.github;
    assert.equal(parse('')?.statuses, undefined);
    assert.equal(parse('    token: ${GITHUB_TOKEN:-}\n')?.statuses, undefined);
  });

  it('reads the status token as a secret, with GitHub.com and smoke/{environment} as defaults', () => {
    const token = 'ghp_0123456789abcdefABCDEF0123456789abcd';
    const config = parseConfig(`${BASE}gates:\n${GH}    token: \${GITHUB_TOKEN}\n`, '/etc/smoke/smoke.config.yaml', { GITHUB_TOKEN: `${token}\n` });
    const statuses = config.gates.github?.statuses;
    assert.equal(statuses?.token.reveal(), token, 'the newline a mounted file ends in is dropped');
    assert.equal(statuses?.apiUrl, 'https://api.github.com');
    assert.equal(statuses?.context, 'smoke/{environment}');
    assert.deepEqual(statuses?.post, ['commit', 'deployment'], 'both kinds by default');
    assert.ok(!inspect(config, { depth: 10 }).includes(token));
    assert.ok(!JSON.stringify(config).includes(token));
  });

  it('takes a GitHub Enterprise Server API and a fixed context', () => {
    const config = parseConfig(`${BASE}gates:\n${GH}    token: t0ken\n    apiUrl: https://github.example.com/api/v3/\n    context: smoke\n`, '/etc/smoke/smoke.config.yaml', {});
    assert.equal(config.gates.github?.statuses?.apiUrl, 'https://github.example.com/api/v3');
    assert.equal(config.gates.github?.statuses?.context, 'smoke');
  });

  it('posts only the kinds gates.github.post names', () => {
    const config = parseConfig(`${BASE}gates:\n${GH}    token: t0ken\n    post: [deployment]\n`, '/etc/smoke/smoke.config.yaml', {});
    assert.deepEqual(config.gates.github?.statuses?.post, ['deployment']);
  });

  const refused: [string, string, string][] = [
    ['an unknown kind of status', `${GH}    token: t0ken\n    post: [commit, check]\n`, "gates.github.post[1]: must be one of 'commit', 'deployment'"],
    ['an empty list of kinds', `${GH}    token: t0ken\n    post: []\n`, 'gates.github.post: must name at least one kind of status (to post none, leave gates.github.token unset)'],
    ['a kind listed twice', `${GH}    token: t0ken\n    post: [deployment, commit, deployment]\n`, "gates.github.post[2]: 'deployment' is listed twice"],
    ['kinds that are not a list', `${GH}    token: t0ken\n    post: commit\n`, "gates.github.post: must be a list of 'commit' and/or 'deployment'"],
    ['an API URL that is not http(s)', `${GH}    token: t0ken\n    apiUrl: api.github.com\n`, 'gates.github.apiUrl: must be an http(s) URL'],
    ['an API URL with a query', `${GH}    token: t0ken\n    apiUrl: https://api.github.com/?x=1\n`, 'gates.github.apiUrl: must not carry a query or fragment'],
    ['a token with a space inside', `${GH}    token: not a token\n`, 'gates.github.token: must be printable ASCII without spaces (a GitHub token)'],
    ['an empty context', `${GH}    token: t0ken\n    context: ''\n`, 'gates.github.context: must not be empty'],
    ['a target on an unknown environment', '  flagger:\n    targets:\n      - canary: shop/checkout\n        environment: staging\n', "gates.flagger.targets[0].environment: names 'staging', which is not an environment (known: production, canary)"],
    ['a target that is not namespace/name', '  flagger:\n    targets:\n      - canary: checkout\n        environment: canary\n', 'gates.flagger.targets[0].canary: must be <namespace>/<name> of a Flagger Canary, e.g. shop/checkout'],
    ['the same canary twice', '  flagger:\n    targets:\n      - canary: shop/a\n        environment: canary\n      - canary: shop/a\n        environment: production\n', "gates.flagger.targets[1].canary: 'shop/a' is already gates.flagger.targets[0]"],
    ['a short GitHub secret', '  github:\n    secret: short\n    environments:\n      production: production\n', 'gates.github.secret: must be at least 16 characters (GitHub recommends a long random string)'],
    ['no GitHub secret', '  github:\n    environments:\n      production: production\n', 'gates.github.secret: is required'],
    ['no GitHub environments', '  github:\n    secret: a-long-random-webhook-secret\n    environments: {}\n', 'gates.github.environments: must map at least one GitHub environment'],
    ['a GitHub environment mapped to nothing', '  github:\n    secret: a-long-random-webhook-secret\n    environments:\n      prod: prod\n', "gates.github.environments.prod: names 'prod', which is not an environment (known: production, canary)"],
    ['names differing in case only', '  github:\n    secret: a-long-random-webhook-secret\n    environments:\n      prod: production\n      PROD: production\n', "gates.github.environments.PROD: differs from 'prod' only in case; GitHub treats them as one environment"],
    ['a misspelt key', '  githbu: {}\n', 'gates.githbu: unknown key (check its spelling)'],
  ];
  for (const [name, gates, issue] of refused) {
    it(`refuses ${name}`, () => assert.ok(issues(gates).includes(issue), `issues: ${JSON.stringify(issues(gates))}`));
  }
});
