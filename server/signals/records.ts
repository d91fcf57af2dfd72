import type { SignalEvent } from './config.ts';
import type { StatusClass } from './status-class.ts';

export type SignalStatus = 'pending' | 'delivered' | 'rejected' | 'dead';
/** How an attempt ended, as counted in metrics (one classifier: `status-class.ts`). */
export type { StatusClass };

export interface SignalRecord {
  /** Also the `webhook-id` header: the same on every attempt, the receiver's idempotency key. */
  readonly id: string;
  readonly deploymentId: string;
  readonly webhook: string;
  readonly event: SignalEvent;
  readonly status: SignalStatus;
  readonly attempts: number;
  /** ISO times. */
  readonly nextAttemptAt: string;
  readonly expiresAt: string;
  readonly createdAt: string;
  readonly deliveredAt?: string;
  readonly lastError?: string;
}

export interface AttemptRecord {
  readonly attempt: number;
  readonly at: string;
  readonly statusCode?: number;
  readonly statusClass: StatusClass;
  readonly latencyMs: number;
  readonly error?: string;
}
