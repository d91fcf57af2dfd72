import type { AttemptCounts, FlowResult, Reachability, RunnerOutcome, RunTimings, Verdict } from '../verdict/types.ts';

export type DeploymentStatus = 'queued' | 'running' | 'done';
export type RunStatus = 'queued' | 'running' | 'done' | 'cancelled' | 'interrupted';
export type RunTrigger = 'deploy' | 'schedule' | 'manual';

export interface DeploymentRecord {
  readonly id: string;
  /** The caller's `deploymentId`: the same key never starts a second verification. */
  readonly idempotencyKey?: string;
  readonly service: string;
  readonly environment: string;
  readonly baseline?: string;
  readonly version: string;
  readonly status: DeploymentStatus;
  readonly verdict?: Verdict;
  /** Set when a newer deploy to the same environment cancelled this one. */
  readonly supersededBy?: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

export interface RunRecord {
  readonly id: string;
  readonly deploymentId?: string;
  readonly trigger: RunTrigger;
  readonly target: string;
  /** Target first, then its baseline when it has one. */
  readonly environments: readonly string[];
  /** The schedule that started it, for scheduled runs. */
  readonly schedule?: string;
  /** Overrides the suite's grep for this run. */
  readonly grep?: string;
  readonly status: RunStatus;
  readonly verdict?: Verdict;
  readonly outcome?: RunnerOutcome;
  readonly reachability?: Readonly<Record<string, Reachability>>;
  readonly diagnostics: readonly string[];
  /** Why the run ended as it did when that is not the verdict (superseded, interrupted, stopped early). */
  readonly note?: string;
  /** Browser attempts it took, by environment and how each ended; absent for runs that never reached the runner's report. */
  readonly attempts?: AttemptCounts;
  readonly timings?: RunTimings;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** `server.instanceId` of the replica that started it; absent until it starts, and for runs stored before replicas were recorded. */
  readonly replica?: string;
}

export interface RunWithResults extends RunRecord {
  readonly results: readonly FlowResult[];
}
