import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import { linksFrom } from '../links.ts';
import type { DeploymentRecord } from '../verification/records.ts';
import type { Store } from '../store/store.ts';
import type { RunObserver } from '../verification/observer.ts';
import type { Timers } from '../verification/settlement.ts';
import { createClaimLoop, drainClaims, realTimers } from '../signals/claim-loop.ts';
import { STATUS_KINDS, type GitHubStatusConfig } from './config.ts';
import { deploymentStatus, postStatus, verdictStatus, type PostOutcome, type StatusUpdate } from './github-status.ts';
import { describeTarget, postsPending, refusalHint, STATUS_KIND_INFO, statusRequest, type StatusTarget } from './github-status-kinds.ts';
import type { QueuedStatus, StatusQueue, StatusTransition } from './github-status-queue.ts';

/** Statuses posted at once. */
const BATCH = 4;
/** One POST's deadline, milliseconds. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/**
 * How long a claimed row stays with the replica posting it, milliseconds: the
 * POST's deadline and time to record what came of it. No other replica posts
 * it meanwhile; one killed mid-attempt leaves it to another once it ends.
 */
export const LEASE_MS = ATTEMPT_TIMEOUT_MS + 15_000;
/** Attempts at one state before it is given up: with the backoff below, about a quarter of an hour of a GitHub outage. */
export const MAX_ATTEMPTS = 10;
/** Waits between failed attempts, milliseconds: doubling from `firstMs` up to `maxMs` (GitHub's Retry-After wins). */
export const BACKOFF = { firstMs: 2_000, maxMs: 300_000 };
/** A state not posted within this long (the service was down, GitHub refused for hours) is given up: it would mislead by now. */
export const MAX_AGE_MS = 24 * 3_600_000;
/** Pause after the store refused to record an attempt, milliseconds. */
export const STORE_RETRY_MS = 30_000;

export type PostResult = 'posted' | 'failed';

export interface GitHubStatusesDeps {
  /** Absent (no `gates.github.token`): nothing is posted; the metric still exists. */
  readonly config: GitHubStatusConfig | undefined;
  readonly queue: StatusQueue;
  readonly store: Pick<Store, 'getDeployment'>;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Base of the page links: `server.publicUrl`, else where the service listens. */
  readonly publicBase: () => string;
  readonly now?: () => number;
  readonly timers?: Timers;
  /** How often to look for statuses other replicas queued or left behind, milliseconds; `POLL_MS` by default. */
  readonly pollMs?: number;
}

/** The GitHub deployment, from the `deployment_status` webhook, whose `success` started a verification. */
export interface GitHubOrigin {
  /** `owner/name`. */
  readonly repository: string;
  /** GitHub's `deployment.id`. */
  readonly deploymentId: number;
  /** The deployed commit; without it no commit status is posted. */
  readonly sha?: string;
  /** `deployment_status.environment_url`, kept on smoke's deployment status. */
  readonly environmentUrl?: string;
}

export interface GitHubStatuses {
  /**
   * The gate started (or found) `deployment` for this GitHub deployment: the
   * commit shows it pending, then its verdict; the deployment gets the
   * verdict. Never rejects.
   */
  accepted(deployment: DeploymentRecord, origin: GitHubOrigin): Promise<void>;
  /** Turns verdicts of tracked deployments into their final status. */
  readonly observer: RunObserver;
  /** Settles what a crash left behind, then posts what is due. */
  start(): void;
  /**
   * Stops posting: an attempt under way is cut short and stays queued, for
   * this replica's next start or another replica once its lease has run out.
   */
  stop(): Promise<void>;
  /** Resolves once no attempt is under way. */
  idle(): Promise<void>;
}

/**
 * Writes smoke's verdict back to GitHub as a commit status and a deployment
 * status (`gates.github.post`), each linking the deployment page. Each kind
 * is its own row with its own retries, so a token that may write only one
 * kind costs the other nothing. Posting happens on its own timer, off the
 * request path and after the verdict is stored, so a slow or refusing GitHub
 * never delays a verdict or a rollback signal. Every replica of one store
 * posts for all: each row is claimed with a lease before its attempt.
 */
export function createGitHubStatuses(deps: GitHubStatusesDeps): GitHubStatuses {
  const { config, queue, store, logger } = deps;
  const now = deps.now ?? Date.now;
  const timers = deps.timers ?? realTimers;
  const posts = new Counter({
    name: 'smoke_github_status_posts_total',
    help: 'GitHub statuses by kind (commit, deployment), state and whether GitHub took them (posted) or smoke gave up (failed).',
    labelNames: ['kind', 'state', 'result'] as const,
    registers: [deps.registry],
  });
  for (const kind of STATUS_KINDS) {
    for (const state of STATUS_KIND_INFO[kind].states) for (const result of ['posted', 'failed'] satisfies PostResult[]) posts.inc({ kind, state, result }, 0);
  }

  let stopped = true;
  let halt = new AbortController();
  /**
   * When to run the catch-up, epoch ms: at the first sweep, and a retry pause
   * after the store refused to queue a verdict (disk full, PostgreSQL down),
   * so it finds that verdict once writes work again.
   */
  let catchUpAtMs: number | undefined;
  const loop = createClaimLoop({
    sweep: async () => {
      if (catchUpAtMs !== undefined && now() >= catchUpAtMs) {
        catchUpAtMs = undefined;
        // Its `change` wakes the poster again, which then finds it awake.
        await catchUp();
      }
      if (config) await sweep(config);
    },
    nextDueAtMs: async () => {
      const next = await queue.nextDueAtMs();
      return catchUpAtMs === undefined ? next : Math.min(next ?? Infinity, catchUpAtMs);
    },
    failed: (err) => {
      logger.error({ err: describeError(err), retryInMs: STORE_RETRY_MS }, 'a GitHub status could not be recorded: the store refuses writes; retrying');
      return STORE_RETRY_MS;
    },
    now,
    timers,
    ...(deps.pollMs !== undefined && { pollMs: deps.pollMs }),
  });

  function sweep(config: GitHubStatusConfig): Promise<void> {
    return drainClaims(() => queue.claimDue(now(), BATCH, LEASE_MS), (row) => attempt(config, row), () => stopped);
  }

  async function attempt(config: GitHubStatusConfig, row: QueuedStatus): Promise<void> {
    const log = logger.child({ deploymentId: row.deploymentId, kind: row.kind, target: describeTarget(row), state: row.state });
    const startedAt = now();
    if (startedAt - row.updatedAtMs >= MAX_AGE_MS) {
      return settle(log, row, { status: 'failed', error: `not posted within ${MAX_AGE_MS / 3_600_000} h${row.lastError ? `; last error: ${row.lastError}` : ''}` });
    }
    const link = linksFrom(deps.publicBase()).page.deployment(row.deploymentId);
    const outcome = await postStatus(statusRequest(config, row, row, link), ATTEMPT_TIMEOUT_MS, startedAt, halt.signal);
    if (outcome.kind === 'retry' && halt.signal.aborted) return; // Stopping: the row stays queued, taken again once its lease ends.
    const explained = outcome.kind === 'rejected' ? { ...outcome, error: outcome.error + refusalHint(row, outcome.statusCode) } : outcome;
    await settle(log, row, transition(row, explained, now()));
  }

  async function settle(log: Logger, row: QueuedStatus, then: StatusTransition): Promise<void> {
    await queue.record(row, then, now());
    const noun = STATUS_KIND_INFO[row.kind].noun;
    if (then.status === 'queued') {
      log.warn({ attempt: row.attempts + 1, error: then.error, retryAt: new Date(then.nextAttemptAtMs).toISOString() }, `GitHub ${noun} not posted; will retry`);
      return;
    }
    posts.inc({ kind: row.kind, state: row.state, result: then.status });
    if (then.status === 'posted') log.info({ attempt: row.attempts + 1 }, `GitHub ${noun} posted`);
    else log.error({ attempt: row.attempts + 1, error: then.error }, `GitHub ${noun} for ${describeTarget(row)} given up`);
  }

  /** Records a new state for a tracked deployment and posts it; untracked deployments are not the gate's. Never rejects. */
  async function change(deploymentId: string, status: StatusUpdate): Promise<void> {
    if (!config) return;
    try {
      if ((await queue.change(deploymentId, status, now())) > 0) loop.wake();
    } catch (err) {
      logger.error({ err: describeError(err), deploymentId, retryInMs: STORE_RETRY_MS }, 'a GitHub status could not be queued: the store refuses writes; retrying');
      missed();
    }
  }

  /** The catch-up runs a retry pause from now (or sooner, when already due). */
  function missed(): void {
    if (stopped || catchUpAtMs !== undefined) return;
    catchUpAtMs = now() + STORE_RETRY_MS;
    // Re-arms the loop's timer for the catch-up when it is idle; a sweep under way arms it when it ends.
    loop.wake();
  }

  /**
   * Deployments judged while a crash or a full disk kept their verdict from
   * the queue: their pending status is replaced. Any replica may do this for
   * any other: `change` writes only where the state differs.
   */
  async function catchUp(): Promise<void> {
    try {
      // One change covers every kind of the deployment.
      for (const deploymentId of new Set((await queue.awaitingVerdict(1_000)).map((row) => row.deploymentId))) {
        const deployment = await store.getDeployment(deploymentId);
        if (deployment?.status === 'done') await change(deploymentId, deploymentStatus(deployment));
      }
    } catch (err) {
      logger.error({ err: describeError(err) }, 'GitHub statuses: the catch-up failed; retrying');
      missed();
    }
  }

  return {
    async accepted(deployment, origin) {
      if (!config) return;
      const log = logger.child({ deploymentId: deployment.id, repository: origin.repository, githubDeploymentId: origin.deploymentId });
      const status = deploymentStatus(deployment);
      for (const target of targetsOf(config, deployment, origin, log)) {
        try {
          // A redelivery, another replica's answer to the same delivery, or GitHub's webhook about smoke's own deployment status finds the row there: nothing new.
          const fresh = await queue.track(deployment.id, target, status, !postsPending(target.kind), now());
          if (fresh) log.info({ kind: target.kind, state: status.state }, `GitHub ${STATUS_KIND_INFO[target.kind].noun} queued`);
        } catch (err) {
          log.error({ err: describeError(err), kind: target.kind }, `a GitHub ${STATUS_KIND_INFO[target.kind].noun} could not be queued: the store refuses writes`);
        }
      }
      loop.wake();
    },
    observer: {
      verdictGiven(run, verdict) {
        return run.deploymentId ? change(run.deploymentId, verdictStatus(verdict)) : undefined;
      },
      deploymentFinished(deployment) {
        return change(deployment.id, deploymentStatus(deployment));
      },
    },
    start() {
      if (!config) {
        logger.info('GitHub statuses are off: set gates.github.token to post them');
        return;
      }
      stopped = false;
      halt = new AbortController();
      catchUpAtMs = now();
      loop.start();
    },
    async stop() {
      stopped = true;
      halt.abort();
      await loop.stop();
    },
    idle: () => loop.idle(),
  };
}

/** Where `gates.github.post` says the deployment's statuses go. */
function targetsOf(config: GitHubStatusConfig, deployment: DeploymentRecord, origin: GitHubOrigin, log: Logger): StatusTarget[] {
  const place = { repository: origin.repository, environment: deployment.environment };
  return config.post.flatMap((kind): StatusTarget[] => {
    if (kind === 'deployment') {
      return [{ kind, ...place, githubDeploymentId: origin.deploymentId, ...(origin.environmentUrl && { environmentUrl: origin.environmentUrl }) }];
    }
    if (origin.sha) return [{ kind, ...place, sha: origin.sha }];
    log.warn('the GitHub deployment names no commit sha: no commit status is posted');
    return [];
  });
}

/** What an attempt leads to: posted, given up, or tried again after GitHub's wait or the backoff. */
export function transition(row: Pick<QueuedStatus, 'attempts'>, outcome: PostOutcome, atMs: number): StatusTransition {
  if (outcome.kind === 'posted') return { status: 'posted' };
  if (outcome.kind === 'rejected') return { status: 'failed', error: outcome.error };
  const attempts = row.attempts + 1;
  if (attempts >= MAX_ATTEMPTS) return { status: 'failed', error: `${outcome.error}; gave up after ${attempts} attempts` };
  const backoff = Math.min(BACKOFF.maxMs, BACKOFF.firstMs * 2 ** row.attempts);
  return { status: 'queued', nextAttemptAtMs: atMs + (outcome.retryAfterMs ?? backoff), error: outcome.error };
}

