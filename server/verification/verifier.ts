import { EventEmitter, once } from 'node:events';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config, EnvironmentConfig } from '../config/config.ts';
import { RequestError } from '../errors.ts';
import type { Runner } from '../runner/runner.ts';
import type { DeploymentRecord, RunRecord, RunTrigger, RunWithResults } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import { checkReachable } from '../runner/reachability.ts';
import { judge } from '../verdict/judge.ts';
import type { Reachability, Verdict } from '../verdict/types.ts';
import { notifier, type RunObserver } from './observer.ts';

export interface DeployRequest {
  readonly environment: string;
  readonly version: string;
  readonly service?: string;
  /** The caller's idempotency key. */
  readonly deploymentId?: string;
}

export interface RunRequest {
  readonly trigger: Exclude<RunTrigger, 'deploy'>;
  /** The environment to check; its baseline runs beside it when it has one. */
  readonly environment: string;
  readonly schedule?: string;
  /** Overrides the suite's grep for this run. */
  readonly grep?: string;
}

export interface Verifier {
  /** Records the deploy and queues its verification; a known key returns the deployment it started. */
  submit(request: DeployRequest): { deployment: DeploymentRecord; created: boolean };
  /**
   * Queues a run that is not a deploy (scheduled, by hand): judged the same
   * way, but behind every deploy in the queue. `finished` resolves when it
   * ends, however it ends.
   */
  submitRun(request: RunRequest): { run: RunRecord; finished: Promise<RunWithResults> };
  /** Resolves with the deployment once it is done, or as it stands when `timeoutMs` runs out or `signal` aborts. */
  waitUntilDone(id: string, timeoutMs: number, signal?: AbortSignal): Promise<DeploymentRecord>;
  /** Settles what an earlier incarnation left open, then starts queued work. Call once, before serving. */
  recover(): void;
  /** Stops taking work and cancels running verifications, leaving them to resume at the next start. */
  shutdown(): Promise<void>;
  readonly activeRuns: number;
}

export interface VerifierDeps {
  readonly config: Config;
  readonly store: Store;
  readonly runner: Runner;
  readonly logger: Logger;
  readonly observers?: readonly RunObserver[];
}

/** Deploys go first: a verdict someone waits on beats a routine check. */
const PRIORITY: Record<RunTrigger, number> = { deploy: 0, manual: 1, schedule: 2 };

type StopReason = { readonly kind: 'superseded'; readonly by: string } | { readonly kind: 'shutdown' };

interface Active {
  readonly controller: AbortController;
  readonly deploymentId: string | undefined;
  readonly done: Promise<void>;
}

export function createVerifier(deps: VerifierDeps): Verifier {
  const { config, store, runner, logger } = deps;
  const notify = notifier(deps.observers ?? [], logger);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const queue: RunRecord[] = [];
  const active = new Map<string, Active>();
  let stopping = false;

  function environment(name: string): EnvironmentConfig {
    const env = config.environments.get(name);
    if (!env) throw new Error(`environment '${name}' vanished from the config`);
    return env;
  }

  /** Behind every queued run of the same or higher priority, ahead of the rest. */
  function enqueue(run: RunRecord): void {
    const at = queue.findIndex((queued) => PRIORITY[queued.trigger] > PRIORITY[run.trigger]);
    if (at === -1) queue.push(run);
    else queue.splice(at, 0, run);
  }

  function pump(): void {
    while (!stopping && active.size < config.runs.concurrency && queue.length > 0) {
      const run = queue.shift()!;
      const controller = new AbortController();
      const done = execute(run, controller.signal)
        .catch((err) => logger.error({ err, runId: run.id }, 'verification crashed'))
        .finally(() => {
          active.delete(run.id);
          events.emit(`run:${run.id}`);
          pump();
        });
      active.set(run.id, { controller, deploymentId: run.deploymentId, done });
    }
  }

  async function execute(run: RunRecord, signal: AbortSignal): Promise<void> {
    const log = logger.child({ runId: run.id, deploymentId: run.deploymentId, target: run.target });
    store.markRunRunning(run.id);
    if (run.deploymentId) store.markDeploymentRunning(run.deploymentId);
    const envs = run.environments.map(environment);
    const target = envs[0]!;
    const baseline = envs[1];
    log.info({ environments: run.environments, trigger: run.trigger, schedule: run.schedule }, 'run started');
    const started = Date.now();
    notify('runStarted', run);

    const reachability: Record<string, Reachability> = {};
    await Promise.all(
      envs.map(async (env) => {
        const headers = Object.fromEntries(Object.entries(env.headers).map(([k, v]) => [k, v.reveal()]));
        reachability[env.name] = await checkReachable(env.baseURL, headers, config.runs.reachabilityTimeoutSeconds * 1000, signal);
      }),
    );

    const reachable = envs.filter((env) => reachability[env.name]?.reachable);
    // An unreachable target is judged on reachability alone; running flows against it would only burn the deadline.
    const report = reachability[target.name]?.reachable
      ? await runner.run({
          runId: run.id,
          environments: reachable,
          outputDir: path.join(config.storage.artifacts, run.id),
          deadlineMs: config.runs.deadlineSeconds * 1000,
          signal,
          logger: log,
          ...(run.grep !== undefined && { grep: run.grep }),
          onResult: (result) => {
            store.recordFlowResult(run.id, result);
            notify('flowResult', run, result);
            log.info(
              { flow: result.flow, environment: result.environment, outcome: result.outcome, durationMs: result.durationMs, retries: result.retries },
              'flow result',
            );
          },
        })
      : { outcome: { kind: 'completed' } as const, results: [], diagnostics: [] };

    const stop = signal.aborted ? (signal.reason as StopReason) : undefined;
    if (stop) {
      finishStopped(run, stop, report.diagnostics);
      notify('runFinished', run, { status: stop.kind === 'superseded' ? 'cancelled' : 'interrupted', durationMs: Date.now() - started });
      log.info({ reason: stop.kind, durationMs: Date.now() - started }, 'run stopped');
      return;
    }
    const verdict = judge({
      target: target.name,
      ...(baseline && { baseline: baseline.name }),
      reachability,
      results: report.results,
      runner: report.outcome,
    });
    store.finishRun(run.id, { status: 'done', verdict, outcome: report.outcome, reachability, diagnostics: report.diagnostics });
    notify('runFinished', run, { status: 'done', verdict, durationMs: Date.now() - started });
    if (run.deploymentId) finishDeployment(run.deploymentId, verdict);
    log.info({ verdict: verdict.kind, reasons: verdict.reasons, durationMs: Date.now() - started }, 'run finished');
  }

  function finishStopped(run: RunRecord, stop: StopReason, diagnostics: readonly string[]): void {
    if (stop.kind === 'superseded') {
      store.finishRun(run.id, { status: 'cancelled', note: `superseded by deployment ${stop.by}`, diagnostics });
      if (run.deploymentId) finishDeployment(run.deploymentId, undefined, stop.by);
    } else {
      // Left open on purpose: the next start resumes the deployment.
      store.finishRun(run.id, { status: 'interrupted', note: 'the service shut down during the run', diagnostics });
    }
  }

  function finishDeployment(id: string, verdict: Verdict | undefined, supersededBy?: string): void {
    store.finishDeployment(id, verdict, supersededBy);
    const deployment = store.getDeployment(id);
    if (deployment) notify('deploymentFinished', deployment);
    events.emit(`done:${id}`);
  }

  /** Cancels every open deployment of the environment except `keep`. */
  function supersedeOlder(environmentName: string, keep: string): void {
    for (const older of store.openDeployments()) {
      if (older.environment !== environmentName || older.id === keep) continue;
      logger.info({ deploymentId: older.id, supersededBy: keep }, 'deployment superseded');
      const running = [...active.entries()].find(([, a]) => a.deploymentId === older.id);
      if (running) {
        running[1].controller.abort({ kind: 'superseded', by: keep } satisfies StopReason);
        continue;
      }
      for (let i = queue.length - 1; i >= 0; i--) {
        const queued = queue[i]!;
        if (queued.deploymentId !== older.id) continue;
        queue.splice(i, 1);
        store.finishRun(queued.id, { status: 'cancelled', note: `superseded by deployment ${keep}` });
        events.emit(`run:${queued.id}`);
      }
      finishDeployment(older.id, undefined, keep);
    }
  }

  function resume(deployment: DeploymentRecord, runs: RunRecord[]): void {
    const interrupted = runs.filter((r) => r.status === 'interrupted').length;
    if (interrupted > config.runs.resumeAttempts) {
      finishDeployment(deployment.id, {
        kind: 'inconclusive',
        cause: 'service',
        reasons: [`the verification was interrupted ${interrupted} times (the service crashed or was restarted) and was not run again`],
      });
      return;
    }
    const environments = deployment.baseline ? [deployment.environment, deployment.baseline] : [deployment.environment];
    enqueue(store.createRun({ deploymentId: deployment.id, trigger: 'deploy', target: deployment.environment, environments }));
  }

  /** The environment a request names, or a 400 listing the configured ones. */
  function requested(name: string): EnvironmentConfig {
    const env = config.environments.get(name);
    if (!env) {
      throw new RequestError(
        400,
        'unknown_environment',
        `environment '${name}' is not in the config (known: ${[...config.environments.keys()].join(', ')})`,
        'environment',
      );
    }
    return env;
  }

  return {
    submit(request) {
      const env = requested(request.environment);
      const service = request.service ?? config.service;
      const { deployment, run, created } = store.createDeployment({
        ...(request.deploymentId !== undefined && { idempotencyKey: request.deploymentId }),
        service,
        environment: env.name,
        ...(env.baseline !== undefined && { baseline: env.baseline }),
        version: request.version,
      });
      if (!created) {
        if (deployment.environment !== env.name || deployment.version !== request.version || deployment.service !== service) {
          throw new RequestError(
            409,
            'conflict',
            `deploymentId '${request.deploymentId}' was already used for ${deployment.service} ${deployment.version} on ${deployment.environment}`,
            'deploymentId',
          );
        }
        return { deployment, created };
      }
      logger.info({ deploymentId: deployment.id, environment: env.name, version: request.version, service }, 'deployment received');
      notify('deploymentReceived', deployment);
      supersedeOlder(env.name, deployment.id);
      if (run) enqueue(run);
      pump();
      return { deployment, created };
    },

    submitRun(request) {
      const env = requested(request.environment);
      const environments = env.baseline ? [env.name, env.baseline] : [env.name];
      const run = store.createRun({
        trigger: request.trigger,
        target: request.environment,
        environments,
        ...(request.schedule !== undefined && { schedule: request.schedule }),
        ...(request.grep !== undefined && { grep: request.grep }),
      });
      const finished = once(events, `run:${run.id}`).then(() => store.getRun(run.id)!);
      enqueue(run);
      pump();
      return { run, finished };
    },

    async waitUntilDone(id, timeoutMs, signal) {
      const current = store.getDeployment(id);
      if (!current || current.status === 'done' || timeoutMs <= 0) return current!;
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        await once(events, `done:${id}`, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      } catch {
        // Timed out or the client went away: answer with the deployment as it stands.
      }
      return store.getDeployment(id)!;
    },

    recover() {
      const killed = runner.sweep();
      if (killed > 0) logger.warn({ killed }, 'killed runner processes left by an earlier start');
      for (const run of store.openRuns()) {
        if (run.status === 'running') {
          store.finishRun(run.id, {
            status: 'interrupted',
            note: 'the service stopped while this run was in progress (crash, kill -9 or restart)',
          });
          logger.warn({ runId: run.id, deploymentId: run.deploymentId }, 'run was interrupted by a stop of the service');
        } else if (!run.deploymentId) {
          // A routine check is not worth resuming: its schedule comes round again.
          store.finishRun(run.id, { status: 'cancelled', note: 'the service restarted before this run began' });
        } else if (store.getDeployment(run.deploymentId)?.status !== 'done') {
          enqueue(run);
        } else store.finishRun(run.id, { status: 'cancelled', note: 'its deployment was already done' });
      }
      const open = store.openDeployments();
      const newestPerEnvironment = new Map(open.map((d) => [d.environment, d.id]));
      for (const deployment of open) {
        const newest = newestPerEnvironment.get(deployment.environment)!;
        if (newest !== deployment.id) {
          for (const r of queue.filter((q) => q.deploymentId === deployment.id)) {
            queue.splice(queue.indexOf(r), 1);
            store.finishRun(r.id, { status: 'cancelled', note: `superseded by deployment ${newest}` });
          }
          finishDeployment(deployment.id, undefined, newest);
          continue;
        }
        if (queue.some((q) => q.deploymentId === deployment.id)) continue;
        resume(deployment, store.runsOfDeployment(deployment.id));
      }
      pump();
    },

    async shutdown() {
      stopping = true;
      for (const [, a] of active) a.controller.abort({ kind: 'shutdown' } satisfies StopReason);
      await Promise.all([...active.values()].map((a) => a.done));
    },

    get activeRuns() {
      return active.size;
    },
  };
}

