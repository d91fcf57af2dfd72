import { createTask, type Logger as CronLogger } from 'node-cron';
import type { Logger } from 'pino';

/** A started cron task, as far as the scheduler needs one. */
export interface CronTask {
  /** When it fires next, or null if it never will. */
  nextRun(): Date | null;
  /** Stops it for good and releases its timer. */
  destroy(): void;
}

export type TimerHandle = unknown;

export interface CronHandlers {
  /**
   * A tick to run now. `slot` is the time it was scheduled for (whole
   * seconds), not the time it fired: every replica names the same tick alike.
   * Settles once the tick has been claimed and started or left (never
   * rejects), so a fake clock can await what it fired.
   */
  tick(slot: Date): void | Promise<void>;
  /** A tick that came and went while the process could not run it (the event loop was blocked). */
  missed(slot: Date): void;
}

/** How late a tick may still run, ms: late beats never, unless the next tick is due as well. */
const LATE_TICK_TOLERANCE_MS = 60_000;

/**
 * Time as the scheduler sees it: cron tasks, timers and randomness. The
 * service uses {@link systemClock}; tests pass a fake they advance by hand.
 */
export interface Clock {
  cron(expression: string, timezone: string, name: string, on: CronHandlers): CronTask;
  /** `fn` may return a promise (never rejecting) that a fake clock can await. */
  setTimeout(fn: () => void | Promise<void>, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Milliseconds since the epoch. */
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
}

/** Real time: node-cron tasks and Node timers, with node-cron's own warnings sent to `logger`. */
export function systemClock(logger: Logger): Clock {
  const cronLogger: CronLogger = {
    info: (message) => logger.info(message),
    warn: (message) => logger.warn(message),
    error: (message, err) => logger.error({ err }, String(message)),
    debug: (message, err) => logger.debug({ err }, String(message)),
  };
  return {
    cron(expression, timezone, name, on) {
      // noOverlap stays off: the scheduler tracks overlap itself, because only it
      // knows about runs started by hand and by re-checks, and it counts the skips.
      const task = createTask(expression, (context) => void on.tick(context.date), {
        timezone,
        name,
        logger: cronLogger,
        missedExecutionTolerance: LATE_TICK_TOLERANCE_MS,
        // The scheduler logs and counts them.
        suppressMissedWarning: true,
      });
      task.on('execution:missed', (context) => on.missed(context.date));
      void task.start();
      return {
        nextRun: () => task.getNextRun(),
        destroy: () => void Promise.resolve(task.destroy()).catch((err: unknown) => logger.error({ err }, 'cron task did not stop cleanly')),
      };
    },
    setTimeout: (fn, ms) => setTimeout(() => void fn(), ms),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    now: () => Date.now(),
    random: () => Math.random(),
  };
}
