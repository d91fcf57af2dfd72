import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import type { DeploymentRecord } from '../verification/records.ts';
import type { Store } from '../store/store.ts';
import type { RunObserver } from '../verification/observer.ts';
import type { Timers } from '../verification/settlement.ts';
import { createClaimLoop, drainClaims, realTimers } from './claim-loop.ts';
import type { RollbackConfig, WebhookConfig } from './config.ts';
import { attemptDelivery, type AttemptOutcome, type Receiver } from './delivery.ts';
import type { Outbox, Transition } from './outbox.ts';
import { buildPayload, eventFor } from './payload.ts';
import type { AttemptRecord, SignalRecord, SignalStatus, StatusClass } from './records.ts';
import { secretKey } from './signing.ts';

/** Signals attempted at once; a receiver that hangs holds one slot for at most the attempt timeout. */
const BATCH = 8;
/**
 * Added to the attempt timeout to make a claim's lease, milliseconds: time to
 * record the attempt's outcome. While the lease runs no other replica takes
 * the signal; a replica killed mid-attempt leaves it to another once it ends.
 */
export const LEASE_MARGIN_MS = 15_000;
/**
 * How often every replica looks for recently judged deployments with no
 * signal, milliseconds: a replica that died between storing a verdict and
 * queueing its signal leaves that to the others.
 */
export const RECONCILE_MS = 60_000;
/** Retry delays while the store refuses writes (disk full, read-only, PostgreSQL down), milliseconds: doubling up to the maximum. */
const STORE_RETRY = { firstMs: 1_000, maxMs: 30_000 };

export interface SignalMetrics {
  signalOutcome(outcome: 'delivered' | 'rejected' | 'dead'): void;
  deliveryAttempt(statusClass: StatusClass): void;
  outboxPending(count: number): void;
}

export interface SignalsDeps {
  readonly config: RollbackConfig;
  readonly outbox: Outbox;
  readonly store: Pick<Store, 'runsOfDeployment' | 'getRun' | 'listDeployments'>;
  readonly logger: Logger;
  readonly metrics: SignalMetrics;
  /** Base of absolute links: `server.publicUrl`, else where the service listens. */
  readonly publicBase: () => string;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly timers?: Timers;
  /** How often to look for signals other replicas queued or left behind, milliseconds; `POLL_MS` by default. */
  readonly pollMs?: number;
}

export interface SignalView extends SignalRecord {
  readonly attemptLog: readonly AttemptRecord[];
}

export interface Signals {
  /** Puts signals for finished deployments into the outbox. */
  readonly observer: RunObserver;
  /** Enqueues what a crash may have missed, then starts delivering. */
  start(): void;
  /** Stops starting attempts and waits for those under way. */
  stop(): Promise<void>;
  list(filter: { status?: SignalStatus; limit: number }): Promise<SignalView[]>;
  get(id: string): Promise<SignalView | undefined>;
  ofDeployment(deploymentId: string): Promise<SignalView[]>;
  /** Sends a dead or rejected signal again, same id; false when it is not dead or rejected. */
  redeliver(id: string): Promise<boolean>;
}

export function createSignals(deps: SignalsDeps): Signals {
  const { config, outbox, store, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const timers = deps.timers ?? realTimers;
  const leaseMs = config.attemptTimeoutSeconds * 1000 + LEASE_MARGIN_MS;
  const receivers = new Map<string, { hook: WebhookConfig; receiver: Receiver }>(
    config.webhooks.map((hook) => [hook.name, { hook, receiver: { url: hook.url, key: secretKey(hook.secret.reveal()), headers: revealAll(hook.headers) } }]),
  );
  let stopped = true;
  const deliveryRetry = storeBackoff(logger, 'recording a signal attempt failed: the store refuses writes; retrying');
  const catchUpRetry = storeBackoff(logger, 'a signal could not be queued: the store refuses writes; retrying');
  const loop = createClaimLoop({
    sweep,
    nextDueAtMs: () => outbox.nextDueAtMs(),
    // An attempt whose outcome could not be recorded is due again once its lease ends: try after a pause, not in a tight loop.
    failed: (err) => deliveryRetry.next(err),
    succeeded: () => deliveryRetry.reset(),
    now,
    timers,
    ...(deps.pollMs !== undefined && { pollMs: deps.pollMs }),
  });
  let catchUpTimer: unknown;
  let catchingUp: Promise<void> | undefined;

  /**
   * Queues the signals of every recently judged deployment that has none yet:
   * at start-up (a crash between verdict and signal), every `RECONCILE_MS`
   * (another replica's crash), and sooner whenever the store refused to
   * queue one (disk full, PostgreSQL down), until it takes the write.
   */
  function catchUp(): void {
    timers.clear(catchUpTimer);
    catchUpTimer = undefined;
    if (stopped || catchingUp) return;
    catchingUp = reconcile()
      .then(
        () => {
          catchUpRetry.reset();
          armCatchUp(RECONCILE_MS);
        },
        (err: unknown) => armCatchUp(catchUpRetry.next(err)),
      )
      .finally(() => (catchingUp = undefined));
  }

  function armCatchUp(delayMs: number): void {
    if (stopped) return;
    timers.clear(catchUpTimer);
    catchUpTimer = timers.set(catchUp, delayMs);
  }

  /** A signal the store refused to queue: the catch-up comes sooner, once per backoff step rather than once per refusal. */
  function missed(err: unknown): void {
    if (stopped || catchingUp || catchUpRetry.retrying) return;
    armCatchUp(catchUpRetry.next(err));
  }

  async function enqueueFor(deployment: DeploymentRecord): Promise<void> {
    if (!deployment.verdict) return;
    const event = eventFor(deployment.verdict);
    const subscribed = config.webhooks.filter((hook) => hook.events.includes(event));
    if (subscribed.length === 0) return;
    const runs = await store.runsOfDeployment(deployment.id);
    const run = runs.length > 0 ? await store.getRun(runs.at(-1)!.id) : undefined;
    const at = now();
    const payload = buildPayload(event, deployment, run, deps.publicBase(), new Date(at));
    for (const hook of subscribed) {
      // At most one per deployment, webhook and event (the outbox's unique key): a replica racing this one queues nothing.
      const signal = await outbox.enqueue({
        deploymentId: deployment.id,
        webhook: hook.name,
        event,
        payload,
        nowMs: at,
        expiresAtMs: at + config.maxAgeSeconds * 1000,
      });
      if (signal) logger.info({ signalId: signal.id, deploymentId: deployment.id, webhook: hook.name, event }, 'signal queued');
    }
    countPending();
    loop.wake();
  }

  /** The gauge reads the store itself when scraped; this only brings it up to date sooner. */
  function countPending(): void {
    outbox.pendingCount().then(metrics.outboxPending, () => undefined);
  }

  function sweep(): Promise<void> {
    return drainClaims(() => outbox.claimDue(now(), BATCH, leaseMs), deliver, () => stopped, countPending);
  }

  async function deliver(signal: SignalRecord & { payload: string }): Promise<void> {
    const log = logger.child({ signalId: signal.id, deploymentId: signal.deploymentId, webhook: signal.webhook });
    const target = receivers.get(signal.webhook);
    const startedAt = now();
    if (!target || startedAt >= Date.parse(signal.expiresAt)) {
      const error = target ? `not delivered within ${config.maxAgeSeconds} s` : `webhook '${signal.webhook}' is no longer configured`;
      await outbox.record(signal.id, undefined, { status: 'dead', error });
      metrics.signalOutcome('dead');
      log.error({ error }, 'signal is dead');
      return;
    }
    const outcome = await attemptDelivery(target.receiver, signal.id, signal.payload, config.attemptTimeoutSeconds * 1000, new Date(startedAt));
    metrics.deliveryAttempt(outcome.statusClass);
    const attempt = {
      atMs: startedAt,
      statusClass: outcome.statusClass,
      latencyMs: outcome.latencyMs,
      ...(outcome.statusCode !== undefined && { statusCode: outcome.statusCode }),
      ...(outcome.kind !== 'delivered' && { error: outcome.error }),
    };
    const then = transition(signal, outcome, now());
    await outbox.record(signal.id, attempt, then);
    if (then.status === 'pending') {
      log.warn({ attempt: signal.attempts + 1, error: then.error, retryAt: new Date(then.nextAttemptAtMs).toISOString() }, 'signal attempt failed; will retry');
      return;
    }
    metrics.signalOutcome(then.status);
    if (then.status === 'delivered') log.info({ attempt: signal.attempts + 1, statusCode: outcome.statusCode }, 'signal delivered');
    else log.error({ attempt: signal.attempts + 1, error: then.error }, `signal ${then.status}`);
  }

  /** Exponential backoff with jitter, or the receiver's Retry-After; dead once past the signal's age limit. */
  function transition(signal: SignalRecord, outcome: AttemptOutcome, at: number): Transition {
    if (outcome.kind === 'delivered') return { status: 'delivered' };
    if (outcome.kind === 'rejected') return { status: 'rejected', error: outcome.error };
    const base = Math.min(config.maxBackoffSeconds, config.initialBackoffSeconds * 2 ** signal.attempts) * 1000;
    const delay = outcome.retryAfterMs ?? base / 2 + (random() * base) / 2;
    const nextAttemptAtMs = at + delay;
    if (nextAttemptAtMs >= Date.parse(signal.expiresAt)) {
      return { status: 'dead', error: `${outcome.error}; not delivered within ${config.maxAgeSeconds} s` };
    }
    return { status: 'pending', nextAttemptAtMs, error: outcome.error };
  }

  async function view(signal: SignalRecord): Promise<SignalView> {
    return { ...signal, attemptLog: await outbox.attemptsOf(signal.id) };
  }

  /** Deployments judged while their replica was going down (verdict stored, signal not yet): nothing is dropped. */
  async function reconcile(): Promise<void> {
    const since = new Date(now() - config.maxAgeSeconds * 1000).toISOString();
    for (const deployment of await store.listDeployments({ limit: 1_000 })) {
      if (stopped) return;
      if (deployment.status !== 'done' || !deployment.verdict || (deployment.finishedAt ?? '') < since) continue;
      const event = eventFor(deployment.verdict);
      for (const hook of config.webhooks) {
        if (!hook.events.includes(event) || (await outbox.has(deployment.id, hook.name, event))) continue;
        await enqueueFor(deployment);
        break;
      }
    }
  }

  return {
    observer: {
      async deploymentFinished(deployment) {
        try {
          await enqueueFor(deployment);
        } catch (err) {
          // The verdict is stored; its signal is not. Never dropped: the catch-up scan queues it once the store writes again.
          missed(err);
        }
      },
    },
    start() {
      stopped = false;
      catchUp();
      countPending();
      loop.start();
    },
    async stop() {
      stopped = true;
      timers.clear(catchUpTimer);
      catchUpTimer = undefined;
      await Promise.all([loop.stop(), catchingUp]);
    },
    list: async (filter) => Promise.all((await outbox.list(filter)).map(view)),
    get: async (id) => {
      const signal = await outbox.get(id);
      return signal ? view(signal) : undefined;
    },
    ofDeployment: async (deploymentId) => Promise.all((await outbox.ofDeployment(deploymentId)).map(view)),
    async redeliver(id) {
      const at = now();
      // A conditional update: of two replicas asked at once, one makes it pending again.
      const done = await outbox.redeliver(id, at, at + config.maxAgeSeconds * 1000);
      if (done) {
        logger.info({ signalId: id }, 'signal redelivery requested');
        countPending();
        loop.wake();
      }
      return done;
    },
  };
}

/** Doubling retry delays while the store refuses; one log line per step, not per failed write. */
function storeBackoff(logger: Logger, what: string) {
  let step = 0;
  return {
    get retrying() {
      return step > 0;
    },
    next(err: unknown): number {
      const delayMs = Math.min(STORE_RETRY.firstMs * 2 ** step, STORE_RETRY.maxMs);
      step++;
      logger.error({ err: describeError(err), retryInMs: delayMs }, what);
      return delayMs;
    },
    reset() {
      step = 0;
    },
  };
}

function revealAll(headers: Readonly<Record<string, { reveal(): string }>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.reveal()]));
}
