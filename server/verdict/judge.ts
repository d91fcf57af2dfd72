import type { FailedFlow, FlowResult, Reachability, RunnerOutcome, Verdict } from './types.ts';

export interface JudgeInput {
  /** The environment that was deployed (or is being checked). */
  readonly target: string;
  readonly baseline?: string;
  readonly reachability: Readonly<Record<string, Reachability>>;
  readonly results: readonly FlowResult[];
  readonly runner: RunnerOutcome;
}

/** Longest error text quoted in a reason; the full error stays on the flow result. */
const REASON_ERROR_CHARS = 300;

/**
 * The deploy verdict, as a pure function of what was observed.
 *
 * A deploy is failed only on evidence that points at it: a flow that fails on
 * the target after its retries while the same flow passes on the baseline, or
 * a target that cannot be reached while the baseline can. Anything that could
 * be the service's own fault, or the baseline's, is inconclusive: rolling back
 * a healthy deploy is worse than asking a human to look.
 */
export function judge(input: JudgeInput): Verdict {
  const { target, baseline } = input;
  const targetReach = input.reachability[target];
  const baselineReach = baseline === undefined ? undefined : input.reachability[baseline];

  if (targetReach && !targetReach.reachable) {
    if (baseline !== undefined && baselineReach?.reachable) {
      return fail([`${target} is unreachable (${targetReach.error}) while ${baseline} answers`], [
        { flow: '(environment)', environment: target, error: targetReach.error },
      ]);
    }
    const why =
      baseline === undefined
        ? `${target} is unreachable (${targetReach.error}); without a baseline the service cannot tell a broken deploy from its own network problem`
        : `${target} and its baseline ${baseline} are both unreachable (${targetReach.error}): the problem is likely between the service and both`;
    return inconclusive('unreachable', [why]);
  }

  const onTarget = input.results.filter((r) => r.environment === target);
  const onBaseline = new Map(
    input.results.filter((r) => baseline !== undefined && r.environment === baseline).map((r) => [r.flow, r]),
  );

  if (input.runner.kind !== 'completed') {
    const failures = onTarget.filter((r) => r.outcome === 'failed').map((r) => describeFailure(r));
    return inconclusive('service', [runnerReason(input.runner), ...failures.map((f) => `seen before that: ${f}`)]);
  }
  if (onTarget.length === 0) {
    return inconclusive('no-flows', [`no critical flow ran on ${target}: check the suite's grep and that its specs load`]);
  }

  const failed: FailedFlow[] = [];
  const failReasons: string[] = [];
  const doubtReasons: string[] = [];
  let doubtCause: 'baseline' | 'service' = 'baseline';
  for (const result of onTarget) {
    if (result.outcome === 'error') {
      doubtCause = 'service';
      doubtReasons.push(`${quote(result.flow)} could not be run on ${target}: ${faultOf(result)}, not the page: ${short(result.error)}`);
      continue;
    }
    if (result.outcome !== 'failed') continue;
    const reference = onBaseline.get(result.flow);
    const regression = regressionReason(result, baseline, reference);
    if (regression !== undefined) {
      failed.push(failedFlow(result));
      failReasons.push(regression);
    } else if (reference?.outcome === 'failed') {
      doubtReasons.push(`${quote(result.flow)} fails on ${target} and on its baseline ${baseline} too: not caused by this deploy (${short(result.error)})`);
    } else if (baselineReach && !baselineReach.reachable) {
      doubtReasons.push(`${describeFailure(result)}, but baseline ${baseline} is unreachable (${baselineReach.error}) so it cannot be compared`);
    } else {
      if (reference?.outcome === 'error') doubtCause = 'service';
      const there = !reference ? 'did not run' : reference.outcome === 'error' ? `could not be run, ${faultOf(reference)},` : `was ${reference.outcome}`;
      doubtReasons.push(`${describeFailure(result)}, but it ${there} on baseline ${baseline}, so it cannot be compared`);
    }
  }

  if (failed.length > 0) return fail(failReasons, failed);
  if (doubtReasons.length > 0) return inconclusive(doubtCause, doubtReasons);

  const flaky = onTarget.filter((r) => r.outcome === 'flaky').map((r) => r.flow);
  const passed = onTarget.filter((r) => r.outcome === 'passed' || r.outcome === 'flaky').length;
  const reasons = [`${passed} of ${onTarget.length} critical flows passed on ${target}`];
  if (flaky.length > 0) reasons.push(`flaky (passed on retry): ${flaky.map(quote).join(', ')}`);
  return { kind: 'pass', reasons, flaky };
}

/**
 * The regressions the results so far already prove, as a `fail` verdict, or
 * undefined while there is none. Each is a flow that failed on the target
 * after its retries while the same flow passed (or was flaky) on the
 * baseline, or, without a baseline, failed at all: evidence that no flow
 * still unknown can overturn, so the verdict may be given before the run ends.
 */
export function confirmedFail(input: Pick<JudgeInput, 'target' | 'baseline' | 'results'>): Extract<Verdict, { kind: 'fail' }> | undefined {
  const onBaseline = new Map(input.results.filter((r) => input.baseline !== undefined && r.environment === input.baseline).map((r) => [r.flow, r]));
  const failed: FailedFlow[] = [];
  const reasons: string[] = [];
  for (const result of input.results) {
    if (result.environment !== input.target || result.outcome !== 'failed') continue;
    const regression = regressionReason(result, input.baseline, onBaseline.get(result.flow));
    if (regression === undefined) continue;
    failed.push(failedFlow(result));
    reasons.push(regression);
  }
  return failed.length > 0 ? { kind: 'fail', reasons, failed } : undefined;
}

/** Why a flow that failed on the target is this deploy's regression, or undefined when the baseline does not prove it. */
function regressionReason(result: FlowResult, baseline: string | undefined, reference: FlowResult | undefined): string | undefined {
  if (baseline === undefined) return describeFailure(result);
  if (reference?.outcome === 'passed' || reference?.outcome === 'flaky') return `${describeFailure(result)}; it passes on ${baseline}`;
  return undefined;
}

function fail(reasons: string[], failed: FailedFlow[]): Verdict {
  return { kind: 'fail', reasons, failed };
}

function inconclusive(cause: 'baseline' | 'service' | 'unreachable' | 'no-flows', reasons: string[]): Verdict {
  return { kind: 'inconclusive', cause, reasons };
}

function runnerReason(runner: Exclude<RunnerOutcome, { kind: 'completed' }>): string {
  switch (runner.kind) {
    case 'fault':
      return `the smoke service could not complete the run: ${runner.reason}`;
    case 'deadline':
      return `the run exceeded its ${runner.seconds} s deadline and was stopped`;
    case 'cancelled':
      return `the run was cancelled: ${runner.reason}`;
  }
}

function failedFlow(result: FlowResult): FailedFlow {
  return { flow: result.flow, environment: result.environment, ...(result.error !== undefined && { error: result.error }) };
}

function describeFailure(result: FlowResult): string {
  const attempts = result.retries + 1;
  return `${quote(result.flow)} failed on ${result.environment} after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${short(result.error)}`;
}

/** An `error` flow is always the service's side: the browser, its worker or the runner broke. */
function faultOf(result: FlowResult): string {
  return `a browser or runner fault (${result.fault ?? 'the flow could not be run'})`;
}

function quote(flow: string): string {
  return `"${flow}"`;
}

function short(error: string | undefined): string {
  if (!error) return 'no error message';
  // Playwright's call log repeats the assertion step by step: the reason needs only the assertion.
  const oneLine = error.split(/\n\s*Call log:/)[0]!.replace(/\s+/g, ' ').trim();
  return oneLine.length > REASON_ERROR_CHARS ? `${oneLine.slice(0, REASON_ERROR_CHARS - 1)}…` : oneLine;
}
