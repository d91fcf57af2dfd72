import path from 'node:path';
import type { Logger } from 'pino';
import type { BaselineMode, EnvironmentConfig } from '../config/config.ts';
import { describeError } from '../errors.ts';
import { AttemptTally } from '../runner/attempts.ts';
import { blobFile } from '../runner/blob.ts';
import type { TestRef } from '../runner/protocol.ts';
import type { AttemptSeen, Runner, RunReport } from '../runner/runner.ts';
import type { FlowResult, RunnerOutcome } from '../verdict/types.ts';

export interface FlowsRequest {
  readonly runId: string;
  readonly target: EnvironmentConfig;
  /** The baseline, when there is one and it answered the reachability check. */
  readonly baseline?: EnvironmentConfig;
  readonly mode: BaselineMode;
  /** The run's artifacts folder; with `on-failure`, each invocation writes into a subfolder of its own. */
  readonly outputDir: string;
  readonly deadlineMs: number;
  readonly signal: AbortSignal;
  readonly grep?: string;
  readonly logger: Logger;
  readonly onResult: (result: FlowResult) => void;
  /** Milliseconds, for the deadline shared by every invocation. */
  readonly now: () => number;
}

/**
 * Runs a verification's flows through the real Playwright runner and returns
 * one report, however many runner invocations it took.
 *
 * `always`: one invocation, target and baseline side by side, the workers
 * split between them. `on-failure`: the target runs with every worker; a flow
 * whose attempt fails on the page there is queued for the baseline at once,
 * not when the target has finished, so the baseline's answer is usually in by
 * the time the target's retries have confirmed the failure. Baseline
 * invocations run one at a time, each taking every flow queued since the last
 * started. Flows that pass on the target at the first attempt never run on the
 * baseline, which is where the browser work of a good deploy halves.
 */
export async function runFlows(runner: Runner, request: FlowsRequest): Promise<RunReport> {
  const { target, baseline } = request;
  const started = request.now();
  const remainingMs = () => request.deadlineMs - (request.now() - started);
  const common = {
    signal: request.signal,
    logger: request.logger,
    onResult: request.onResult,
    ...(request.grep !== undefined && { grep: request.grep }),
  };
  if (!baseline || request.mode === 'always') {
    return runner.run({
      ...common,
      runId: request.runId,
      environments: baseline ? [target, baseline] : [target],
      outputDir: request.outputDir,
      blobFile: blobFile(request.outputDir, 'run'),
      deadlineMs: request.deadlineMs,
    });
  }

  const queued = new Map<string, TestRef>();
  const sent = new Set<string>();
  const reports: RunReport[] = [];
  let invocations = 0;
  let checking: Promise<void> | undefined;

  const checkOnBaseline = (): void => {
    if (checking || queued.size === 0 || request.signal.aborted) return;
    const tests = [...queued.values()];
    queued.clear();
    invocations += 1;
    const label = `baseline-${invocations}`;
    request.logger.debug({ flows: tests.length, invocation: label }, 'checking failed flows on the baseline');
    const deadlineMs = remainingMs();
    const report: Promise<RunReport> =
      deadlineMs <= 0
        ? Promise.resolve(emptyReport({ kind: 'deadline', seconds: Math.round(request.deadlineMs / 1000) }))
        : runner
            .run({
              ...common,
              runId: `${request.runId}-${label}`,
              environments: [baseline],
              tests,
              outputDir: path.join(request.outputDir, label),
              artifactRoot: request.outputDir,
              blobFile: blobFile(request.outputDir, label),
              deadlineMs,
            })
            .catch((err: unknown) => emptyReport({ kind: 'fault', reason: `could not check failed flows on ${baseline.name}: ${describeError(err)}` }));
    checking = report.then((r) => {
      reports.push(r);
      checking = undefined;
      checkOnBaseline();
    });
  };

  const onAttempt = (attempt: AttemptSeen): void => {
    // A fault says nothing about the page, so nothing to compare; a pass needs no comparison.
    if (attempt.environment !== target.name || attempt.kind !== 'failed' || sent.has(attempt.flow)) return;
    sent.add(attempt.flow);
    queued.set(attempt.flow, attempt.test);
    checkOnBaseline();
  };

  // Each invocation in a folder of its own: one that ends scrubs (or removes) its whole folder while another still writes.
  const onTarget = await runner.run({
    ...common,
    runId: request.runId,
    environments: [target],
    outputDir: path.join(request.outputDir, 'target'),
    artifactRoot: request.outputDir,
    blobFile: blobFile(request.outputDir, 'target'),
    deadlineMs: request.deadlineMs,
    onAttempt,
  });
  while (checking) await checking;
  return merge(onTarget, reports);
}

/** One report of several invocations: the target's timings, everyone's results and attempts, the first fault. */
function merge(onTarget: RunReport, onBaseline: readonly RunReport[]): RunReport {
  const all = [onTarget, ...onBaseline];
  const tally = new AttemptTally();
  for (const report of all) tally.addAll(report.attempts);
  return {
    outcome: all.find((r) => r.outcome.kind !== 'completed')?.outcome ?? onTarget.outcome,
    results: all.flatMap((r) => r.results),
    diagnostics: all.flatMap((r) => r.diagnostics),
    attempts: tally.counts(),
    timings: onTarget.timings,
  };
}

/** A report of no flows: for a run whose target could not be reached, or an invocation that never ran. */
export function emptyReport(outcome: RunnerOutcome): RunReport {
  return { outcome, results: [], diagnostics: [], attempts: {}, timings: {} };
}
