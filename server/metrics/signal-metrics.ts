import { Counter, Gauge, type Registry } from 'prom-client';
import { STATUS_CLASSES, type StatusClass } from '../signals/status-class.ts';
import { cachedStoreRead, type StoreReadOptions } from './store-read.ts';

/** What became of a rollback signal: its webhook answered 2xx, answered a permanent no, or ran out of retries. */
export type SignalOutcome = 'delivered' | 'rejected' | 'dead';

const SIGNAL_OUTCOMES = Object.keys({ delivered: 1, rejected: 1, dead: 1 } satisfies Record<SignalOutcome, 1>) as SignalOutcome[];

/** The metrics of the rollback-signal webhooks, for the signals module to report through. */
export interface SignalMetrics {
  signalOutcome(outcome: SignalOutcome): void;
  deliveryAttempt(statusClass: StatusClass): void;
  /** Signals written to the outbox and not yet delivered or given up, as the caller just counted them. */
  outboxPending(count: number): void;
}

export interface OutboxPendingSource {
  /** Counts the outbox's pending signals in the shared store. */
  readonly pendingCount: () => Promise<number>;
  /** Milliseconds, for the age of the cached count; injectable for tests. */
  readonly now?: () => number;
  readonly cacheTtlMs?: number;
  readonly logger?: StoreReadOptions['log'];
}

/**
 * Registers the signal families with every series at 0, so alerts on them
 * (a dead signal, a growing outbox) have a baseline before the first signal.
 * With `outbox`, the pending gauge is counted in the store when scraped
 * (cached a few seconds), so every replica of one store exports the same
 * count, whichever wrote or delivered the signals; a count that fails or
 * hangs keeps the last value.
 */
export function createSignalMetrics(registry: Registry, outbox?: OutboxPendingSource): SignalMetrics {
  const count = outbox
    ? cachedStoreRead(outbox.pendingCount, {
        what: 'smoke_webhook_outbox_pending',
        ...(outbox.now && { now: outbox.now }),
        ...(outbox.cacheTtlMs !== undefined && { ttlMs: outbox.cacheTtlMs }),
        ...(outbox.logger && { log: outbox.logger }),
      })
    : undefined;
  const signals = new Counter({
    name: 'smoke_rollback_signals_total',
    help: 'Rollback signals by what became of them: delivered, rejected by the receiver, or dead after every retry.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'smoke_webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts by HTTP status class, or timeout/network when there was no answer.',
    labelNames: ['status_class'] as const,
    registers: [registry],
  });
  const pending = new Gauge({
    name: 'smoke_webhook_outbox_pending',
    help: 'Rollback signals in the outbox, not yet delivered or given up.',
    registers: [registry],
    async collect() {
      const pendingNow = await count?.get();
      if (pendingNow !== undefined) this.set(pendingNow);
    },
  });
  for (const outcome of SIGNAL_OUTCOMES) signals.inc({ outcome }, 0);
  for (const status_class of STATUS_CLASSES) attempts.inc({ status_class }, 0);
  pending.set(0);

  return {
    signalOutcome: (outcome) => signals.inc({ outcome }),
    deliveryAttempt: (statusClass) => attempts.inc({ status_class: statusClass }),
    outboxPending: (n) => {
      pending.set(n);
      count?.put(n);
    },
  };
}
