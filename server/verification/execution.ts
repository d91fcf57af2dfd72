import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config, EnvironmentConfig } from '../config/config.ts';
import { describeError, ServiceFault } from '../errors.ts';
import { checkReachable } from '../runner/reachability.ts';
import type { Runner, RunReport } from '../runner/runner.ts';
import type { RunRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import { judge } from '../verdict/judge.ts';
import type { Reachability, RunnerOutcome, Verdict } from '../verdict/types.ts';
import type { RunObserver } from './observer.ts';
import type { Ending } from './settlement.ts';

/** Why a run was stopped before it ended on its own; the abort reason of its signal. */
export type StopReason =
  | { readonly kind: 'superseded'; readonly by: string }
  | { readonly kind: 'shutdown' }
  /** The service failed mid-run (the store refused a result): the run ends inconclusive. */
  | { readonly kind: 'fault'; readonly error: unknown };

/** A stop reason that reads well where the runner logs it. */
export function stopReason(reason: StopReason): StopReason {
  const text =
    reason.kind === 'superseded' ? `superseded by deployment ${reason.by}` : reason.kind === 'shutdown' ? 'the service is shutting down' : describeError(reason.error);
  return Object.assign(Object.create({ toString: () => text }) as object, reason);
}

type Notify = <H extends keyof RunObserver>(hook: H, ...args: Parameters<NonNullable<RunObserver[H]>>) => void;

export interface ExecutionDeps {
  readonly config: Config;
  readonly store: Pick<Store, 'recordFlowResult'>;
  readonly runner: Runner;
  readonly notify: Notify;
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
  const ended = (verdict?: Verdict) => ({ durationMs: deps.now() - started, ...(verdict && { verdict }) });
  const reachability = new Map<string, Reachability>();
  const diagnostics: string[] = [];
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

    // An unreachable target is judged on reachability alone; running flows against it would only burn the deadline.
    const report: RunReport = reachability.get(target.name)?.reachable
      ? await runner.run({
          runId: run.id,
          environments: envs.filter((env) => reachability.get(env.name)?.reachable),
          outputDir: artifactsFolder(config, run.id),
          deadlineMs: config.runs.deadlineSeconds * 1000,
          signal: controller.signal,
          logger: log,
          ...(run.grep !== undefined && { grep: run.grep }),
          onResult: (result) => {
            if (controller.signal.aborted) return;
            try {
              store.recordFlowResult(run.id, result);
            } catch (err) {
              // Called from the runner's stream: a throw here would be uncaught. Stop the run; it ends inconclusive.
              controller.abort(stopReason({ kind: 'fault', error: err }));
              return;
            }
            notify('flowResult', run, result);
            log.info(
              { flow: result.flow, environment: result.environment, outcome: result.outcome, durationMs: result.durationMs, retries: result.retries },
              'flow result',
            );
          },
        })
      : { outcome: { kind: 'completed' }, results: [], diagnostics: [] };
    diagnostics.push(...report.diagnostics);

    const stop = controller.signal.aborted ? (controller.signal.reason as StopReason) : undefined;
    if (stop?.kind === 'fault') throw stop.error;
    if (stop?.kind === 'superseded') {
      log.info({ reason: stop.kind, durationMs: deps.now() - started }, 'run stopped');
      return {
        record: run,
        ended: { status: 'cancelled', ...ended() },
        run: { id: run.id, end: { status: 'cancelled', note: `superseded by deployment ${stop.by}`, diagnostics } },
        ...(run.deploymentId && { deployment: { id: run.deploymentId, supersededBy: stop.by } }),
      };
    }
    if (stop?.kind === 'shutdown') {
      log.info({ reason: stop.kind, durationMs: deps.now() - started }, 'run stopped');
      // The deployment is left open on purpose: the next start resumes it.
      return {
        record: run,
        ended: { status: 'interrupted', ...ended() },
        run: { id: run.id, end: { status: 'interrupted', note: 'the service shut down during the run', diagnostics } },
      };
    }
    const verdict = judge({
      target: target.name,
      ...(baseline && { baseline: baseline.name }),
      reachability: Object.fromEntries(reachability),
      results: report.results,
      runner: report.outcome,
    });
    log.info({ verdict: verdict.kind, reasons: verdict.reasons, durationMs: deps.now() - started }, 'run finished');
    return done(run, { verdict, outcome: report.outcome, reachability, diagnostics }, ended(verdict));
  } catch (err) {
    const error = describeError(err);
    log.error({ err: error }, 'the service failed during the run: it ends inconclusive');
    const verdict: Verdict = { kind: 'inconclusive', cause: 'service', reasons: [`the service failed during the run, not the deploy: ${error}`] };
    return done(
      run,
      { verdict, outcome: { kind: 'fault', reason: error }, reachability, diagnostics: [...diagnostics, `service error: ${error}`] },
      ended(verdict),
    );
  }
}

function done(
  run: RunRecord,
  end: { verdict: Verdict; outcome: RunnerOutcome; reachability: Map<string, Reachability>; diagnostics: string[] },
  ended: { durationMs: number; verdict?: Verdict },
): Ending {
  return {
    record: run,
    ended: { status: 'done', ...ended },
    run: {
      id: run.id,
      end: { status: 'done', verdict: end.verdict, outcome: end.outcome, reachability: Object.fromEntries(end.reachability), diagnostics: end.diagnostics },
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
