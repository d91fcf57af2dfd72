import type { Deliveries } from '../gates/deliveries.ts';
import type { StatusQueue } from '../gates/github-status-queue.ts';
import type { Outbox } from '../signals/outbox.ts';
import type { AttemptCounts, FlowOutcome, FlowResult, Reachability, RunnerOutcome, RunTimings, Verdict, VerdictKind } from '../verdict/types.ts';
import type { DeploymentRecord, RunRecord, RunStatus, RunTrigger, RunWithResults } from '../verification/records.ts';
import type { StoreRetention } from './retention.ts';

export interface NewDeployment {
  readonly idempotencyKey?: string;
  readonly service: string;
  readonly environment: string;
  readonly baseline?: string;
  readonly version: string;
}

/** A run to queue: the fields of its record that the caller chooses. */
export type NewRun = Pick<RunRecord, 'deploymentId' | 'trigger' | 'target' | 'environments' | 'schedule' | 'grep'>;

export interface RunEnd {
  readonly status: Extract<RunStatus, 'done' | 'cancelled' | 'interrupted'>;
  readonly verdict?: Verdict;
  readonly outcome?: RunnerOutcome;
  readonly reachability?: Record<string, Reachability>;
  readonly diagnostics?: readonly string[];
  readonly note?: string;
  readonly attempts?: AttemptCounts;
  readonly timings?: RunTimings;
}

/** How a verification ends, written in one transaction: its run, its deployment, or both. */
export interface Settlement {
  readonly run?: { readonly id: string; readonly end: RunEnd };
  readonly deployment?: { readonly id: string; readonly verdict?: Verdict; readonly supersededBy?: string };
}

/**
 * How `openStore` reaches its database: a SQLite file (the embedded default,
 * one replica) or a PostgreSQL URL (any number of replicas sharing it).
 */
export type StoreLocation = { readonly kind: 'sqlite'; readonly file: string } | { readonly kind: 'postgres'; readonly url: string };

/** A claimed run's lease as its replica renews it. */
export type LeaseState =
  /** Still this replica's; `deploymentDone` when its deployment was finished elsewhere (superseded by a newer deploy on another replica). */
  | { readonly held: true; readonly deploymentDone: boolean; readonly supersededBy?: string }
  /** Lost: another replica found the lease run out and took the run back, or the run ended. Stop without storing anything. */
  | { readonly held: false };

/**
 * The service's state, on SQLite or PostgreSQL with the same behaviour.
 * Every method is asynchronous. Every write raises `StoreUnavailable` (from
 * `../errors.ts`) when the database cannot take it (disk full, read-only,
 * I/O error, PostgreSQL down or unreachable); nothing is half-written.
 * Ids are sortable by creation within one replica and unique across them.
 */
export interface Store {
  readonly kind: StoreLocation['kind'];
  /** Where the data lives, for logs: the file, or the URL without its password. */
  readonly location: string;

  /** Inserts the deployment and its first run in one transaction; returns the existing deployment for a known key (also when two replicas race with one key). */
  createDeployment(input: NewDeployment): Promise<{ deployment: DeploymentRecord; run?: RunRecord; created: boolean }>;
  getDeployment(id: string): Promise<DeploymentRecord | undefined>;
  /** The deployment a caller's idempotency key (`deploymentId`) started, if any. */
  getDeploymentByKey(key: string): Promise<DeploymentRecord | undefined>;
  /** Newest first; `verdict: 'pending'` is a deployment not yet done. */
  listDeployments(filter: { environment?: string; verdict?: VerdictKind | 'pending'; limit: number }): Promise<DeploymentRecord[]>;
  /** Deployments not yet done, oldest first. */
  openDeployments(): Promise<DeploymentRecord[]>;
  /** Open deployments with no queued or running run: left behind by a replica that stopped or died. Oldest first. */
  orphanedDeployments(): Promise<DeploymentRecord[]>;
  finishDeployment(id: string, verdict: Verdict | undefined, supersededBy?: string): Promise<void>;

  /**
   * Queues a run. A deployment has at most one queued or running run: for a
   * deployment that has one already (another replica resumed it first) this
   * returns undefined and writes nothing.
   */
  createRun(input: NewRun): Promise<RunRecord | undefined>;
  getRun(id: string): Promise<RunWithResults | undefined>;
  listRuns(filter: { environment?: string; schedule?: string; limit: number }): Promise<RunRecord[]>;
  runsOfDeployment(deploymentId: string): Promise<RunRecord[]>;
  /** Runs that are queued or running, oldest first. */
  openRuns(): Promise<RunRecord[]>;
  /** The newest run a schedule started that has ended, however it ended. */
  lastFinishedRunOfSchedule(schedule: string): Promise<RunRecord | undefined>;
  /**
   * Takes the next queued run for `replica`, across every replica sharing the
   * store: deploys first, then manual runs, then scheduled ones, oldest first
   * within each. Marks it (and its deployment) running with a lease of
   * `leaseMs` from now. Two replicas never take the same run (PostgreSQL:
   * `FOR UPDATE SKIP LOCKED`; SQLite: its single writer).
   */
  claimNextRun(replica: string, leaseMs: number): Promise<RunRecord | undefined>;
  /**
   * Marks one queued run running for `replica` (a test driving the store by
   * hand; the verifier claims with `claimNextRun`). `replica` is absent only in tests.
   */
  markRunRunning(id: string, replica?: string, leaseMs?: number): Promise<void>;
  /** Extends the lease of a run `replica` holds by `leaseMs` from now, and says whether its deployment is still open. */
  renewLease(runId: string, replica: string, leaseMs: number): Promise<LeaseState>;
  /**
   * Ends, as `interrupted`, every running run whose lease has run out (its
   * replica died or lost the database), and returns them: each is returned
   * to exactly one caller across replicas.
   */
  expireLeases(): Promise<RunRecord[]>;
  /**
   * Takes the cron tick of `schedule` at `slot` (its scheduled time, ISO UTC)
   * for this replica: true for the one call, across every replica sharing
   * the store, that got it first; false for the rest.
   */
  claimTick(schedule: string, slot: string, replica?: string): Promise<boolean>;
  recordFlowResult(runId: string, result: FlowResult): Promise<void>;
  finishRun(id: string, end: RunEnd): Promise<void>;
  /** Ends a run and its deployment together; says which of them were still open (and so changed). */
  settle(settlement: Settlement): Promise<{ run: boolean; deployment: boolean }>;
  /** The newest deployment of each environment: the version it runs now. */
  latestDeployments(): Promise<DeploymentRecord[]>;
  /** Per target and trigger, when its last judged run finished and when its last passing one did. */
  lastFinishedRuns(): Promise<FinishedRunTimes[]>;
  /**
   * The flows of each environment's newest run with results (so flows dropped
   * from the suite fall away), each with its newest passed/failed/flaky outcome.
   */
  latestFlowOutcomes(): Promise<LatestFlowOutcome[]>;
  /** For readiness: rejects when the database cannot answer. */
  ping(): Promise<void>;
  /**
   * For readiness: writes a few KB and deletes them in one transaction, so it
   * rejects with `StoreUnavailable` when the database cannot grow (a full
   * disk still lets a write that needs no new page through).
   */
  probeWrite(): Promise<void>;
  /** Bytes the database takes: the SQLite file with its WAL, or PostgreSQL's `pg_database_size`. */
  sizeBytes(): Promise<number>;

  /** The rollback-signal outbox's queries. */
  readonly outbox: Outbox;
  /** Webhook deliveries the gates acted on. */
  readonly gateDeliveries: Deliveries;
  /** GitHub statuses to post. */
  readonly githubStatuses: StatusQueue;
  /** Queries of the retention pass: what to keep, and old rows in batches. */
  readonly retention: StoreRetention;
  close(): Promise<void>;
}

export interface FinishedRunTimes {
  readonly target: string;
  readonly trigger: RunTrigger;
  /** ISO time. */
  readonly finishedAt: string;
  /** ISO time of the newest run with a pass verdict, if any. */
  readonly passedAt?: string;
}

export interface LatestFlowOutcome {
  readonly environment: string;
  readonly flow: string;
  /** Absent when the flow was only ever skipped or errored. */
  readonly outcome?: Extract<FlowOutcome, 'passed' | 'failed' | 'flaky'>;
}

export { openStore } from './open.ts';
