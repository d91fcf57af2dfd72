import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ScheduleConfig } from '../config/config.ts';
import { NotFoundError, ShuttingDown } from '../errors.ts';
import type { RunRecord, RunTrigger, RunWithResults } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import type { Verifier } from '../verification/verifier.ts';
import { systemClock, type Clock, type CronTask, type TimerHandle } from './clock.ts';
import { schedulerMetrics } from './metrics.ts';

export interface ScheduleStatus {
  readonly schedule: ScheduleConfig;
  /** The earlier of the next cron tick and a pending re-check; null when stopped. */
  readonly nextRunAt: Date | null;
  /** When the pending re-check of a failing schedule starts, if one is pending. */
  readonly recheckAt: Date | null;
  /** A run of it is queued or running, or a cron start is waiting out its jitter. */
  readonly running: boolean;
  readonly activeRunIds: readonly string[];
  /** Its last run failed and no run since has passed. */
  readonly failing: boolean;
  readonly lastRun: RunRecord | undefined;
  /** Since this process started. */
  readonly ticks: { readonly started: number; readonly skipped: number; readonly missed: number };
}

export interface Scheduler {
  /** Starts every schedule's cron task. Call once, after the verifier has recovered. */
  start(): void;
  /** Destroys every cron task and clears every timer; runs already submitted are left to the verifier. */
  stop(): void;
  list(): ScheduleStatus[];
  /** Runs a schedule now, by hand (trigger `manual`), whether or not a run of it is going. */
  runNow(name: string): RunRecord[];
}

export interface SchedulerDeps {
  readonly schedules: readonly ScheduleConfig[];
  readonly verifier: Pick<Verifier, 'submitRun' | 'activeRuns'>;
  readonly store: Pick<Store, 'lastFinishedRunOfSchedule' | 'claimTick'>;
  readonly registry: Registry;
  /** `server.instanceId`, recorded with each tick this replica claims. */
  readonly replica?: string;
  readonly logger: Logger;
  readonly clock?: Clock;
}

interface State {
  readonly schedule: ScheduleConfig;
  readonly log: Logger;
  task?: CronTask;
  /** Submitted runs that have not ended. */
  readonly active: Set<string>;
  /** A cron start waiting out its jitter. */
  jitter?: TimerHandle;
  recheck?: { readonly timer: TimerHandle; readonly at: number };
  failing: boolean;
  started: number;
  skipped: number;
  missed: number;
}

/**
 * Runs each configured schedule on its cron cadence through the verifier, so
 * scheduled runs share the run limit with deploys and queue behind them. Every
 * replica fires every tick; the one that claims it in the store first runs it.
 * A schedule never overlaps itself on a replica: a tick that finds its
 * previous run still queued or running there is skipped and counted. A
 * failing schedule with `recheckSeconds` runs again at that interval until it
 * passes.
 */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { verifier, store, logger } = deps;
  const clock = deps.clock ?? systemClock(logger);
  const metrics = schedulerMetrics(deps.registry, deps.schedules.map((s) => s.name));
  const states = new Map<string, State>(
    deps.schedules.map((schedule) => [
      schedule.name,
      { schedule, log: logger.child({ schedule: schedule.name }), active: new Set(), failing: false, started: 0, skipped: 0, missed: 0 },
    ]),
  );
  let started = false;
  let stopped = false;

  const busy = (s: State) => s.active.size > 0 || s.jitter !== undefined;

  function tick(s: State, slot: Date): void {
    if (stopped || !claim(s, slot)) return;
    if (busy(s)) {
      s.skipped++;
      metrics.tick(s.schedule.name, 'skipped');
      s.log.warn(
        { pendingRuns: [...s.active], waitingOutJitter: s.jitter !== undefined, activeRuns: verifier.activeRuns },
        'schedule tick skipped: its previous run is still queued or running',
      );
      return;
    }
    s.started++;
    metrics.tick(s.schedule.name, 'started');
    const delayMs = Math.floor(clock.random() * s.schedule.jitterSeconds * 1000);
    if (delayMs === 0) {
      startScheduled(s);
      return;
    }
    cancelRecheck(s);
    s.jitter = clock.setTimeout(() => {
      s.jitter = undefined;
      startScheduled(s);
    }, delayMs);
  }

  /**
   * Takes the tick in the store before anything else (the jitter wait
   * included), so however many replicas share the store and fire it, one
   * runs it. False, counted, when this replica must leave it.
   */
  function claim(s: State, slot: Date): boolean {
    // Whole seconds, UTC: every replica has to name the same tick alike.
    const at = new Date(Math.floor(slot.getTime() / 1000) * 1000).toISOString();
    let won: boolean;
    try {
      won = store.claimTick(s.schedule.name, at, deps.replica);
    } catch (err) {
      // Run unclaimed, it could run on every replica at once: missing it once is the lesser harm.
      missed(s, slot, 'the store could not record the claim on it', err);
      return false;
    }
    if (!won) {
      metrics.tick(s.schedule.name, 'claimed_elsewhere');
      s.log.debug({ slot: at }, 'schedule tick left to the replica that claimed it first');
    }
    return won;
  }

  function missed(s: State, slot: Date, why = 'the process was too busy to start it in time', err?: unknown): void {
    s.missed++;
    metrics.tick(s.schedule.name, 'missed');
    s.log.warn({ slot, ...(err !== undefined && { err }) }, `schedule tick missed: ${why}`);
  }

  /** From a timer or cron callback, where a throw would have nobody to catch it. */
  function startScheduled(s: State): void {
    try {
      startRound(s, 'schedule');
    } catch (err) {
      s.log.error({ err }, 'could not start a scheduled run');
    }
  }

  /** One run per environment of the schedule; returns them as created. */
  function startRound(s: State, trigger: Exclude<RunTrigger, 'deploy'>): RunRecord[] {
    cancelRecheck(s);
    const { name, grep } = s.schedule;
    const submitted: { run: RunRecord; finished: Promise<RunWithResults> }[] = [];
    try {
      for (const environment of s.schedule.environments) {
        submitted.push(verifier.submitRun({ trigger, environment, schedule: name, ...(grep !== undefined && { grep }) }));
      }
    } finally {
      for (const { run, finished } of submitted) {
        s.active.add(run.id);
        const forget = () => void s.active.delete(run.id);
        finished.then(forget, forget);
      }
      if (submitted.length > 0) {
        Promise.all(submitted.map((x) => x.finished)).then(
          (runs) => settle(s, runs),
          (err: unknown) => s.log.error({ err }, 'lost track of a scheduled run'),
        );
      }
    }
    s.log.info({ trigger, runs: submitted.map((x) => ({ id: x.run.id, environment: x.run.target })) }, 'schedule started');
    return submitted.map((x) => x.run);
  }

  /** Decides, once nothing of the schedule is going any more, whether it needs a re-check. */
  function settle(s: State, runs: readonly RunWithResults[]): void {
    if (stopped) return;
    const failing = runs.some(isFailing);
    const passed = runs.every((r) => r.status === 'done' && r.verdict?.kind === 'pass');
    const wasFailing = s.failing;
    // An inconclusive round proves nothing either way: the schedule stays as it was.
    if (failing) s.failing = true;
    else if (passed) s.failing = false;
    if (wasFailing && !s.failing) s.log.info('schedule passes again: back to its cron cadence');
    if (busy(s) || !s.failing || s.schedule.recheckSeconds === undefined) return;
    const delayMs = s.schedule.recheckSeconds * 1000;
    const timer = clock.setTimeout(() => {
      s.recheck = undefined;
      // A run of it started meanwhile (a tick, by hand) and will decide instead.
      if (stopped || busy(s)) return;
      metrics.recheck(s.schedule.name);
      startScheduled(s);
    }, delayMs);
    s.recheck = { timer, at: clock.now() + delayMs };
    s.log.warn({ recheckSeconds: s.schedule.recheckSeconds, verdicts: runs.map((r) => r.verdict?.kind ?? r.status) }, 'schedule failing: re-checking');
  }

  function cancelRecheck(s: State): void {
    if (!s.recheck) return;
    clock.clearTimeout(s.recheck.timer);
    s.recheck = undefined;
  }

  return {
    start() {
      if (started) throw new Error('the scheduler was already started');
      started = true;
      for (const s of states.values()) {
        s.task = clock.cron(s.schedule.cron, s.schedule.timezone, s.schedule.name, { tick: (slot) => tick(s, slot), missed: (slot) => missed(s, slot) });
        s.log.info({ cron: s.schedule.cron, timezone: s.schedule.timezone, nextRunAt: s.task.nextRun() }, 'schedule armed');
      }
    },

    stop() {
      stopped = true;
      for (const s of states.values()) {
        s.task?.destroy();
        s.task = undefined;
        if (s.jitter !== undefined) clock.clearTimeout(s.jitter);
        s.jitter = undefined;
        cancelRecheck(s);
      }
    },

    list() {
      return [...states.values()].map((s) => {
        const next = s.task?.nextRun() ?? null;
        const recheckAt = s.recheck ? new Date(s.recheck.at) : null;
        return {
          schedule: s.schedule,
          nextRunAt: recheckAt && (!next || recheckAt < next) ? recheckAt : next,
          recheckAt,
          running: busy(s),
          activeRunIds: [...s.active],
          failing: s.failing,
          lastRun: store.lastFinishedRunOfSchedule(s.schedule.name),
          ticks: { started: s.started, skipped: s.skipped, missed: s.missed },
        };
      });
    },

    runNow(name) {
      const s = states.get(name);
      if (!s) throw new NotFoundError('schedule', name);
      if (stopped) throw new ShuttingDown();
      return startRound(s, 'manual');
    },
  };
}

/** A fail verdict, or any critical flow that failed in any environment (a broken baseline is worth re-checking too). */
export function isFailing(run: RunWithResults): boolean {
  return run.verdict?.kind === 'fail' || run.results.some((r) => r.outcome === 'failed');
}
