import type { SignalEvent } from './config.ts';
import type { AttemptRecord, SignalRecord, SignalStatus, StatusClass } from './records.ts';

export interface NewSignal {
  readonly deploymentId: string;
  readonly webhook: string;
  readonly event: SignalEvent;
  /** The exact body every attempt sends and signs. */
  readonly payload: string;
  readonly nowMs: number;
  readonly expiresAtMs: number;
}

export interface AttemptResult {
  readonly atMs: number;
  readonly statusCode?: number;
  readonly statusClass: StatusClass;
  readonly latencyMs: number;
  readonly error?: string;
}

/** What an attempt leads to: delivered, given up, or tried again at `nextAttemptAtMs`. */
export type Transition =
  | { readonly status: 'delivered' | 'rejected' | 'dead'; readonly error?: string }
  | { readonly status: 'pending'; readonly nextAttemptAtMs: number; readonly error?: string };

/**
 * The signal outbox's queries (implemented in `../store/outbox.ts`, on either
 * engine). A signal is written here, in its final signed form, before its
 * first attempt; each attempt and its consequence are written in one
 * transaction. A signal exists at most once per deployment, webhook and
 * event: whatever re-runs, nothing is sent twice. Replicas sharing the store
 * take due signals with `claimDue`, so each attempt is made by one of them.
 */
export interface Outbox {
  /** Returns the new signal, or undefined when that deployment already has it. */
  enqueue(signal: NewSignal): Promise<SignalRecord | undefined>;
  get(id: string): Promise<(SignalRecord & { payload: string }) | undefined>;
  attemptsOf(id: string): Promise<AttemptRecord[]>;
  /**
   * Takes up to `limit` pending signals due at `nowMs` for one attempt each:
   * their next attempt moves to `nowMs + leaseMs`, so no other replica takes
   * them meanwhile, and a replica that dies mid-attempt leaves them due again
   * once the lease runs out. PostgreSQL: `FOR UPDATE SKIP LOCKED`.
   */
  claimDue(nowMs: number, limit: number, leaseMs: number): Promise<(SignalRecord & { payload: string })[]>;
  /** Epoch ms of the earliest pending attempt. */
  nextDueAtMs(): Promise<number | undefined>;
  /** Writes an attempt (none when the signal is given up without one) and what follows from it, together. */
  record(id: string, attempt: AttemptResult | undefined, then: Transition): Promise<void>;
  list(filter: { status?: SignalStatus; limit: number }): Promise<SignalRecord[]>;
  ofDeployment(deploymentId: string): Promise<SignalRecord[]>;
  /** Makes a dead or rejected signal pending again; false when it is not in such a state. */
  redeliver(id: string, nowMs: number, expiresAtMs: number): Promise<boolean>;
  pendingCount(): Promise<number>;
  has(deploymentId: string, webhook: string, event: SignalEvent): Promise<boolean>;
  /**
   * Deletes, with their attempts, up to `limit` signals delivered before
   * `before` (ISO time); returns how many. Only delivered ones: a pending,
   * rejected or dead signal has not reached its receiver, and an operator may
   * still redeliver it.
   */
  pruneDelivered(before: string, limit: number): Promise<number>;
}
