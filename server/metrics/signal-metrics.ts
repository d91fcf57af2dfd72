import { Counter, Gauge, type Registry } from 'prom-client';
import { STATUS_CLASSES, type StatusClass } from '../signals/status-class.ts';

/** What became of a rollback signal: its webhook answered 2xx, answered a permanent no, or ran out of retries. */
export type SignalOutcome = 'delivered' | 'rejected' | 'dead';


const SIGNAL_OUTCOMES = Object.keys({ delivered: 1, rejected: 1, dead: 1 } satisfies Record<SignalOutcome, 1>) as SignalOutcome[];

/** The metrics of the rollback-signal webhooks, for the signals module to report through. */
export interface SignalMetrics {
  signalOutcome(outcome: SignalOutcome): void;
  deliveryAttempt(statusClass: StatusClass): void;
  /** Signals written to the outbox and not yet delivered or given up. */
  outboxPending(count: number): void;
}

/**
 * Registers the signal families with every series at 0, so alerts on them
 * (a dead signal, a growing outbox) have a baseline before the first signal.
 */
export function createSignalMetrics(registry: Registry): SignalMetrics {
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
  });
  for (const outcome of SIGNAL_OUTCOMES) signals.inc({ outcome }, 0);
  for (const status_class of STATUS_CLASSES) attempts.inc({ status_class }, 0);
  pending.set(0);

  return {
    signalOutcome: (outcome) => signals.inc({ outcome }),
    deliveryAttempt: (statusClass) => attempts.inc({ status_class: statusClass }),
    outboxPending: (count) => pending.set(count),
  };
}
