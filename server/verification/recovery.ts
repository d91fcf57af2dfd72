import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { describeError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { DeploymentRecord } from './records.ts';
import type { Settler } from './settlement.ts';

/** Longest gap between two looks for work a stopped or dead replica left behind, milliseconds. */
export const SWEEP_EVERY_MS = 5_000;

export interface RecoveryDeps {
  readonly config: Config;
  readonly store: Store;
  readonly settler: Settler;
  readonly logger: Logger;
  /** Runs were queued: claim them. */
  readonly queued: () => void;
}

export interface Recovery {
  /** What this replica's own earlier incarnation left (same `server.instanceId`), then a first sweep. */
  atStart(): Promise<void>;
  /** Takes over what other replicas left: runs whose lease ran out, deployments left without a run. */
  sweep(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Nothing is lost when a replica dies: every replica sweeps the store for
 * running runs whose lease ran out (`expireLeases` hands each to exactly one
 * sweeper, which ends it `interrupted`) and for open deployments left with no
 * run (an interrupted or shut-down one), and queues the deployment again, up
 * to `runs.resumeAttempts` times, then judges it inconclusive (the service's
 * fault, never the deploy's). A deployment has at most one open run (the
 * store refuses a second), so two sweepers never queue it twice.
 */
export function createRecovery(deps: RecoveryDeps): Recovery {
  const { config, store, settler, logger } = deps;
  const replica = config.server.instanceId;
  const leaseMs = config.runs.leaseSeconds * 1000;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;

  async function resume(deployment: DeploymentRecord, newerOpen: string | undefined): Promise<void> {
    if (newerOpen) {
      settler.settle({ deployment: { id: deployment.id, supersededBy: newerOpen } });
      return;
    }
    const runs = await store.runsOfDeployment(deployment.id);
    const interrupted = runs.filter((r) => r.status === 'interrupted').length;
    if (interrupted > config.runs.resumeAttempts) {
      const reasons = [
        `the verification was interrupted ${interrupted} times (a replica crashed, was killed, restarted or lost the database) and was not run again (runs.resumeAttempts: ${config.runs.resumeAttempts})`,
      ];
      settler.settle({ deployment: { id: deployment.id, verdict: { kind: 'inconclusive', cause: 'service', reasons } } });
      return;
    }
    const environments = deployment.baseline ? [deployment.environment, deployment.baseline] : [deployment.environment];
    const run = await store.createRun({ deploymentId: deployment.id, trigger: 'deploy', target: deployment.environment, environments });
    // Undefined: another replica queued it first.
    if (run) logger.info({ deploymentId: deployment.id, runId: run.id, attempt: interrupted + 1 }, 'verification resumed');
  }

  async function sweepOnce(): Promise<void> {
    for (const run of await store.expireLeases()) {
      logger.warn({ runId: run.id, deploymentId: run.deploymentId, replica: run.replica }, 'run lost its replica (lease ran out): taking it over');
    }
    const orphans = await store.orphanedDeployments();
    if (orphans.length === 0) return;
    // The newest open deployment of an environment wins; an older one left behind is superseded by it.
    const open = await store.openDeployments();
    const newest = new Map(open.map((d) => [d.environment, d.id]));
    for (const deployment of orphans) {
      const newer = newest.get(deployment.environment);
      await resume(deployment, newer !== deployment.id ? newer : undefined);
    }
    deps.queued();
  }

  function sweep(): Promise<void> {
    sweeping ??= sweepOnce()
      .catch((err: unknown) => {
        // The store is down or refusing: the next sweep tries again; nothing was half-done (each step is one write).
        logger.warn({ err: describeError(err) }, 'the sweep for work left by other replicas failed');
      })
      .finally(() => {
        sweeping = undefined;
      });
    return sweeping;
  }

  return {
    async atStart() {
      // Runs this very replica (same name, e.g. a pod restarted in place) was running cannot still be running.
      for (const run of await store.openRuns()) {
        if (run.status !== 'running' || run.replica !== replica) continue;
        await store.finishRun(run.id, { status: 'interrupted', note: `replica ${replica} restarted while this run was in progress (crash, kill -9 or restart)` });
        logger.warn({ runId: run.id, deploymentId: run.deploymentId }, 'run was interrupted by a restart of this replica');
      }
      await sweep();
    },
    sweep,
    start() {
      timer = setInterval(() => void sweep(), Math.min(SWEEP_EVERY_MS, Math.max(1_000, Math.floor(leaseMs / 3))));
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}
