import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { stopReason } from './execution.ts';

/**
 * Longest gap between two renewals of a running run's lease, milliseconds.
 * Short, because the same round trip tells a replica that a newer deploy
 * (posted to any replica) superseded its run: the issue asks for that within
 * a few seconds. A third of the lease when that is shorter, so two renewals
 * can fail before the lease runs out.
 */
export const RENEW_EVERY_MS = 2_000;

export interface Held {
  readonly runId: string;
  readonly controller: AbortController;
}

export interface LeaseKeeperDeps {
  readonly store: Pick<Store, 'renewLease'>;
  readonly replica: string;
  readonly leaseMs: number;
  /** The runs this replica is running now. */
  readonly held: () => Iterable<Held>;
  readonly logger: Logger;
}

export interface LeaseKeeper {
  start(): void;
  stop(): Promise<void>;
}

/**
 * Renews the lease of every run this replica runs, so no other replica
 * takes them over, and stops a run whose lease was lost (another replica
 * found it run out and verifies the deployment again) or whose deployment a
 * newer deploy superseded on another replica.
 */
export function createLeaseKeeper(deps: LeaseKeeperDeps): LeaseKeeper {
  const { store, logger } = deps;
  const everyMs = Math.min(RENEW_EVERY_MS, Math.floor(deps.leaseMs / 3));
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;

  async function renew({ runId, controller }: Held): Promise<void> {
    if (controller.signal.aborted) return;
    try {
      const lease = await store.renewLease(runId, deps.replica, deps.leaseMs);
      if (controller.signal.aborted) return;
      if (!lease.held) {
        logger.warn({ runId }, "lost the run's lease: another replica took it over; stopping it here");
        controller.abort(stopReason({ kind: 'lost' }));
      } else if (lease.deploymentDone && lease.supersededBy !== undefined) {
        // Done without `supersededBy` is this replica's own early verdict (runs.failFast off): the run goes on.
        logger.info({ runId, supersededBy: lease.supersededBy }, 'deployment superseded on another replica: stopping its run');
        controller.abort(stopReason({ kind: 'superseded', by: lease.supersededBy }));
      }
    } catch (err) {
      // The lease still stands until it runs out; the next round tries again.
      logger.warn({ runId, err: describeError(err) }, "could not renew the run's lease");
    }
  }

  function tick(): void {
    // A round still waiting on a slow store is not doubled.
    round ??= Promise.all([...deps.held()].map(renew)).then(() => {
      round = undefined;
    });
  }

  return {
    start() {
      timer = setInterval(tick, everyMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await round;
    },
  };
}
