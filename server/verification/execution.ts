import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config, EnvironmentConfig } from '../config/config.ts';
import { describeError, ServiceFault } from '../errors.ts';
import { checkReachable } from '../runner/reachability.ts';
import type { Runner, RunReport } from '../runner/runner.ts';
import type { RunRecord } from './records.ts';
import type { Store } from '../store/store.ts';
import { confirmedFail, judge } from '../verdict/judge.ts';
import type { AttemptCounts, FlowResult, Reachability, RunnerOutcome, RunTimings, Verdict } from '../verdict/types.ts';
import { emptyReport, runFlows } from './flows.ts';
import type { RunObserver } from './observer.ts';
import type { Ending } from './settlement.ts';

/** Why a run was stopped before it ended on its own; the abort reason of its signal. */
export type StopReason =
  | { readonly kind: 'superseded'; readonly by: string }
  | { readonly kind: 'shutdown' }
  /** The deploy's `fail` was decided at its first confirmed regression (`runs.failFast`): the rest is not needed. */
  | { readonly kind: 'decided' }
  /** The service failed mid-run (the store refused a result): the run ends inconclusive. */
  | { readonly kind: 'fault'; readonly error: unknown }
  /**
   * This replica lost the run's lease (it could not renew it in time, and
   * another replica took the run back): stop, and store nothing, since the
   * run is no longer this replica's to end.
   */
  | { readonly kind: 'lost' };

/** A stop reason that reads well where the runner logs it. */
export function stopReason(reason: StopReason): StopReason {
  const text =
    reason.kind === 'superseded'
      ? `superseded by deployment ${reason.by}`
      : reason.kind === 'shutdown'
        ? 'the service is shutting down'
        : reason.kind === 'decided'
          ? 'the verdict was decided at the first confirmed regression (runs.failFast)'
          : reason.kind === 'lost'
            ? "this replica lost the run's lease; another replica verifies the deployment again"
            : describeError(reason.error);
  return Object.assign(Object.create({ toString: () => text }) as object, reason);
}

type Notify = <H extends keyof RunObserver>(hook: H, ...args: Parameters<NonNullable<RunObserver[H]>>) => void;

export interface ExecutionDeps {
  readonly config: Config;
  readonly store: Pick<Store, 'recordFlowResult'>;
  readonly runner: Runner;
  readonly notify: Notify;
  /**
   * Stores and announces a deploy's verdict before its run has ended (a
   * confirmed regression); the run's own ending follows. Never throws.
   */
  readonly decide: (run: RunRecord, verdict: Verdict) => void;
  /** Milliseconds since the epoch, for durations. */
  readonly now: () => number;
}

/**
 * Runs one verification that the store has marked running and returns how it
 * ended; never throws. Any failure of the service's own (a vanished
 * environment, an artifacts folder it cannot make, a runner that throws, a
 * store that refuses a result) ends the run inconclusive with cause
 * `service`, the error and its causes in the reasons and the diagnostics.
 */
export async function execute(deps: ExecutionDeps, run: RunRecord, controller: AbortController, log: Logger): Promise<Ending> {
  const { config, store, runner, notify } = deps;
  const started = deps.now();
  const since = () => deps.now() - started;
  const timings: { -readonly [K in keyof RunTimings]: RunTimings[K] } = {};
  const ended = (verdict?: Verdict, attempts?: AttemptCounts) => ({
    durationMs: since(),
    ...(verdict && { verdict }),
    ...(attempts && { attempts }),
  });
  const reachability = new Map<string, Reachability>();
  const diagnostics: string[] = [];
  const results: FlowResult[] = [];
  let report: RunReport | undefined;
  /**
   * Results are written one after another as the runner streams them; a
   * result counts (judged early, announced) only once stored. The run's end
   * waits for the last write.
   */
  let recording = Promise.resolve();
  /** A deploy's fail, given before the run ended: no later event turns it into anything else. */
  let decided: Extract<Verdict, { kind: 'fail' }> | undefined;
  const facts = () => ({ attempts: report?.attempts, timings: { ...report?.timings, ...timings, totalMs: since() } });
  try {
    const envs = run.environments.map((name) => environment(config, name));
    const target = envs[0]!;
    const baseline = envs[1];
    await Promise.all(
      envs.map(async (env) => {
        const headers = Object.fromEntries(Object.entries(env.headers).map(([k, v]) => [k, v.reveal()]));
        reachability.set(env.name, await checkReachable(env.baseURL, headers, config.runs.reachabilityTimeoutSeconds * 1000, controller.signal));
      }),
    );
    timings.reachabilityMs = since();

    const decide = (): void => {
      // Only a deploy is rolled back; a scheduled run completes its report for the flow metrics.
      if (decided || !run.deploymentId || controller.signal.aborted) return;
      const verdict = confirmedFail({ target: target.name, ...(baseline && { baseline: baseline.name }), results });
      if (!verdict) return;
      const rest = config.runs.failFast ? 'the flows not yet finished were cancelled' : 'the flows not yet finished ran on only to complete the report';
      decided = { ...verdict, reasons: [...verdict.reasons, `decided at the first confirmed regression; ${rest}`] };
      timings.verdictMs = since();
      log.info({ verdict: 'fail', failed: decided.failed.map((f) => f.flow), afterMs: timings.verdictMs }, 'regression confirmed: verdict decided');
      deps.decide(run, decided);
      if (config.runs.failFast) controller.abort(stopReason({ kind: 'decided' }));
    };

    // An unreachable target is judged on reachability alone; running flows against it would only burn the deadline.
    const reachableBaseline = baseline && reachability.get(baseline.name)?.reachable ? baseline : undefined;
    report = reachability.get(target.name)?.reachable
      ? await runFlows(runner, {
          runId: run.id,
          target,
          ...(reachableBaseline && { baseline: reachableBaseline }),
          mode: config.runs.baseline,
          outputDir: artifactsFolder(config, run.id),
          deadlineMs: config.runs.deadlineSeconds * 1000,
          signal: controller.signal,
          logger: log,
          now: deps.now,
          ...(run.grep !== undefined && { grep: run.grep }),
          onResult: (result) => {
            recording = recording.then(async () => {
              if (controller.signal.aborted) return;
              try {
                await store.recordFlowResult(run.id, result);
              } catch (err) {
                // The run cannot be trusted without its results: stop it; it ends inconclusive.
                controller.abort(stopReason({ kind: 'fault', error: err }));
                return;
              }
              timings.firstFlowMs ??= since();
              results.push(result);
              notify('flowResult', run, result);
              log.info(
                { flow: result.flow, environment: result.environment, outcome: result.outcome, durationMs: result.durationMs, retries: result.retries },
                'flow result',
              );
              decide();
            });
          },
        })
      : emptyReport({ kind: 'completed' });
    await recording;
    diagnostics.push(...report.diagnostics);

    const stop = controller.signal.aborted ? (controller.signal.reason as StopReason) : undefined;
    if (stop?.kind === 'fault') throw stop.error;
    if (stop?.kind === 'lost') {
      log.warn({ reason: stop.kind, durationMs: since() }, 'run given up: its lease was lost');
      return {};
    }
    if (stop?.kind === 'superseded') {
      log.info({ reason: stop.kind, durationMs: since() }, 'run stopped');
      return {
        record: run,
        ended: { status: 'cancelled', ...ended(undefined, report.attempts) },
        run: { id: run.id, end: { status: 'cancelled', note: `superseded by deployment ${stop.by}`, diagnostics, ...facts() } },
        ...(run.deploymentId && { deployment: { id: run.deploymentId, supersededBy: stop.by } }),
      };
    }
    if (stop?.kind === 'shutdown') {
      log.info({ reason: stop.kind, durationMs: since() }, 'run stopped');
      // The deployment is left open on purpose: the next start resumes it (unless its verdict was already given).
      return {
        record: run,
        ended: { status: 'interrupted', ...ended(undefined, report.attempts) },
        run: { id: run.id, end: { status: 'interrupted', note: 'the service shut down during the run', diagnostics, ...facts() } },
      };
    }
    if (decided) {
      const note =
        stop?.kind === 'decided'
          ? `stopped early (runs.failFast): the verdict was decided at the first confirmed regression, ${stoppedNote(results.length, report.results.length)}`
          : 'the verdict was decided at the first confirmed regression; the run went on to complete the report';
      // The report may have found more regressions since; the verdict given stands either way.
      const complete = stop ? undefined : confirmedFail({ target: target.name, ...(baseline && { baseline: baseline.name }), results });
      const verdict = complete && complete.failed.length > decided.failed.length ? { ...complete, reasons: [...complete.reasons, decided.reasons.at(-1)!] } : decided;
      log.info({ verdict: verdict.kind, durationMs: since() }, 'run finished');
      return {
        record: run,
        ended: { status: 'done', ...ended(verdict, report.attempts), verdictGiven: true },
        run: { id: run.id, end: { status: 'done', verdict, outcome: report.outcome, reachability: Object.fromEntries(reachability), diagnostics, note, ...facts() } },
      };
    }
    const verdict = judge({
      target: target.name,
      ...(baseline && { baseline: baseline.name }),
      reachability: Object.fromEntries(reachability),
      results: report.results,
      runner: report.outcome,
    });
    timings.verdictMs = since();
    log.info({ verdict: verdict.kind, reasons: verdict.reasons, durationMs: since() }, 'run finished');
    return done(run, { verdict, outcome: report.outcome, reachability, diagnostics, ...facts() }, ended(verdict, report.attempts));
  } catch (err) {
    if ((controller.signal.reason as StopReason | undefined)?.kind === 'lost') return {};
    const error = describeError(err);
    log.error({ err: error }, 'the service failed during the run: it ends inconclusive');
    const verdict: Verdict = decided ?? { kind: 'inconclusive', cause: 'service', reasons: [`the service failed during the run, not the deploy: ${error}`] };
    return done(
      run,
      { verdict, outcome: { kind: 'fault', reason: error }, reachability, diagnostics: [...diagnostics, `service error: ${error}`], ...facts() },
      { ...ended(verdict, report?.attempts), ...(decided && { verdictGiven: true }) },
    );
  }
}

/** How far a run got before it stopped early: results stored, and those the stopping runner still sent (not stored). */
function stoppedNote(recorded: number, reported: number): string {
  const late = reported > recorded ? ` (${reported - recorded} more arrived while stopping, not recorded)` : '';
  return `after ${recorded} flow result${recorded === 1 ? '' : 's'}${late}`;
}

function done(
  run: RunRecord,
  end: {
    verdict: Verdict;
    outcome: RunnerOutcome;
    reachability: Map<string, Reachability>;
    diagnostics: string[];
    attempts?: AttemptCounts | undefined;
    timings: RunTimings;
  },
  ended: { durationMs: number; verdict?: Verdict },
): Ending {
  return {
    record: run,
    ended: { status: 'done', ...ended },
    run: {
      id: run.id,
      end: {
        status: 'done',
        verdict: end.verdict,
        outcome: end.outcome,
        reachability: Object.fromEntries(end.reachability),
        diagnostics: end.diagnostics,
        ...(end.attempts && { attempts: end.attempts }),
        timings: end.timings,
      },
    },
    ...(run.deploymentId && { deployment: { id: run.deploymentId, verdict: end.verdict } }),
  };
}

function environment(config: Config, name: string): EnvironmentConfig {
  const env = config.environments.get(name);
  if (!env) throw new ServiceFault(`environment '${name}' vanished from the config since the run was queued`);
  return env;
}

/** Made before the runner starts, so a folder that cannot be made fails the run before any process or temp folder exists. */
function artifactsFolder(config: Config, runId: string): string {
  const dir = path.join(config.storage.artifacts, runId);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new ServiceFault(`cannot create the run's artifacts folder ${dir} (storage.artifacts)`, { cause: err });
  }
  return dir;
}
