import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { RunRecord } from './records.ts';

/**
 * How often a replica asks the store for queued work it was not told about:
 * runs queued through another replica, or left by one that stopped. Work
 * queued through this replica starts at once without waiting for it.
 */
export const CLAIM_POLL_MS = 1_000;

export interface ClaimLoopDeps {
  readonly store: Pick<Store, 'claimNextRun'>;
  /** `server.instanceId`: the name the claimed runs carry. */
  readonly replica: string;
  readonly leaseMs: number;
  /** Runs this replica may start now (free slots); 0 while stopping. */
  readonly freeSlots: () => number;
  /** True while the store refuses writes: a claim could not be recorded. */
  readonly holding: () => boolean;
  /** The store refused the claim. */
  readonly refused: (err: unknown) => void;
  /** Starts a claimed run; must register it before returning, so `freeSlots` counts it. */
  readonly start: (run: RunRecord) => void;
  readonly logger: Logger;
}

export interface ClaimLoop {
  /** Claims queued runs now, while there are free slots. */
  wake(): void;
  start(): void;
  /** Stops polling and waits for a claim in flight, so no run starts after it resolves. */
  stop(): Promise<void>;
}

/**
 * Takes work from the store's queue, shared by every replica: each claim is
 * one atomic statement (`claimNextRun`), so a run is started by exactly one
 * replica, in priority order across all of them, and capacity grows with
 * replicas since each claims only up to its own `runs.concurrency`.
 */
export function createClaimLoop(deps: ClaimLoopDeps): ClaimLoop {
  const { store, logger } = deps;
  let claiming: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function claimWhileFree(): Promise<void> {
    do {
      again = false;
      while (!stopped && !deps.holding() && deps.freeSlots() > 0) {
        let run: RunRecord | undefined;
        try {
          run = await store.claimNextRun(deps.replica, deps.leaseMs);
        } catch (err) {
          // Nothing was claimed: the queue keeps the run for whoever can write first.
          deps.refused(err);
          logger.debug({ err: describeError(err) }, 'claiming queued work failed');
          return;
        }
        if (!run) break;
        // Started even if a stop began meanwhile: the stop then interrupts it like any running run.
        deps.start(run);
      }
    } while (again && !stopped);
  }

  function wake(): void {
    if (stopped) return;
    if (claiming) {
      again = true;
      return;
    }
    claiming = claimWhileFree().finally(() => {
      claiming = undefined;
    });
  }

  return {
    wake,
    start() {
      timer = setInterval(wake, CLAIM_POLL_MS);
      timer.unref();
      wake();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await claiming;
    },
  };
}
