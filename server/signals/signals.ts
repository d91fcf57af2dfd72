import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import type { DeploymentRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import type { RunObserver } from '../verification/observer.ts';
import type { RollbackConfig, WebhookConfig } from './config.ts';
import { attemptDelivery, type AttemptOutcome, type Receiver } from './delivery.ts';
import type { Outbox } from './outbox.ts';
import { buildPayload, eventFor } from './payload.ts';
import type { AttemptRecord, SignalRecord, SignalStatus, StatusClass } from './records.ts';
import { secretKey } from './signing.ts';

/** Signals attempted at once; a receiver that hangs holds one slot for at most the attempt timeout. */
const BATCH = 8;
/** setTimeout's ceiling; a later due time is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Retry delays while the store refuses writes (disk full, read-only), milliseconds: doubling up to the maximum. */
const STORE_RETRY = { firstMs: 1_000, maxMs: 30_000 };

export interface SignalMetrics {
  signalOutcome(outcome: 'delivered' | 'rejected' | 'dead'): void;
  deliveryAttempt(statusClass: StatusClass): void;
  outboxPending(count: number): void;
}

export interface SignalsDeps {
  readonly config: RollbackConfig;
  readonly outbox: Outbox;
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: SignalMetrics;
  /** Base of absolute links: `server.publicUrl`, else where the service listens. */
  readonly publicBase: () => string;
  readonly now?: () => number;
  readonly random?: () => number;
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
  list(filter: { status?: SignalStatus; limit: number }): SignalView[];
  get(id: string): SignalView | undefined;
  ofDeployment(deploymentId: string): SignalView[];
  /** Sends a dead or rejected signal again, same id; false when it is not dead or rejected. */
  redeliver(id: string): boolean;
}

export function createSignals(deps: SignalsDeps): Signals {
  const { config, outbox, store, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const receivers = new Map<string, { hook: WebhookConfig; receiver: Receiver }>(
    config.webhooks.map((hook) => [hook.name, { hook, receiver: { url: hook.url, key: secretKey(hook.secret.reveal()), headers: revealAll(hook.headers) } }]),
  );
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let sweeping: Promise<void> | undefined;
  let again = false;
  /** Set while the store refuses writes: what was missed is caught up by the same scan as after a crash. */
  let catchUpTimer: NodeJS.Timeout | undefined;
  let storeRetryStep = 0;

  /** Next retry delay after a store refusal; one log line per step, not per failed write. */
  function storeRetryDelay(err: unknown, what: string): number {
    const delayMs = Math.min(STORE_RETRY.firstMs * 2 ** storeRetryStep, STORE_RETRY.maxMs);
    storeRetryStep++;
    logger.error({ err: describeError(err), retryInMs: delayMs }, what);
    return delayMs;
  }

  /**
   * Queues the signals of every recently judged deployment that has none yet;
   * at start-up (a crash between verdict and signal) and whenever the store
   * refused to queue one (disk full), until it takes the write.
   */
  function catchUp(): void {
    clearTimeout(catchUpTimer);
    catchUpTimer = undefined;
    if (stopped) return;
    try {
      reconcile();
      storeRetryStep = 0;
    } catch (err) {
      missed(err);
    }
  }

  function missed(err: unknown): void {
    if (stopped || catchUpTimer) return;
    const delayMs = storeRetryDelay(err, 'a signal could not be queued: the store refuses writes; retrying');
    catchUpTimer = setTimeout(catchUp, delayMs);
    catchUpTimer.unref();
  }

  function enqueueFor(deployment: DeploymentRecord): void {
    if (!deployment.verdict) return;
    const event = eventFor(deployment.verdict);
    const subscribed = config.webhooks.filter((hook) => hook.events.includes(event));
    if (subscribed.length === 0) return;
    const runs = store.runsOfDeployment(deployment.id);
    const run = runs.length > 0 ? store.getRun(runs.at(-1)!.id) : undefined;
    const at = now();
    const payload = buildPayload(event, deployment, run, deps.publicBase(), new Date(at));
    for (const hook of subscribed) {
      const signal = outbox.enqueue({
        deploymentId: deployment.id,
        webhook: hook.name,
        event,
        payload,
        nowMs: at,
        expiresAtMs: at + config.maxAgeSeconds * 1000,
      });
      if (signal) logger.info({ signalId: signal.id, deploymentId: deployment.id, webhook: hook.name, event }, 'signal queued');
    }
    metrics.outboxPending(outbox.pendingCount());
    wake();
  }

  function wake(): void {
    if (stopped) return;
    if (sweeping) {
      again = true;
      return;
    }
    clearTimeout(timer);
    let failed = false;
    sweeping = sweep()
      .catch((err: unknown) => {
        // An attempt whose outcome could not be recorded stays due: try again after a pause, not in a tight loop.
        failed = true;
        if (!stopped) timer = setTimeout(wake, storeRetryDelay(err, 'recording a signal attempt failed: the store refuses writes; retrying'));
      })
      .finally(() => {
        sweeping = undefined;
        if (failed) return;
        storeRetryStep = 0;
        if (again) {
          again = false;
          wake();
        } else arm();
      });
  }

  function arm(): void {
    if (stopped) return;
    const next = outbox.nextDueAtMs();
    if (next === undefined) return;
    timer = setTimeout(wake, Math.min(MAX_TIMER_MS, Math.max(0, next - now())));
  }

  async function sweep(): Promise<void> {
    for (;;) {
      const due = outbox.due(now(), BATCH);
      if (due.length === 0 || stopped) return;
      await Promise.all(due.map((signal) => deliver(signal)));
      metrics.outboxPending(outbox.pendingCount());
    }
  }

  async function deliver(signal: SignalRecord & { payload: string }): Promise<void> {
    const log = logger.child({ signalId: signal.id, deploymentId: signal.deploymentId, webhook: signal.webhook });
    const target = receivers.get(signal.webhook);
    const startedAt = now();
    if (!target || startedAt >= Date.parse(signal.expiresAt)) {
      const error = target ? `not delivered within ${config.maxAgeSeconds} s` : `webhook '${signal.webhook}' is no longer configured`;
      outbox.record(signal.id, undefined, { status: 'dead', error });
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
    outbox.record(signal.id, attempt, then);
    if (then.status === 'pending') {
      log.warn({ attempt: signal.attempts + 1, error: then.error, retryAt: new Date(then.nextAttemptAtMs).toISOString() }, 'signal attempt failed; will retry');
      return;
    }
    metrics.signalOutcome(then.status);
    if (then.status === 'delivered') log.info({ attempt: signal.attempts + 1, statusCode: outcome.statusCode }, 'signal delivered');
    else log.error({ attempt: signal.attempts + 1, error: then.error }, `signal ${then.status}`);
  }

  /** Exponential backoff with jitter, or the receiver's Retry-After; dead once past the signal's age limit. */
  function transition(signal: SignalRecord, outcome: AttemptOutcome, at: number) {
    if (outcome.kind === 'delivered') return { status: 'delivered' as const };
    if (outcome.kind === 'rejected') return { status: 'rejected' as const, error: outcome.error };
    const base = Math.min(config.maxBackoffSeconds, config.initialBackoffSeconds * 2 ** signal.attempts) * 1000;
    const delay = outcome.retryAfterMs ?? base / 2 + (random() * base) / 2;
    const nextAttemptAtMs = at + delay;
    if (nextAttemptAtMs >= Date.parse(signal.expiresAt)) {
      return { status: 'dead' as const, error: `${outcome.error}; not delivered within ${config.maxAgeSeconds} s` };
    }
    return { status: 'pending' as const, nextAttemptAtMs, error: outcome.error };
  }

  function view(signal: SignalRecord): SignalView {
    return { ...signal, attemptLog: outbox.attemptsOf(signal.id) };
  }

  /** Deployments judged while the service was going down (verdict stored, signal not yet): nothing is dropped. */
  function reconcile(): void {
    const since = new Date(now() - config.maxAgeSeconds * 1000).toISOString();
    for (const deployment of store.listDeployments({ limit: 1_000 })) {
      if (deployment.status !== 'done' || !deployment.verdict || (deployment.finishedAt ?? '') < since) continue;
      const event = eventFor(deployment.verdict);
      if (config.webhooks.some((hook) => hook.events.includes(event) && !outbox.has(deployment.id, hook.name, event))) enqueueFor(deployment);
    }
  }

  return {
    observer: {
      deploymentFinished(deployment) {
        try {
          enqueueFor(deployment);
        } catch (err) {
          // The verdict is stored; its signal is not. Never dropped: the catch-up scan queues it once the store writes again.
          missed(err);
        }
      },
    },
    start() {
      stopped = false;
      catchUp();
      metrics.outboxPending(outbox.pendingCount());
      wake();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(catchUpTimer);
      catchUpTimer = undefined;
      await sweeping;
    },
    list: (filter) => outbox.list(filter).map(view),
    get: (id) => {
      const signal = outbox.get(id);
      return signal ? view(signal) : undefined;
    },
    ofDeployment: (deploymentId) => outbox.ofDeployment(deploymentId).map(view),
    redeliver(id) {
      const at = now();
      const done = outbox.redeliver(id, at, at + config.maxAgeSeconds * 1000);
      if (done) {
        logger.info({ signalId: id }, 'signal redelivery requested');
        metrics.outboxPending(outbox.pendingCount());
        wake();
      }
      return done;
    },
  };
}

function revealAll(headers: Readonly<Record<string, { reveal(): string }>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.reveal()]));
}
