import type { Timers } from '../verification/settlement.ts';

/**
 * How often a replica looks for due work it was not told about, milliseconds:
 * a signal or status another replica queued, or left behind when it died
 * mid-attempt (its lease ran out), is only found by looking.
 */
export const POLL_MS = 5_000;
/** setTimeout's ceiling. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ClaimLoopDeps {
  /** Claims what is due in the shared store and attempts it, until nothing is due; rejects when the store refuses. */
  readonly sweep: () => Promise<void>;
  /** Epoch ms of the earliest attempt due in the store, whichever replica queued it. */
  readonly nextDueAtMs: () => Promise<number | undefined>;
  /** Pause before the next sweep after `sweep` or `nextDueAtMs` rejected, milliseconds (and the place to log it). */
  readonly failed: (err: unknown) => number;
  /** Told after a sweep that worked, to reset a backoff. */
  readonly succeeded?: () => void;
  readonly now: () => number;
  readonly timers: Timers;
  readonly pollMs?: number;
}

export interface ClaimLoop {
  start(): void;
  /** Something was queued here: sweep now (or right after the sweep under way). */
  wake(): void;
  /** No sweep starts after this; resolves once the one under way has ended. */
  stop(): Promise<void>;
  /** Resolves once no sweep is under way. */
  idle(): Promise<void>;
}

/**
 * The delivery loop shared by the rollback signals and the GitHub statuses:
 * one sweep at a time, woken by local enqueues, by the earliest due time in
 * the store, and by a poll, since every replica of one store delivers for all.
 */
export function createClaimLoop(deps: ClaimLoopDeps): ClaimLoop {
  const pollMs = deps.pollMs ?? POLL_MS;
  let stopped = true;
  let running: Promise<void> | undefined;
  let again = false;
  let timer: unknown;

  function wake(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    deps.timers.clear(timer);
    timer = undefined;
    running = cycle().finally(() => {
      running = undefined;
      if (stopped) return;
      if (again) {
        again = false;
        wake();
      }
    });
  }

  async function cycle(): Promise<void> {
    let pauseMs: number;
    try {
      await deps.sweep();
      deps.succeeded?.();
      const next = await deps.nextDueAtMs();
      pauseMs = next === undefined ? pollMs : Math.min(pollMs, Math.max(0, next - deps.now()));
    } catch (err) {
      pauseMs = deps.failed(err);
      // A store that refuses is given its pause, even when something was queued meanwhile: no tight loop.
      again = false;
    }
    if (!stopped && !again) timer = deps.timers.set(wake, Math.min(MAX_TIMER_MS, pauseMs));
  }

  return {
    start() {
      stopped = false;
      wake();
    },
    wake,
    async stop() {
      stopped = true;
      deps.timers.clear(timer);
      timer = undefined;
      while (running) await running;
    },
    async idle() {
      while (running) await running;
    },
  };
}

/**
 * One sweep's work for a claim loop: claims a batch and attempts each, until
 * none is due or `stopped()`. Every claimed item is attempted, even when
 * stopping: its lease would hold it back from the other replicas. The first
 * refusal (the store would not record an outcome) ends the sweep once its
 * batch has settled.
 */
export async function drainClaims<T>(
  claim: () => Promise<readonly T[]>,
  attempt: (item: T) => Promise<void>,
  stopped: () => boolean,
  afterBatch?: () => void,
): Promise<void> {
  while (!stopped()) {
    const due = await claim();
    if (due.length === 0) return;
    const settled = await Promise.allSettled(due.map((item) => attempt(item)));
    afterBatch?.();
    const refused = settled.find((s) => s.status === 'rejected');
    if (refused) throw refused.reason;
  }
}

/** Real timers that never keep the process alive on their own. */
export const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
