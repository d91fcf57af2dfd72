import type { StatusKind } from './config.ts';
import type { StatusState, StatusUpdate } from './github-status.ts';
import type { StatusTarget } from './github-status-kinds.ts';

/** Rows of deployments whose last status was posted or given up are kept this long, then forgotten. */
export const STATUS_RETENTION_MS = 30 * 86_400_000;

/** `waiting`: a kind that says nothing before the verdict (deployment statuses) holds its pending state back. */
export type QueueStatus = 'waiting' | 'queued' | 'posted' | 'failed';

/** The status one target of a GitHub-gated deployment should show, and whether GitHub has it yet. */
export type QueuedStatus = StatusTarget &
  StatusUpdate & {
    readonly deploymentId: string;
    readonly status: QueueStatus;
    /** Failed attempts at the current state. */
    readonly attempts: number;
    readonly nextAttemptAtMs: number;
    /** When the current state was asked for, epoch ms. */
    readonly updatedAtMs: number;
    /** Bumped whenever the state to show changes, so an attempt at an older one cannot mark a newer one done. */
    readonly revision: number;
    readonly lastError?: string;
  };

/** What an attempt leads to, written only if the row still asks for the state that was attempted. */
export type StatusTransition =
  | { readonly status: 'posted' }
  | { readonly status: 'failed'; readonly error: string }
  | { readonly status: 'queued'; readonly nextAttemptAtMs: number; readonly error: string };

/**
 * One row per GitHub-gated deployment and kind of status in the service's
 * store (queries in `../store/github-statuses.ts`), holding the latest state to show: a verdict replaces a
 * pending status not yet posted (GitHub shows the newest status, so posting
 * the stale one after would be wrong), and a restart resumes what was not
 * posted.
 */
export interface StatusQueue {
  /** Starts tracking one target of a deployment; `hold` keeps a pending state from being posted. False when tracked already. */
  track(deploymentId: string, target: StatusTarget, status: StatusUpdate, hold: boolean, nowMs: number): Promise<boolean>;
  get(deploymentId: string, kind: StatusKind): Promise<QueuedStatus | undefined>;
  /**
   * Asks every target of the deployment for a new state; nothing changes where it is the state
   * already asked for, nor where a held row would be asked for `pending`. How many rows changed.
   */
  change(deploymentId: string, status: StatusUpdate, nowMs: number): Promise<number>;
  /**
   * Takes up to `limit` rows due at `nowMs` for one attempt each: their next
   * attempt moves to `nowMs + leaseMs`, so no other replica takes them
   * meanwhile (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
   */
  claimDue(nowMs: number, limit: number, leaseMs: number): Promise<QueuedStatus[]>;
  nextDueAtMs(): Promise<number | undefined>;
  /** Rows still showing or about to show `pending`, or holding it: the ones a crash may have left behind their verdict. */
  awaitingVerdict(limit: number): Promise<QueuedStatus[]>;
  record(row: Pick<QueuedStatus, 'deploymentId' | 'kind' | 'revision'>, then: StatusTransition, nowMs: number): Promise<void>;
  /** Forgets rows settled (or held) before retention; returns how many. */
  prune(nowMs: number): Promise<number>;
}
