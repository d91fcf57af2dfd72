import type { Logger } from 'pino';
import type { DeploymentRecord, RunRecord, RunStatus } from './records.ts';
import type { AttemptCounts, FlowResult, Verdict } from '../verdict/types.ts';

export interface RunEnded {
  readonly status: Extract<RunStatus, 'done' | 'cancelled' | 'interrupted'>;
  readonly verdict?: Verdict;
  /** Wall time from start to end, milliseconds. */
  readonly durationMs: number;
  /** Browser attempts the run took. */
  readonly attempts?: AttemptCounts;
  /** The verdict was given before the run ended (`verdictGiven` was heard), so it is not news now. */
  readonly verdictGiven?: boolean;
}

/**
 * What other parts of the service (metrics, rollback signals, the scheduler)
 * learn from verifications. Every hook is optional and called after the
 * store has recorded the fact; a hook may be async (it writes to the store
 * itself), and its promise is watched for a rejection. A hook that throws or rejects is logged and never disturbs
 * the run, and no hook waits for another.
 */
export interface RunObserver {
  deploymentReceived?(deployment: DeploymentRecord): void;
  runStarted?(run: RunRecord): void;
  flowResult?(run: RunRecord, result: FlowResult): void;
  /** A deploy's verdict given before its run ended (a fail at its first confirmed regression). */
  verdictGiven?(run: RunRecord, verdict: Verdict): void;
  runFinished?(run: RunRecord, ended: RunEnded): void;
  /** The deployment is done: with its verdict, or superseded without one. */
  deploymentFinished?(deployment: DeploymentRecord): void;
}

type Hook = keyof RunObserver;
type Args<H extends Hook> = Parameters<NonNullable<RunObserver[H]>>;

/** Fans one event out to every observer, isolating their failures. */
export function notifier(observers: readonly RunObserver[], logger: Logger) {
  return <H extends Hook>(hook: H, ...args: Args<H>): void => {
    for (const observer of observers) {
      const fn = observer[hook] as ((...a: Args<H>) => unknown) | undefined;
      if (!fn) continue;
      const failed = (err: unknown) => logger.error({ err, hook }, 'a run observer failed');
      try {
        const pending = fn.apply(observer, args);
        if (pending instanceof Promise) pending.catch(failed);
      } catch (err) {
        failed(err);
      }
    }
  };
}
