import type { FlowResult, Verdict } from '../verdict/types.ts';

/** The verdicts and flow results a retention history is written from. */
export const PASS: Verdict = { kind: 'pass', reasons: [], flaky: [] };
export const FAIL: Verdict = { kind: 'fail', reasons: ['checkout failed'], failed: [{ flow: 'checkout', environment: 'canary' }] };

export const result = (environment: string, flow: string, outcome: FlowResult['outcome']): FlowResult => ({
  environment,
  flow,
  file: 'shop.spec.ts',
  outcome,
  durationMs: 100,
  retries: 0,
  artifacts: [],
});
