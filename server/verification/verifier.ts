import { EventEmitter, once } from 'node:events';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config, EnvironmentConfig } from '../config/config.ts';
import { RequestError } from '../errors.ts';
import type { Runner } from '../runner/runner.ts';
import type { DeploymentRecord, RunRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import { checkReachable } from '../runner/reachability.ts';
import { judge } from '../verdict/judge.ts';
import type { Reachability, Verdict } from '../verdict/types.ts';

export interface DeployRequest {
  readonly environment: string;
  readonly version: string;
  readonly service?: string;
  /** The caller's idempotency key. */
  readonly deploymentId?: string;
}

export interface Verifier {
  /** Records the deploy and queues its verification; a known key returns the deployment it started. */
  submit(request: DeployRequest): { deployment: DeploymentRecord; created: boolean };
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
}

type StopReason = { readonly kind: 'superseded'; readonly by: string } | { readonly kind: 'shutdown' };

interface Active {
  readonly controller: AbortController;
  readonly deploymentId: string | undefined;
  readonly done: Promise<void>;
}

export function createVerifier(deps: VerifierDeps): Verifier {
  const { config, store, runner, logger } = deps;
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const queue: RunRecord[] = [];
  const active = new Map<string, Active>();
  let stopping = false;

  function environment(name: string): EnvironmentConfig {
    const env = config.environments[name];
    if (!env) throw new Error(`environment '${name}' vanished from the config`);
    return env;
  }

  function pump(): void {
    while (!stopping && active.size < config.runs.concurrency && queue.length > 0) {
      const run = queue.shift()!;
      const controller = new AbortController();
      const done = execute(run, controller.signal)
        .catch((err) => logger.error({ err, runId: run.id }, 'verification crashed'))
        .finally(() => {
          active.delete(run.id);
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
    log.info({ environments: run.environments, trigger: run.trigger }, 'run started');
    const started = Date.now();

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
          onResult: (result) => {
            store.recordFlowResult(run.id, result);
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
    queue.push(store.createRun({ deploymentId: deployment.id, trigger: 'deploy', target: deployment.environment, environments }));
  }

  return {
    submit(request) {
      const env = config.environments[request.environment];
      if (!env) {
        throw new RequestError(
          400,
          'unknown_environment',
          `environment '${request.environment}' is not in the config (known: ${Object.keys(config.environments).join(', ')})`,
          'environment',
        );
      }
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
      supersedeOlder(env.name, deployment.id);
      if (run) queue.push(run);
      pump();
      return { deployment, created };
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
        } else if (!run.deploymentId || store.getDeployment(run.deploymentId)?.status !== 'done') {
          queue.push(run);
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

