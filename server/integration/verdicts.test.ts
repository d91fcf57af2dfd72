import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Fault } from '../../demo/shop.ts';
import type { Service } from '../service.ts';
import { api, deadUrl, deploy, startService, startShop, waitFor, workspace, type Shop, type Workspace, type WorkspaceOptions } from './harness.ts';

const CHECKOUT_UI = 'checkout.spec.ts › customer can check out';
const CHECKOUT_API = 'api.spec.ts › checkout API accepts an order';
const PRODUCTS_API = 'api.spec.ts › products API lists the catalogue';
const STOREFRONT = 'storefront.spec.ts › storefront lists products';

/**
 * Complete reports in both baseline modes. A fail given early (the default
 * failFast) is shown by fail-fast.test.ts and rollback.test.ts; a third
 * service here would cost a third more browser time for the same proof.
 */
const SERVICES = {
  always: { baseline: 'always', failFast: false },
  onFailure: { baseline: 'on-failure', failFast: false },
} as const satisfies Record<string, WorkspaceOptions>;
type Mode = keyof typeof SERVICES;
const MODES = Object.keys(SERVICES) as Mode[];

/** Generous for a loaded 2-core machine: a deadline here would make the verdict inconclusive and prove nothing. */
const DEADLINE_SECONDS = 240;

interface Verified {
  /** The deployment view as `?wait` answered it: with failFast, at the first confirmed regression. */
  readonly deployment: any;
  /** The run's view once it ended. */
  readonly run: any;
}

/** What a verdict says, for comparing two runs of the same case. */
function judged(view: any) {
  return {
    kind: view.verdict,
    cause: view.cause ?? null,
    failed: ((view.failed ?? []) as { flow: string }[]).map((f) => f.flow).sort(),
    flaky: [...(view.flaky ?? [])].sort(),
  };
}

/** Flows of one environment in a run view, by outcome. */
function outcomes(run: any, environment: string): Record<string, string> {
  return Object.fromEntries((run.environments[environment].flows as { flow: string; outcome: string }[]).map((f) => [f.flow, f.outcome]));
}

/** Flow names with a result on one environment of a run view. */
function flowsOn(run: any, environment: string): string[] {
  return (run.environments[environment].flows as { flow: string }[]).map((f) => f.flow).sort();
}

/** A run's flows in one line each, for assertion messages: a flow that flaked on a starved machine shows its timeout here. */
function flowLines(run: any): string {
  return Object.entries(run.environments as Record<string, { flows: any[] }>)
    .flatMap(([env, { flows }]) => flows.map((f) => `${env} ${f.flow}: ${f.outcome}, ${f.retries} retries${f.error ? `, ${String(f.error).split('\n')[0]}` : ''}`))
    .join('\n');
}

/** Attempts a run made on one environment, whatever their end. */
function attemptsOn(run: any, environment: string): number {
  const counts: Record<string, number> = run.attempts.environments[environment] ?? {};
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * The main job, end to end: the real service runs the demo suite in real
 * Chromium against a real production and canary shop, and judges deploys.
 * Every case runs on a service with `runs.baseline: always` and one with
 * `on-failure` at the same time (complete reports, failFast off), and their
 * run verdicts must agree: on-failure only skips baseline work that cannot
 * change a verdict.
 */
describe('deploy verdicts against the demo shop, baseline always and on-failure alike', () => {
  let production: Shop;
  // One canary per service: the flaky fault alternates per request, so two services sharing a shop would share its turns.
  const canaries = {} as Record<Mode, Shop>;
  const workspaces = {} as Record<Mode, Workspace>;
  const services = {} as Record<Mode, Service>;

  before(async () => {
    production = await startShop('production');
    const unreachable = await deadUrl();
    for (const mode of MODES) {
      canaries[mode] = await startShop('canary');
      workspaces[mode] = workspace(
        {
          production: { baseURL: production.url },
          canary: { baseURL: canaries[mode].url, baseline: 'production' },
          gone: { baseURL: unreachable, baseline: 'production' },
          lost: { baseURL: unreachable, baseline: 'gone' },
          alone: { baseURL: unreachable },
        },
        { ...SERVICES[mode], deadlineSeconds: DEADLINE_SECONDS },
      );
      services[mode] = await startService(workspaces[mode]);
    }
  });

  after(async () => {
    for (const mode of MODES) await services[mode]?.close();
    await Promise.all([production?.close(), ...MODES.map((mode) => canaries[mode]?.close())]);
    for (const mode of MODES) workspaces[mode]?.remove();
  });

  function deployCanary(version: string, fault: Fault): void {
    for (const mode of MODES) Object.assign(canaries[mode].state, { version, fault });
  }

  /** Deploys to `environment` on each service given, at the same time, and waits for each verdict and for each run to end. */
  async function verify(environment: string, version: string, modes: readonly Mode[]): Promise<Record<Mode, Verified>> {
    const verified = await Promise.all(
      modes.map(async (mode): Promise<Verified> => {
        const base = services[mode].url;
        const { status, body: deployment } = await deploy(base, { environment, version }, DEADLINE_SECONDS + 60);
        assert.equal(status, 200, `${mode}: ${JSON.stringify(deployment)}`);
        assert.equal(deployment.status, 'done');
        const run = await waitFor(
          `${mode}: the run of ${environment} ${version} to end`,
          async () => {
            const { body } = await api(base, 'GET', `/api/v1/runs/${deployment.run.id}`);
            return body.status === 'queued' || body.status === 'running' ? undefined : body;
          },
          (DEADLINE_SECONDS + 30) * 1000,
        );
        assert.equal(run.status, 'done', `${mode}: ${JSON.stringify(run)}`);
        return { deployment, run };
      }),
    );
    return Object.fromEntries(modes.map((mode, i) => [mode, verified[i]!])) as Record<Mode, Verified>;
  }

  /** Both complete reports judge alike; each deployment says what its run says, or (a fail given early) no more than it. */
  function assertSameVerdicts(got: Partial<Record<Mode, Verified>>): ReturnType<typeof judged> {
    const expected = judged(got.always!.run);
    assert.deepEqual(judged(got.onFailure!.run), expected, `on-failure judges as always does:\n${flowLines(got.always!.run)}\n--\n${flowLines(got.onFailure!.run)}`);
    for (const [mode, { deployment, run }] of Object.entries(got) as [Mode, Verified][]) {
      assert.deepEqual(judged(run), expected, `${mode}: run verdict`);
      if (expected.kind !== 'fail') {
        assert.deepEqual(judged(deployment), expected, `${mode}: deployment verdict`);
        continue;
      }
      const given = judged(deployment);
      assert.equal(given.kind, 'fail', `${mode}: ${deployment.reasons.join('\n')}`);
      assert.ok(given.failed.length > 0, `${mode}: a fail names its regressions`);
      for (const flow of given.failed) assert.ok(expected.failed.includes(flow), `${mode}: ${flow} is not among the regressions ${expected.failed}`);
    }
    return expected;
  }

  it('a good canary passes; on-failure runs no flow on the baseline, half the browser work', async () => {
    deployCanary('1.1.0', 'none');
    const got = await verify('canary', '1.1.0', ['always', 'onFailure']);
    assert.deepEqual(assertSameVerdicts(got), { kind: 'pass', cause: null, failed: [], flaky: [] }, flowLines(got.always.run));
    const everyFlowPassed = { [CHECKOUT_UI]: 'passed', [CHECKOUT_API]: 'passed', [PRODUCTS_API]: 'passed', [STOREFRONT]: 'passed' };
    assert.deepEqual(outcomes(got.always.run, 'canary'), everyFlowPassed);
    assert.deepEqual(outcomes(got.always.run, 'production'), everyFlowPassed);
    assert.deepEqual(outcomes(got.onFailure.run, 'canary'), everyFlowPassed);
    assert.deepEqual(flowsOn(got.onFailure.run, 'production'), []);
    assert.equal(attemptsOn(got.onFailure.run, 'production'), 0);
    assert.equal(got.always.run.attempts.total, 8);
    assert.ok(got.onFailure.run.attempts.total * 2 <= got.always.run.attempts.total, JSON.stringify(got.onFailure.run.attempts));
    // The untagged flow is not a critical path: grep left it out.
    assert.ok(!JSON.stringify(got.always.run).includes('footer shows the version'));
  });

  it('a broken checkout fails both checkout flows, with screenshot and trace; on-failure checks only those on the baseline', async () => {
    deployCanary('1.2.0', 'checkout-500');
    const got = await verify('canary', '1.2.0', MODES);
    const expected = assertSameVerdicts(got);
    assert.deepEqual(expected.failed, [CHECKOUT_API, CHECKOUT_UI].sort());
    assert.deepEqual(outcomes(got.onFailure.run, 'production'), { [CHECKOUT_UI]: 'passed', [CHECKOUT_API]: 'passed' });
    assert.equal(outcomes(got.always.run, 'production')[CHECKOUT_UI], 'passed');

    for (const mode of ['always', 'onFailure'] as const) {
      const { run } = got[mode];
      assert.match(run.reasons.join('\n'), /"api\.spec\.ts › checkout API accepts an order" failed on canary after 3 attempts: .*500.*it passes on production/);
      const uiFlow = run.environments.canary.flows.find((f: { flow: string }) => f.flow === CHECKOUT_UI);
      assert.equal(uiFlow.retries, 2);
      assert.match(uiFlow.error, /Order confirmed/);
      const artifact = (name: string) => uiFlow.artifacts.find((a: { name: string }) => a.name === name)?.url as string | undefined;
      assert.ok(artifact('screenshot') && artifact('trace'), `${mode} artifacts: ${JSON.stringify(uiFlow.artifacts)}`);
      const screenshot = await fetch(artifact('screenshot')!);
      assert.equal(screenshot.status, 200);
      assert.equal(screenshot.headers.get('content-type'), 'image/png');
      assert.equal(Buffer.from(await screenshot.arrayBuffer()).subarray(1, 4).toString(), 'PNG');
      const trace = await fetch(artifact('trace')!);
      assert.equal(trace.status, 200);
      assert.equal(Buffer.from(await trace.arrayBuffer()).subarray(0, 2).toString(), 'PK');
    }
  });

  it('a button-only break fails just the UI flow', async () => {
    deployCanary('1.2.1', 'broken-button');
    const got = await verify('canary', '1.2.1', MODES);
    const expected = assertSameVerdicts(got);
    assert.deepEqual(expected.failed, [CHECKOUT_UI]);
    assert.equal(outcomes(got.onFailure.run, 'canary')[CHECKOUT_API], 'passed');
    assert.deepEqual(outcomes(got.onFailure.run, 'production'), { [CHECKOUT_UI]: 'passed' });
  });

  it('a flaky canary passes, with the flow reported as flaky', async () => {
    deployCanary('1.3.0', 'flaky-products');
    const got = await verify('canary', '1.3.0', ['always', 'onFailure']);
    assert.deepEqual(assertSameVerdicts(got), { kind: 'pass', cause: null, failed: [], flaky: [PRODUCTS_API] });
    for (const mode of ['always', 'onFailure'] as const) {
      const flow = got[mode].run.environments.canary.flows.find((f: { flow: string }) => f.flow === PRODUCTS_API);
      assert.equal(flow.outcome, 'flaky');
      assert.equal(flow.retries, 1);
      assert.match(got[mode].run.reasons.join('\n'), /flaky \(passed on retry\)/);
    }
    // Its first attempt failed on the page, so on-failure checked it on the baseline; nothing else.
    assert.deepEqual(outcomes(got.onFailure.run, 'production'), { [PRODUCTS_API]: 'passed' });
  });

  it('a broken baseline makes the verdict inconclusive, not a rollback', async () => {
    deployCanary('1.4.0', 'checkout-500');
    Object.assign(production.state, { fault: 'checkout-500' });
    try {
      const got = await verify('canary', '1.4.0', ['always', 'onFailure']);
      assert.deepEqual(assertSameVerdicts(got), { kind: 'inconclusive', cause: 'baseline', failed: [], flaky: [] });
      for (const mode of ['always', 'onFailure'] as const) {
        assert.match(got[mode].run.reasons.join('\n'), /fails on canary and on its baseline production too/);
      }
      assert.deepEqual(outcomes(got.onFailure.run, 'production'), { [CHECKOUT_UI]: 'failed', [CHECKOUT_API]: 'failed' });
    } finally {
      Object.assign(production.state, { fault: 'none' });
    }
  });

  it('an unreachable canary fails while its baseline answers, without running a flow', async () => {
    const got = await verify('gone', '2.0.0', MODES);
    assert.deepEqual(assertSameVerdicts(got), { kind: 'fail', cause: null, failed: ['(environment)'], flaky: [] });
    for (const mode of MODES) {
      const { run } = got[mode];
      assert.match(run.reasons[0], /gone is unreachable \(.*ECONNREFUSED.*\) while production answers/);
      assert.equal(run.environments.gone.reachability.reachable, false);
      assert.deepEqual([...flowsOn(run, 'gone'), ...flowsOn(run, 'production')], []);
    }
  });

  it('an unreachable canary is inconclusive when its baseline is unreachable too, or when it has none', async () => {
    const [lost, alone] = await Promise.all([verify('lost', '2.1.0', ['always', 'onFailure']), verify('alone', '2.2.0', ['always', 'onFailure'])]);
    assert.deepEqual(assertSameVerdicts(lost), { kind: 'inconclusive', cause: 'unreachable', failed: [], flaky: [] });
    assert.match(lost.always.run.reasons[0], /lost and its baseline gone are both unreachable/);
    assert.deepEqual(assertSameVerdicts(alone), { kind: 'inconclusive', cause: 'unreachable', failed: [], flaky: [] });
    assert.match(alone.always.run.reasons[0], /without a baseline the service cannot tell/);
  });

  it('lists runs newest first and filters them by environment', async () => {
    const base = services.always.url;
    const all = await api(base, 'GET', '/api/v1/runs?limit=2');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.runs.map((r: { target: string }) => r.target).sort(), ['alone', 'lost']);
    // `environment` matches the target or the baseline: lost's baseline is gone.
    const gone = await api(base, 'GET', '/api/v1/runs?environment=gone');
    assert.deepEqual(gone.body.runs.map((r: { target: string }) => r.target).sort(), ['gone', 'lost']);
    const onProduction = await api(base, 'GET', '/api/v1/runs?environment=production');
    // production took part in every canary run and in gone's as the baseline.
    assert.equal(onProduction.body.runs.length, 6);
    const canaryRun = onProduction.body.runs.find((r: { target: string }) => r.target === 'canary');
    const one = await api(base, 'GET', `/api/v1/runs/${canaryRun.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.environments.canary.flows.length, 4);
  });
});
