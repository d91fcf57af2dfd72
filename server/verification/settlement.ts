import type { Logger } from 'pino';
import { describeError } from '../errors.ts';
import type { RunRecord } from './records.ts';
import type { Settlement, Store } from '../store/store.ts';
import type { Verdict } from '../verdict/types.ts';
import type { RunEnded } from './observer.ts';

/** How a verification ended: what to store, in one transaction, and what to tell observers once it is stored. */
export interface Ending extends Settlement {
  /** The run as it started; with `ended`, observers hear `runFinished` (only runs they saw start). */
  readonly record?: RunRecord;
  readonly ended?: RunEnded;
  /** A deploy's verdict given while its run goes on: with `record`, observers hear `verdictGiven` once it is stored. */
  readonly given?: Verdict;
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface SettlerDeps {
  readonly store: Pick<Store, 'settle'>;
  readonly logger: Logger;
  /**
   * Called once an ending is stored, with which of its run and deployment
   * were still open; the next ending waits for it, so observers hear endings
   * in the order they were stored.
   */
  readonly landed: (ending: Ending, changed: { run: boolean; deployment: boolean }) => unknown;
  /** Called when the store takes writes again after refusing them: start held work. */
  readonly recovered: () => void;
  /** A write that proves the store takes writes again, when no held ending is there to prove it. */
  readonly probe?: () => Promise<void>;
  readonly timers?: Timers;
  /** Retry delays while the store refuses writes, milliseconds: doubling from `firstMs` up to `maxMs`. */
  readonly backoff?: { readonly firstMs: number; readonly maxMs: number };
}

export interface Settler {
  /** Stores the ending as soon as it can (in order) or, while the store refuses writes, keeps it and retries until it lands. */
  settle(ending: Ending): void;
  /** The store refused some other write (starting a run): hold new work and retry with backoff. */
  refused(err: unknown): void;
  /** A write just went through elsewhere: if holding, retry now rather than at the next step. */
  wrote(): void;
  /** True while the store refuses writes: start no new run, it could not be recorded. */
  readonly holding: boolean;
  /** Resolves once nothing is being written (endings may still be held for a retry). */
  idle(): Promise<void>;
  /** Stops retrying after one last try; resolves with how many endings are still not stored. */
  stop(): Promise<number>;
}

export const DEFAULT_BACKOFF = { firstMs: 500, maxMs: 15_000 };

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Writes how verifications end, and never loses one: when the store refuses
 * (disk full, read-only, PostgreSQL down), the ending stays in memory, oldest
 * first, and is retried on a timer with backoff; nobody hears of it (no
 * observer, no waiting caller) before it is stored, so nothing shows a
 * verdict the store does not have. Endings are written one at a time, in the
 * order they came. A stop before one lands leaves the run open in the store,
 * and it is resumed (by this replica's next start, or by another replica).
 */
export function createSettler(deps: SettlerDeps): Settler {
  const { store, logger } = deps;
  const timers = deps.timers ?? realTimers;
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const pending: Ending[] = [];
  let holding = false;
  let step = 0;
  let timer: unknown;
  let stopped = false;
  /** The one write loop in progress, if any: endings never land out of order. */
  let writing: Promise<boolean> | undefined;

  async function announce(ending: Ending, changed: { run: boolean; deployment: boolean }): Promise<void> {
    try {
      await deps.landed(ending, changed);
    } catch (err) {
      // Stored already: a failure to announce it must not put it back in line.
      logger.error({ err: describeError(err) }, 'announcing a stored verification ending failed');
    }
  }

  /** Stores pending endings in order; false at the first refusal. */
  function flush(): Promise<boolean> {
    if (writing) return writing;
    const loop = (async () => {
      while (pending.length > 0) {
        const ending = pending[0]!;
        let changed: { run: boolean; deployment: boolean };
        try {
          changed = await store.settle(ending);
        } catch (err) {
          refused(err);
          return false;
        }
        pending.shift();
        await announce(ending, changed);
      }
      return true;
    })();
    // Cleared only once the loop is done, and only if no newer loop replaced it
    // (a loop with nothing to write finishes before this line would run).
    writing = loop;
    void loop.finally(() => {
      if (writing === loop) writing = undefined;
    });
    return loop;
  }

  function refused(err: unknown): void {
    holding = true;
    // One timer, one log line per backoff step, however many writes failed meanwhile.
    if (timer !== undefined || stopped) return;
    const delayMs = Math.min(backoff.firstMs * 2 ** step, backoff.maxMs);
    step++;
    logger.error(
      { err: describeError(err), unstored: pending.length, retryInMs: delayMs },
      'the store refuses writes: holding new runs and retrying',
    );
    timer = timers.set(() => void retry(), delayMs);
  }

  async function retry(): Promise<void> {
    timer = undefined;
    if (stopped || !(await flush()) || stopped) return;
    try {
      await deps.probe?.();
    } catch (err) {
      // Still refusing: keep the backoff growing rather than restarting held work every half second.
      refused(err);
      return;
    }
    holding = false;
    step = 0;
    logger.info('the store takes writes again: resuming');
    deps.recovered();
  }

  return {
    settle(ending) {
      pending.push(ending);
      // While holding, the timer keeps the order and the pace.
      if (!holding) void flush();
    },
    refused,
    wrote() {
      if (!holding || stopped) return;
      if (timer !== undefined) timers.clear(timer);
      void retry();
    },
    get holding() {
      return holding;
    },
    async idle() {
      for (let current = writing; current; current = writing === current ? undefined : writing) await current;
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) timers.clear(timer);
      timer = undefined;
      await this.idle();
      try {
        while (pending.length > 0) {
          const ending = pending[0]!;
          const changed = await store.settle(ending);
          pending.shift();
          await announce(ending, changed);
        }
      } catch {
        // Still refused: the open run is resumed later, by this replica or another.
      }
      return pending.length;
    },
  };
}
