import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import { linksFrom } from '../links.ts';
import type { DeploymentRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import type { RunObserver } from '../verification/observer.ts';
import type { Timers } from '../verification/settlement.ts';
import { STATUS_KINDS, type GitHubStatusConfig } from './config.ts';
import { deploymentStatus, postStatus, verdictStatus, type PostOutcome, type StatusUpdate } from './github-status.ts';
import { describeTarget, postsPending, refusalHint, STATUS_KIND_INFO, statusRequest, type StatusTarget } from './github-status-kinds.ts';
import type { QueuedStatus, StatusQueue, StatusTransition } from './github-status-queue.ts';

/** Statuses posted at once. */
const BATCH = 4;
/** One POST's deadline, milliseconds. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** Attempts at one state before it is given up: with the backoff below, about a quarter of an hour of a GitHub outage. */
export const MAX_ATTEMPTS = 10;
/** Waits between failed attempts, milliseconds: doubling from `firstMs` up to `maxMs` (GitHub's Retry-After wins). */
export const BACKOFF = { firstMs: 2_000, maxMs: 300_000 };
/** A state not posted within this long (the service was down, GitHub refused for hours) is given up: it would mislead by now. */
export const MAX_AGE_MS = 24 * 3_600_000;
/** Pause after the store refused to record an attempt, milliseconds. */
export const STORE_RETRY_MS = 30_000;
/** setTimeout's ceiling; a later due time is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
   * verdict. Never throws.
   */
  accepted(deployment: DeploymentRecord, origin: GitHubOrigin): void;
  /** Turns verdicts of tracked deployments into their final status. */
  readonly observer: RunObserver;
  /** Settles what a crash left behind, then posts what is due. */
  start(): void;
  /** Stops posting: an attempt under way is cut short and stays queued for the next start. */
  stop(): Promise<void>;
  /** Resolves once no attempt is under way. */
  idle(): Promise<void>;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Writes smoke's verdict back to GitHub as a commit status and a deployment
 * status (`gates.github.post`), each linking the deployment page. Each kind
 * is its own row with its own retries, so a token that may write only one
 * kind costs the other nothing. Posting happens on its own timer, off the
 * request path and after the verdict is stored, so a slow or refusing GitHub
 * never delays a verdict or a rollback signal.
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
  let timer: unknown;
  let sweeping: Promise<void> | undefined;
  let again = false;
  let halt = new AbortController();
  /** A verdict the store refused to queue (disk full): the catch-up finds it once writes work again. */
  let missed = false;

  function wake(): void {
    if (stopped || !config) return;
    if (missed) {
      missed = false;
      // Its `change` wakes the poster again, which then finds it awake.
      catchUp();
    }
    if (sweeping) {
      again = true;
      return;
    }
    timers.clear(timer);
    timer = undefined;
    let pauseMs: number | undefined;
    sweeping = sweep(config)
      .catch((err: unknown) => {
        pauseMs = STORE_RETRY_MS;
        logger.error({ err: describeError(err), retryInMs: pauseMs }, 'a GitHub status could not be recorded: the store refuses writes; retrying');
      })
      .finally(() => {
        sweeping = undefined;
        if (stopped) return;
        if (pauseMs !== undefined) timer = timers.set(wake, pauseMs);
        else if (again) {
          again = false;
          wake();
        } else arm();
      });
  }

  function arm(): void {
    const next = queue.nextDueAtMs();
    const delayMs = Math.min(next === undefined ? MAX_TIMER_MS : Math.max(0, next - now()), missed ? STORE_RETRY_MS : MAX_TIMER_MS);
    if (next !== undefined || missed) timer = timers.set(wake, delayMs);
  }

  async function sweep(config: GitHubStatusConfig): Promise<void> {
    for (;;) {
      const due = queue.due(now(), BATCH);
      if (due.length === 0 || stopped) return;
      await Promise.all(due.map((row) => attempt(config, row)));
    }
  }

  async function attempt(config: GitHubStatusConfig, row: QueuedStatus): Promise<void> {
    const log = logger.child({ deploymentId: row.deploymentId, kind: row.kind, target: describeTarget(row), state: row.state });
    const startedAt = now();
    if (startedAt - row.updatedAtMs >= MAX_AGE_MS) {
      return settle(log, row, { status: 'failed', error: `not posted within ${MAX_AGE_MS / 3_600_000} h${row.lastError ? `; last error: ${row.lastError}` : ''}` });
    }
    const link = linksFrom(deps.publicBase()).page.deployment(row.deploymentId);
    const outcome = await postStatus(statusRequest(config, row, row, link), ATTEMPT_TIMEOUT_MS, startedAt, halt.signal);
    if (outcome.kind === 'retry' && halt.signal.aborted) return; // Stopping: the row stays queued for the next start.
    const explained = outcome.kind === 'rejected' ? { ...outcome, error: outcome.error + refusalHint(row, outcome.statusCode) } : outcome;
    settle(log, row, transition(row, explained, now()));
  }

  function settle(log: Logger, row: QueuedStatus, then: StatusTransition): void {
    queue.record(row, then, now());
    const noun = STATUS_KIND_INFO[row.kind].noun;
    if (then.status === 'queued') {
      log.warn({ attempt: row.attempts + 1, error: then.error, retryAt: new Date(then.nextAttemptAtMs).toISOString() }, `GitHub ${noun} not posted; will retry`);
      return;
    }
    posts.inc({ kind: row.kind, state: row.state, result: then.status });
    if (then.status === 'posted') log.info({ attempt: row.attempts + 1 }, `GitHub ${noun} posted`);
    else log.error({ attempt: row.attempts + 1, error: then.error }, `GitHub ${noun} for ${describeTarget(row)} given up`);
  }

  /** Records a new state for a tracked deployment and posts it; untracked deployments are not the gate's. */
  function change(deploymentId: string, status: StatusUpdate): void {
    if (!config) return;
    try {
      if (queue.change(deploymentId, status, now()) > 0) wake();
    } catch (err) {
      logger.error({ err: describeError(err), deploymentId, retryInMs: STORE_RETRY_MS }, 'a GitHub status could not be queued: the store refuses writes; retrying');
      if (missed || stopped) return;
      missed = true;
      if (!sweeping) {
        timers.clear(timer);
        arm();
      }
    }
  }

  /** Deployments judged while a crash or a full disk kept their verdict from the queue: their pending status is replaced. */
  function catchUp(): void {
    try {
      // One change covers every kind of the deployment.
      for (const deploymentId of new Set(queue.awaitingVerdict(1_000).map((row) => row.deploymentId))) {
        const deployment = store.getDeployment(deploymentId);
        if (deployment?.status === 'done') change(deploymentId, deploymentStatus(deployment));
      }
    } catch (err) {
      logger.error({ err: describeError(err) }, 'GitHub statuses: the catch-up failed; retrying');
      missed = true;
    }
  }

  return {
    accepted(deployment, origin) {
      if (!config) return;
      const log = logger.child({ deploymentId: deployment.id, repository: origin.repository, githubDeploymentId: origin.deploymentId });
      const status = deploymentStatus(deployment);
      for (const target of targetsOf(config, deployment, origin, log)) {
        try {
          // A redelivery, or GitHub's webhook about smoke's own deployment status, finds the row there: nothing new.
          const fresh = queue.track(deployment.id, target, status, !postsPending(target.kind), now());
          if (fresh) log.info({ kind: target.kind, state: status.state }, `GitHub ${STATUS_KIND_INFO[target.kind].noun} queued`);
        } catch (err) {
          log.error({ err: describeError(err), kind: target.kind }, `a GitHub ${STATUS_KIND_INFO[target.kind].noun} could not be queued: the store refuses writes`);
        }
      }
      wake();
    },
    observer: {
      verdictGiven(run, verdict) {
        if (run.deploymentId) change(run.deploymentId, verdictStatus(verdict));
      },
      deploymentFinished(deployment) {
        change(deployment.id, deploymentStatus(deployment));
      },
    },
    start() {
      if (!config) {
        logger.info('GitHub statuses are off: set gates.github.token to post them');
        return;
      }
      stopped = false;
      halt = new AbortController();
      catchUp();
      wake();
    },
    async stop() {
      stopped = true;
      halt.abort();
      timers.clear(timer);
      timer = undefined;
      await sweeping;
    },
    idle: async () => {
      while (sweeping) await sweeping;
    },
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

