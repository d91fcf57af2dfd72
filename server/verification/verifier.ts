import { EventEmitter, once } from 'node:events';
import type { Logger } from 'pino';
import type { Config, EnvironmentConfig } from '../config/config.ts';
import { describeError, IdempotencyConflict, UnknownEnvironment } from '../errors.ts';
import type { Runner } from '../runner/runner.ts';
import type { DeploymentRecord, RunRecord, RunTrigger, RunWithResults } from './records.ts';
import type { Store } from '../store/store.ts';
import type { Verdict } from '../verdict/types.ts';
import { execute, stopReason } from './execution.ts';
import { notifier, type RunObserver } from './observer.ts';
import { createClaimLoop } from './claims.ts';
import { createLeaseKeeper } from './leases.ts';
import { createRecovery } from './recovery.ts';
import { createSettler, type Ending, type SettlerDeps } from './settlement.ts';

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
  submit(request: DeployRequest): Promise<{ deployment: DeploymentRecord; created: boolean }>;
  /**
   * Queues a run that is not a deploy (scheduled, by hand): judged the same
   * way, but behind every deploy in the queue. `finished` resolves when it
   * ends, however it ends.
   */
  submitRun(request: RunRequest): Promise<{ run: RunRecord; finished: Promise<RunWithResults> }>;
  /**
   * Resolves with the deployment once it is done, or as it stands when
   * `timeoutMs` runs out or `signal` aborts; undefined for an unknown id.
   * Works for a deployment another replica verifies (it watches the store).
   */
  waitUntilDone(id: string, timeoutMs: number, signal?: AbortSignal): Promise<DeploymentRecord | undefined>;
  /** Settles what an earlier incarnation left open, then starts queued work. Call once, before serving. */
  recover(): Promise<void>;
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

/** How often a waiter re-reads what it waits for, in case another replica ends it. */
const WAIT_POLL_MS = 500;

interface Active {
  readonly controller: AbortController;
  readonly deploymentId: string | undefined;
  readonly done: Promise<void>;
}

/**
 * Verifies deploys and runs checks, as one of any number of replicas sharing
 * the store: work is queued in the store and claimed by whichever replica has
 * a free slot (`claims.ts`), held by a renewed lease (`leases.ts`), and taken
 * over when its replica dies (`recovery.ts`). Waiting callers and observers
 * hear of an ending only once the store has it.
 */
export function createVerifier(deps: VerifierDeps): Verifier {
  const { config, store, runner, logger } = deps;
  const now = deps.now ?? Date.now;
  const notify = notifier(deps.observers ?? [], logger);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const active = new Map<string, Active>();
  let stopping = false;

  const settler = createSettler({
    store,
    logger,
    ...deps.retry,
    async landed(ending, changed) {
      if (ending.record && ending.given && changed.deployment) notify('verdictGiven', ending.record, ending.given);
      if (ending.record && ending.ended && changed.run) notify('runFinished', ending.record, ending.ended);
      if (ending.run) events.emit(`run:${ending.run.id}`);
      if (!ending.deployment) return;
      const id = ending.deployment.id;
      try {
        const deployment = changed.deployment ? await store.getDeployment(id) : undefined;
        if (deployment) notify('deploymentFinished', deployment);
      } catch (err) {
        logger.warn({ err: describeError(err), deploymentId: id }, 'could not read the finished deployment back to announce it');
      } finally {
        events.emit(`done:${id}`);
      }
    },
    recovered: () => claims.wake(),
    probe: () => store.probeWrite(),
  });

  const claims = createClaimLoop({
    store,
    replica: config.server.instanceId,
    leaseMs: config.runs.leaseSeconds * 1000,
    freeSlots: () => (stopping ? 0 : config.runs.concurrency - active.size),
    holding: () => settler.holding,
    refused: (err) => settler.refused(err),
    start: startRun,
    logger,
  });
  const leases = createLeaseKeeper({
    store,
    replica: config.server.instanceId,
    leaseMs: config.runs.leaseSeconds * 1000,
    held: () => [...active].map(([runId, a]) => ({ runId, controller: a.controller })),
    logger,
  });
  const recovery = createRecovery({ config, store, settler, logger, queued: () => claims.wake() });

  /** Runs a run this replica claimed; registered at once so the claim loop counts its slot. */
  function startRun(run: RunRecord): void {
    const controller = new AbortController();
    const log = logger.child({ runId: run.id, deploymentId: run.deploymentId, target: run.target });
    const done = (async (): Promise<Ending> => {
      // Claimed just as a newer deploy superseded it elsewhere: nothing to verify.
      const deployment = run.deploymentId ? await store.getDeployment(run.deploymentId) : undefined;
      if (deployment?.status === 'done') return { run: { id: run.id, end: { status: 'cancelled', note: 'its deployment was already done' } } };
      log.info({ environments: run.environments, trigger: run.trigger, schedule: run.schedule }, 'run started');
      notify('runStarted', run);
      return execute({ config, store, runner, notify, now, decide }, run, controller, log);
    })()
      .catch((err: unknown): Ending => {
        // Only the deployment read can get here (execute never throws): the run stays claimed and its lease lapses.
        log.error({ err: describeError(err) }, 'could not start the claimed run');
        return {};
      })
      .then((ending) => settler.settle(ending))
      .finally(() => {
        active.delete(run.id);
        claims.wake();
      });
    active.set(run.id, { controller, deploymentId: run.deploymentId, done });
  }

  /** A deploy's verdict given while its run goes on: stored (or held) and announced like any ending. */
  function decide(run: RunRecord, verdict: Verdict): void {
    if (run.deploymentId) settler.settle({ record: run, given: verdict, deployment: { id: run.deploymentId, verdict } });
  }

  /**
   * Cancels every open deployment of the environment created before `keep`,
   * wherever it runs: here by aborting its run, on another replica through
   * the store (its lease renewal sees the deployment done within seconds).
   * Newer ones are left alone: two deploys racing on two replicas must not
   * cancel each other.
   */
  async function supersedeOlder(keep: DeploymentRecord): Promise<void> {
    for (const older of await store.openDeployments()) {
      if (older.environment !== keep.environment || older.id === keep.id || !isBefore(older, keep)) continue;
      logger.info({ deploymentId: older.id, supersededBy: keep.id }, 'deployment superseded');
      const running = [...active.values()].find((a) => a.deploymentId === older.id);
      if (running) {
        running.controller.abort(stopReason({ kind: 'superseded', by: keep.id }));
        continue;
      }
      // A queued run is cancelled with its deployment, in one transaction, so the deployment is never
      // seen open without a run (a sweeper would resume it). A run going on elsewhere is left to its
      // replica, which sees the deployment done at its next lease renewal and ends the run itself.
      const queued = (await store.runsOfDeployment(older.id)).find((r) => r.status === 'queued');
      settler.settle({
        ...(queued && { run: { id: queued.id, end: { status: 'cancelled', note: `superseded by deployment ${keep.id}` } } }),
        deployment: { id: older.id, supersededBy: keep.id },
      });
    }
  }

  /** The environment a request names; a `Map` lookup, so no name reaches Object.prototype. */
  function requested(name: string): EnvironmentConfig {
    const env = config.environments.get(name);
    if (!env) throw new UnknownEnvironment(name, [...config.environments.keys()]);
    return env;
  }

  /** A write through the store: if the store had been refusing, it is back. */
  async function recorded<T>(write: () => Promise<T>): Promise<T> {
    const result = await write();
    settler.wrote();
    return result;
  }

  /** Resolves when `isDone` holds for what `read` returns, `event` fires here, or time runs out; with the last read. */
  async function watch<T>(read: () => Promise<T | undefined>, isDone: (value: T) => boolean, event: string, timeoutMs: number, signal?: AbortSignal): Promise<T | undefined> {
    const deadline = now() + timeoutMs;
    let current = await read();
    while (current !== undefined && !isDone(current) && !signal?.aborted && now() < deadline) {
      const wait = AbortSignal.any([AbortSignal.timeout(Math.min(WAIT_POLL_MS, Math.max(1, deadline - now()))), ...(signal ? [signal] : [])]);
      try {
        await once(events, event, { signal: wait });
      } catch {
        // Polled: another replica may have ended it; or timed out, or the caller went away.
      }
      current = (await read()) ?? current;
    }
    return current;
  }

  return {
    async submit(request) {
      const env = requested(request.environment);
      const service = request.service ?? config.service;
      const { deployment, created } = await recorded(() =>
        store.createDeployment({
          ...(request.deploymentId !== undefined && { idempotencyKey: request.deploymentId }),
          service,
          environment: env.name,
          ...(env.baseline !== undefined && { baseline: env.baseline }),
          version: request.version,
        }),
      );
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
      await supersedeOlder(deployment);
      claims.wake();
      return { deployment, created };
    },

    async submitRun(request) {
      const env = requested(request.environment);
      const environments = env.baseline ? [env.name, env.baseline] : [env.name];
      const run = await recorded(async () => {
        const created = await store.createRun({
          trigger: request.trigger,
          target: env.name,
          environments,
          ...(request.schedule !== undefined && { schedule: request.schedule }),
          ...(request.grep !== undefined && { grep: request.grep }),
        });
        // Only a deployment's run can conflict with another open run.
        if (!created) throw new Error('the store refused a run that belongs to no deployment');
        return created;
      });
      claims.wake();
      const finished = watch(() => store.getRun(run.id), (r) => r.status !== 'queued' && r.status !== 'running', `run:${run.id}`, Number.MAX_SAFE_INTEGER).then(
        (r) => r!,
      );
      return { run, finished };
    },

    waitUntilDone(id, timeoutMs, signal) {
      return watch(() => store.getDeployment(id), (d) => d.status === 'done', `done:${id}`, Math.max(0, timeoutMs), signal);
    },

    async recover() {
      const killed = runner.sweep();
      if (killed > 0) logger.warn({ killed }, 'killed runner processes left by an earlier start');
      await recovery.atStart();
      claims.start();
      leases.start();
      recovery.start();
    },

    async shutdown() {
      stopping = true;
      await claims.stop();
      await recovery.stop();
      for (const [, a] of active) a.controller.abort(stopReason({ kind: 'shutdown' }));
      await Promise.all([...active.values()].map((a) => a.done));
      await leases.stop();
      const unstored = await settler.stop();
      if (unstored > 0) logger.warn({ unstored }, 'the store still refuses writes: runs left open are taken over once their lease runs out');
    },

    get activeRuns() {
      return active.size;
    },
  };
}

/** Creation order across replicas: time first, the sortable id on a tie. */
function isBefore(a: DeploymentRecord, b: DeploymentRecord): boolean {
  return a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.id < b.id);
}
