import { EventEmitter, once } from 'node:events';
import type { Logger } from 'pino';
import type { Config, EnvironmentConfig } from '../config/config.ts';
import { IdempotencyConflict, UnknownEnvironment } from '../errors.ts';
import type { Runner } from '../runner/runner.ts';
import type { DeploymentRecord, RunRecord, RunTrigger, RunWithResults } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import type { Verdict } from '../verdict/types.ts';
import { execute, stopReason } from './execution.ts';
import { notifier, type RunObserver } from './observer.ts';
import { createSettler, type SettlerDeps } from './settlement.ts';

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
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
  /** How endings the store refused are retried; real timers by default. */
  readonly retry?: Pick<SettlerDeps, 'timers' | 'backoff'>;
}

/** Deploys go first: a verdict someone waits on beats a routine check. */
const PRIORITY: Record<RunTrigger, number> = { deploy: 0, manual: 1, schedule: 2 };

interface Active {
  readonly controller: AbortController;
  readonly deploymentId: string | undefined;
  readonly done: Promise<void>;
}

export function createVerifier(deps: VerifierDeps): Verifier {
  const { config, store, runner, logger } = deps;
  const now = deps.now ?? Date.now;
  const notify = notifier(deps.observers ?? [], logger);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const queue: RunRecord[] = [];
  const active = new Map<string, Active>();
  let stopping = false;

  const settler = createSettler({
    store,
    logger,
    ...deps.retry,
    landed(ending, changed) {
      if (ending.record && ending.given && changed.deployment) notify('verdictGiven', ending.record, ending.given);
      if (ending.record && ending.ended && changed.run) notify('runFinished', ending.record, ending.ended);
      if (ending.run) events.emit(`run:${ending.run.id}`);
      if (ending.deployment) {
        const deployment = changed.deployment ? store.getDeployment(ending.deployment.id) : undefined;
        if (deployment) notify('deploymentFinished', deployment);
        events.emit(`done:${ending.deployment.id}`);
      }
    },
    recovered: () => pump(),
    probe: () => store.probeWrite(),
  });

  /** Behind every queued run of the same or higher priority, ahead of the rest. */
  function enqueue(run: RunRecord): void {
    const at = queue.findIndex((queued) => PRIORITY[queued.trigger] > PRIORITY[run.trigger]);
    if (at === -1) queue.push(run);
    else queue.splice(at, 0, run);
  }

  /** Starts queued runs while there are free slots and the store takes writes. */
  function pump(): void {
    while (!stopping && !settler.holding && active.size < config.runs.concurrency && queue.length > 0) {
      const run = queue.shift()!;
      try {
        // Claimed by this replica: its name goes on the run (`replica`) for the API and pages.
        store.markRunRunning(run.id, config.server.instanceId);
      } catch (err) {
        // Nothing started: the run waits at the head of the queue until the store takes writes again.
        queue.unshift(run);
        settler.refused(err);
        return;
      }
      const controller = new AbortController();
      const log = logger.child({ runId: run.id, deploymentId: run.deploymentId, target: run.target });
      log.info({ environments: run.environments, trigger: run.trigger, schedule: run.schedule }, 'run started');
      notify('runStarted', run);
      const done = execute({ config, store, runner, notify, now, decide }, run, controller, log)
        .then((ending) => settler.settle(ending))
        .finally(() => {
          active.delete(run.id);
          pump();
        });
      active.set(run.id, { controller, deploymentId: run.deploymentId, done });
    }
  }

  /** A deploy's verdict given while its run goes on: stored (or held) and announced like any ending. */
  function decide(run: RunRecord, verdict: Verdict): void {
    if (run.deploymentId) settler.settle({ record: run, given: verdict, deployment: { id: run.deploymentId, verdict } });
  }

  function finishDeployment(id: string, supersededBy: string): void {
    settler.settle({ deployment: { id, supersededBy } });
  }

  /** Cancels every open deployment of the environment except `keep`. */
  function supersedeOlder(environmentName: string, keep: string): void {
    for (const older of store.openDeployments()) {
      if (older.environment !== environmentName || older.id === keep) continue;
      logger.info({ deploymentId: older.id, supersededBy: keep }, 'deployment superseded');
      const running = [...active.entries()].find(([, a]) => a.deploymentId === older.id);
      if (running) {
        running[1].controller.abort(stopReason({ kind: 'superseded', by: keep }));
        continue;
      }
      const queued = queue.filter((q) => q.deploymentId === older.id);
      for (const run of queued) queue.splice(queue.indexOf(run), 1);
      // Queued runs never started, so observers hear only of the deployment.
      for (const run of queued) settler.settle({ run: { id: run.id, end: { status: 'cancelled', note: `superseded by deployment ${keep}` } } });
      finishDeployment(older.id, keep);
    }
  }

  function resume(deployment: DeploymentRecord, runs: RunRecord[]): void {
    const interrupted = runs.filter((r) => r.status === 'interrupted').length;
    if (interrupted > config.runs.resumeAttempts) {
      const reasons = [`the verification was interrupted ${interrupted} times (the service crashed or was restarted) and was not run again`];
      settler.settle({ deployment: { id: deployment.id, verdict: { kind: 'inconclusive', cause: 'service', reasons } } });
      return;
    }
    const environments = deployment.baseline ? [deployment.environment, deployment.baseline] : [deployment.environment];
    enqueue(store.createRun({ deploymentId: deployment.id, trigger: 'deploy', target: deployment.environment, environments }));
  }

  /** The environment a request names; a `Map` lookup, so no name reaches Object.prototype. */
  function requested(name: string): EnvironmentConfig {
    const env = config.environments.get(name);
    if (!env) throw new UnknownEnvironment(name, [...config.environments.keys()]);
    return env;
  }

  /** A write through the store: if the store had been refusing, it is back. */
  function recorded<T>(write: () => T): T {
    const result = write();
    settler.wrote();
    return result;
  }

  return {
    submit(request) {
      const env = requested(request.environment);
      const service = request.service ?? config.service;
      const { deployment, run, created } = recorded(() => store.createDeployment({
        ...(request.deploymentId !== undefined && { idempotencyKey: request.deploymentId }),
        service,
        environment: env.name,
        ...(env.baseline !== undefined && { baseline: env.baseline }),
        version: request.version,
      }));
      if (!created) {
        if (deployment.environment !== env.name || deployment.version !== request.version || deployment.service !== service) {
          throw new IdempotencyConflict(
            `deploymentId '${request.deploymentId}' was already used for ${deployment.service} ${deployment.version} on ${deployment.environment}`,
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
      const run = recorded(() =>
        store.createRun({
          trigger: request.trigger,
          target: env.name,
          environments,
          ...(request.schedule !== undefined && { schedule: request.schedule }),
          ...(request.grep !== undefined && { grep: request.grep }),
        }),
      );
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
          finishDeployment(deployment.id, newest);
          continue;
        }
        if (queue.some((q) => q.deploymentId === deployment.id)) continue;
        resume(deployment, store.runsOfDeployment(deployment.id));
      }
      pump();
    },

    async shutdown() {
      stopping = true;
      for (const [, a] of active) a.controller.abort(stopReason({ kind: 'shutdown' }));
      await Promise.all([...active.values()].map((a) => a.done));
      const unstored = settler.stop();
      if (unstored > 0) logger.warn({ unstored }, 'the store still refuses writes: runs left open are resumed at the next start');
    },

    get activeRuns() {
      return active.size;
    },
  };
}

