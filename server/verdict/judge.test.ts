import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judge, type JudgeInput } from './judge.ts';
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
