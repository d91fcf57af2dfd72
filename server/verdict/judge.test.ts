import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confirmedFail, judge, type JudgeInput } from './judge.ts';
import type { FlowOutcome, FlowResult, Reachability, VerdictKind } from './types.ts';

const up: Reachability = { reachable: true, status: 200 };
const down: Reachability = { reachable: false, error: 'connect ECONNREFUSED 127.0.0.1:9' };

function flow(environment: string, name: string, outcome: FlowOutcome, error?: string): FlowResult {
  return {
    environment,
    flow: name,
    file: 'x.spec.ts',
    outcome,
    durationMs: 10,
    retries: outcome === 'passed' ? 0 : 2,
    ...(error !== undefined && { error }),
    artifacts: [],
  };
}

function input(results: FlowResult[], overrides: Partial<JudgeInput> = {}): JudgeInput {
  return {
    target: 'canary',
    baseline: 'production',
    reachability: { canary: up, production: up },
    results,
    runner: { kind: 'completed' },
    ...overrides,
  };
}

interface Case {
  name: string;
  input: JudgeInput;
  kind: VerdictKind;
  /** Every string must appear in the joined reasons. */
  mentions: string[];
  cause?: string;
}

const cases: Case[] = [
  {
    name: 'all flows pass on both',
    input: input([flow('canary', 'checkout', 'passed'), flow('production', 'checkout', 'passed')]),
    kind: 'pass',
    mentions: ['1 of 1 critical flows passed on canary'],
  },
  {
    name: 'a flow that passes only on retry is flaky, not a failure',
    input: input([flow('canary', 'checkout', 'flaky'), flow('canary', 'home', 'passed'), flow('production', 'checkout', 'passed')]),
    kind: 'pass',
    mentions: ['flaky', '"checkout"'],
  },
  {
    name: 'fails on canary, passes on production',
    input: input([flow('canary', 'checkout', 'failed', 'expected 201, got 500'), flow('production', 'checkout', 'passed')]),
    kind: 'fail',
    mentions: ['"checkout" failed on canary after 3 attempts', 'expected 201, got 500', 'passes on production'],
  },
  {
    name: 'a flaky baseline still counts as a passing reference',
    input: input([flow('canary', 'checkout', 'failed', 'boom'), flow('production', 'checkout', 'flaky')]),
    kind: 'fail',
    mentions: ['"checkout" failed on canary'],
  },
  {
    name: 'fails on both: the baseline is broken, not the deploy',
    input: input([flow('canary', 'checkout', 'failed', 'boom'), flow('production', 'checkout', 'failed', 'boom')]),
    kind: 'inconclusive',
    cause: 'baseline',
    mentions: ['fails on canary and on its baseline production too'],
  },
  {
    name: 'one flow broken on both, another only on canary: fail',
    input: input([
      flow('canary', 'home', 'failed', 'x'),
      flow('production', 'home', 'failed', 'x'),
      flow('canary', 'checkout', 'failed', 'y'),
      flow('production', 'checkout', 'passed'),
    ]),
    kind: 'fail',
    mentions: ['"checkout" failed on canary'],
  },
  {
    name: 'canary unreachable while production answers',
    input: input([], { reachability: { canary: down, production: up } }),
    kind: 'fail',
    mentions: ['canary is unreachable', 'ECONNREFUSED', 'production answers'],
  },
  {
    name: 'both unreachable',
    input: input([], { reachability: { canary: down, production: down } }),
    kind: 'inconclusive',
    cause: 'unreachable',
    mentions: ['both unreachable'],
  },
  {
    name: 'unreachable without a baseline cannot blame the deploy',
    input: input([], { baseline: undefined, reachability: { canary: down } }),
    kind: 'inconclusive',
    cause: 'unreachable',
    mentions: ['without a baseline'],
  },
  {
    name: 'without a baseline a failing flow fails the deploy',
    input: input([flow('canary', 'checkout', 'failed', 'boom')], { baseline: undefined, reachability: { canary: up } }),
    kind: 'fail',
    mentions: ['"checkout" failed on canary'],
  },
  {
    name: 'runner crash is the service\'s fault even with failures seen',
    input: input([flow('canary', 'checkout', 'failed', 'boom')], { runner: { kind: 'fault', reason: 'runner exited with signal SIGSEGV' } }),
    kind: 'inconclusive',
    cause: 'service',
    mentions: ['could not complete the run', 'SIGSEGV', 'seen before that'],
  },
  {
    name: 'deadline exceeded',
    input: input([flow('canary', 'checkout', 'passed')], { runner: { kind: 'deadline', seconds: 60 } }),
    kind: 'inconclusive',
    cause: 'service',
    mentions: ['60 s deadline'],
  },
  {
    name: 'browser could not run the flow',
    input: input([flow('canary', 'checkout', 'error', 'browserType.launch: failed'), flow('production', 'checkout', 'passed')]),
    kind: 'inconclusive',
    cause: 'service',
    mentions: ['could not be run on canary', 'browserType.launch'],
  },
  {
    name: 'a browser killed under the flow on canary is the service\'s fault, never a rollback',
    input: input([
      { ...flow('canary', 'checkout', 'error', 'Error: page.reload: Target page, context or browser has been closed'), fault: 'the browser closed under the flow' },
      flow('production', 'checkout', 'passed'),
    ]),
    kind: 'inconclusive',
    cause: 'service',
    mentions: ['"checkout" could not be run on canary', 'a browser or runner fault (the browser closed under the flow)', 'not the page', 'Target page, context or browser has been closed'],
  },
  {
    name: 'a browser fault on one flow and a page failure on another: the page failure still fails the deploy',
    input: input([
      { ...flow('canary', 'home', 'error', 'Error: worker process exited unexpectedly'), fault: 'the worker process exited unexpectedly' },
      flow('canary', 'checkout', 'failed', 'expected 201, got 500'),
      flow('production', 'home', 'passed'),
      flow('production', 'checkout', 'passed'),
    ]),
    kind: 'fail',
    mentions: ['"checkout" failed on canary', 'passes on production'],
  },
  {
    name: 'fails on canary while the baseline\'s browser broke: cannot be compared, the service\'s fault',
    input: input([
      flow('canary', 'checkout', 'failed', 'expected 201, got 500'),
      { ...flow('production', 'checkout', 'error', 'Error: page.goto: Target crashed'), fault: 'the browser crashed' },
    ]),
    kind: 'inconclusive',
    cause: 'service',
    mentions: ['could not be run, a browser or runner fault (the browser crashed), on baseline production'],
  },
  {
    name: 'no critical flows matched',
    input: input([]),
    kind: 'inconclusive',
    cause: 'no-flows',
    mentions: ['no critical flow ran'],
  },
  {
    name: 'failed on canary, missing on baseline',
    input: input([flow('canary', 'new-flow', 'failed', 'boom')]),
    kind: 'inconclusive',
    mentions: ['did not run on baseline production'],
  },
  {
    name: 'failed on canary with baseline unreachable',
    input: input([flow('canary', 'checkout', 'failed', 'boom')], { reachability: { canary: up, production: down } }),
    kind: 'inconclusive',
    mentions: ['baseline production is unreachable'],
  },
  {
    name: 'skipped flows do not fail a deploy',
    input: input([flow('canary', 'checkout', 'passed'), flow('canary', 'later', 'skipped')]),
    kind: 'pass',
    mentions: ['1 of 2 critical flows passed'],
  },
];

describe('judge', () => {
  for (const c of cases) {
    it(c.name, () => {
      const verdict = judge(c.input);
      assert.equal(verdict.kind, c.kind, `reasons: ${verdict.reasons.join(' | ')}`);
      const text = verdict.reasons.join('\n');
      for (const m of c.mentions) assert.ok(text.includes(m), `expected reasons to mention ${JSON.stringify(m)}, got:\n${text}`);
      if (c.cause) assert.equal(verdict.kind === 'inconclusive' && verdict.cause, c.cause);
    });
  }

  it('names every failed flow with its error', () => {
    const verdict = judge(
      input([
        flow('canary', 'a', 'failed', 'err-a'),
        flow('canary', 'b', 'failed', 'err-b'),
        flow('production', 'a', 'passed'),
        flow('production', 'b', 'passed'),
      ]),
    );
    assert.equal(verdict.kind, 'fail');
    assert.deepEqual(
      verdict.kind === 'fail' && verdict.failed,
      [
        { flow: 'a', environment: 'canary', error: 'err-a' },
        { flow: 'b', environment: 'canary', error: 'err-b' },
      ],
    );
  });

  it('shortens very long errors in reasons', () => {
    const verdict = judge(input([flow('canary', 'a', 'failed', 'x'.repeat(5000)), flow('production', 'a', 'passed')]));
    assert.ok(verdict.reasons[0]!.length < 500);
  });
});

describe('confirmedFail (a verdict before the run ends)', () => {
  const cases: { name: string; results: FlowResult[]; baseline?: string; failed: string[] }[] = [
    { name: 'nothing yet', results: [], failed: [] },
    { name: 'a failure not yet compared', results: [flow('canary', 'a', 'failed')], failed: [] },
    { name: 'a failure the baseline shares', results: [flow('canary', 'a', 'failed'), flow('production', 'a', 'failed')], failed: [] },
    { name: 'a failure whose baseline could not run it', results: [flow('canary', 'a', 'failed'), flow('production', 'a', 'error')], failed: [] },
    { name: 'a failure whose baseline skipped it', results: [flow('canary', 'a', 'failed'), flow('production', 'a', 'skipped')], failed: [] },
    { name: 'a failure the baseline passes', results: [flow('canary', 'a', 'failed'), flow('production', 'a', 'passed')], failed: ['a'] },
    { name: 'a failure the baseline passes on retry', results: [flow('production', 'a', 'flaky'), flow('canary', 'a', 'failed')], failed: ['a'] },
    { name: 'a baseline pass with no failure', results: [flow('canary', 'a', 'flaky'), flow('production', 'a', 'passed')], failed: [] },
    { name: 'a fault on the target is never a regression', results: [flow('canary', 'a', 'error'), flow('production', 'a', 'passed')], failed: [] },
    { name: 'without a baseline, any failure', results: [flow('canary', 'a', 'failed'), flow('canary', 'b', 'passed')], baseline: 'none', failed: ['a'] },
    {
      name: 'only the confirmed ones among several',
      results: [flow('canary', 'a', 'failed'), flow('canary', 'b', 'failed'), flow('production', 'b', 'passed'), flow('canary', 'c', 'failed'), flow('production', 'c', 'failed')],
      failed: ['b'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const verdict = confirmedFail({ target: 'canary', ...(c.baseline !== 'none' && { baseline: 'production' }), results: c.results });
      assert.deepEqual(verdict?.failed.map((f) => f.flow) ?? [], c.failed);
      // Whatever it confirms, the judge of the whole run (all flows in, runner completed) fails on it too.
      if (verdict) {
        const whole = judge(input(c.results, c.baseline === 'none' ? { baseline: undefined, reachability: { canary: up } } : {}));
        assert.equal(whole.kind, 'fail');
        assert.ok(c.failed.every((name) => whole.kind === 'fail' && whole.failed.some((f) => f.flow === name)));
      }
    });
  }
});
