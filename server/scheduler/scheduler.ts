import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ScheduleConfig } from '../config/config.ts';
import { NotFoundError, ShuttingDown } from '../errors.ts';
import type { RunRecord, RunTrigger, RunWithResults } from '../verification/records.ts';
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
  /** A run of it is queued or running (on any replica), or a cron start here is waiting out its jitter. */
  readonly running: boolean;
  readonly activeRunIds: readonly string[];
  /** Its last run failed and no run since has passed, as far as this replica saw its runs end. */
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
  /** Each schedule as the store and this replica know it; rejects when the store cannot be read. */
  list(): Promise<ScheduleStatus[]>;
  /** Runs a schedule now, by hand (trigger `manual`), whether or not a run of it is going. */
  runNow(name: string): Promise<RunRecord[]>;
}

export interface SchedulerDeps {
  readonly schedules: readonly ScheduleConfig[];
  readonly verifier: Pick<Verifier, 'submitRun' | 'activeRuns'>;
  readonly store: Pick<Store, 'lastFinishedRunOfSchedule' | 'claimTick' | 'openRuns'>;
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
  /** Runs this replica submitted that have not ended. */
  readonly active: Set<string>;
  /** Rounds being written to the store now: their runs are not there yet. */
  submitting: number;
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
 * A schedule never overlaps itself: a tick that finds its previous run still
 * queued or running (on any replica) is skipped and counted. A failing
 * schedule with `recheckSeconds` runs again at that interval until it passes.
 */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { verifier, store, logger } = deps;
  const clock = deps.clock ?? systemClock(logger);
  const metrics = schedulerMetrics(deps.registry, deps.schedules.map((s) => s.name));
  const states = new Map<string, State>(
    deps.schedules.map((schedule) => [
      schedule.name,
      { schedule, log: logger.child({ schedule: schedule.name }), active: new Set(), submitting: 0, failing: false, started: 0, skipped: 0, missed: 0 },
    ]),
  );
  let started = false;
  let stopped = false;

  /** What this replica itself has going for the schedule, including what is not in the store yet. */
  const busyHere = (s: State) => s.active.size > 0 || s.submitting > 0 || s.jitter !== undefined;

  /**
   * The schedule's queued or running runs, from the store rather than from
   * memory: whichever replica claimed the tick that started them, any
   * replica with a free slot may be running them, and the next tick may be
   * claimed by a third. `openRuns` reads only open runs (a partial index), a
   * set bounded by the queue, and gives the exact answer; the newest few runs
   * of the schedule (`listRuns`) could miss an older round still running
   * behind a newer one started by hand.
   */
  async function openRunsOf(names: ReadonlySet<string>): Promise<Map<string, string[]>> {
    const open = new Map<string, string[]>();
    for (const run of await store.openRuns()) {
      if (run.schedule === undefined || !names.has(run.schedule)) continue;
      open.set(run.schedule, [...(open.get(run.schedule) ?? []), run.id]);
    }
    return open;
  }

  /** Never rejects: it runs from cron, where a rejection would have nobody to catch it. */
  async function tick(s: State, slot: Date): Promise<void> {
    if (stopped || !(await claim(s, slot)) || stopped) return;
    let elsewhere: string[];
    try {
      elsewhere = busyHere(s) ? [] : ((await openRunsOf(new Set([s.schedule.name]))).get(s.schedule.name) ?? []);
    } catch (err) {
      // Claimed, but whether its last run is still going is unknown: running it could overlap, so it is missed.
      missed(s, slot, 'the store could not say whether its previous run is still going', err);
      return;
    }
    if (stopped) return;
    // Checked again after the read: a tick of the same schedule may have started meanwhile.
    if (busyHere(s) || elsewhere.length > 0) {
      s.skipped++;
      metrics.tick(s.schedule.name, 'skipped');
      s.log.warn(
        { pendingRuns: [...s.active, ...elsewhere], waitingOutJitter: s.jitter !== undefined, activeRuns: verifier.activeRuns },
        'schedule tick skipped: its previous run is still queued or running',
      );
      return;
    }
    s.started++;
    metrics.tick(s.schedule.name, 'started');
    const delayMs = Math.floor(clock.random() * s.schedule.jitterSeconds * 1000);
    if (delayMs === 0) {
      await startScheduled(s);
      return;
    }
    cancelRecheck(s);
    s.jitter = clock.setTimeout(() => {
      s.jitter = undefined;
      return startScheduled(s);
    }, delayMs);
  }

  /**
   * Takes the tick in the store before anything else (the jitter wait
   * included), so however many replicas share the store and fire it, one
   * runs it. False, counted, when this replica must leave it.
   */
  async function claim(s: State, slot: Date): Promise<boolean> {
    // Whole seconds, UTC: every replica has to name the same tick alike.
    const at = new Date(Math.floor(slot.getTime() / 1000) * 1000).toISOString();
    let won: boolean;
    try {
      won = await store.claimTick(s.schedule.name, at, deps.replica);
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

  /** From a timer or cron callback, where a rejection would have nobody to catch it. */
  async function startScheduled(s: State): Promise<void> {
    try {
      await startRound(s, 'schedule');
    } catch (err) {
      s.log.error({ err }, 'could not start a scheduled run');
    }
  }

  /** One run per environment of the schedule; returns them as created. */
  async function startRound(s: State, trigger: Exclude<RunTrigger, 'deploy'>): Promise<RunRecord[]> {
    cancelRecheck(s);
    const { name, grep } = s.schedule;
    const submitted: { run: RunRecord; finished: Promise<RunWithResults> }[] = [];
    s.submitting++;
    try {
      for (const environment of s.schedule.environments) {
        submitted.push(await verifier.submitRun({ trigger, environment, schedule: name, ...(grep !== undefined && { grep }) }));
      }
    } finally {
      s.submitting--;
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
    if (busyHere(s) || !s.failing || s.schedule.recheckSeconds === undefined) return;
    const delayMs = s.schedule.recheckSeconds * 1000;
    // A re-check is this replica's own (it saw the round fail), not a tick: no claim, and no other replica runs it.
    const timer = clock.setTimeout(() => {
      s.recheck = undefined;
      return recheck(s);
    }, delayMs);
    s.recheck = { timer, at: clock.now() + delayMs };
    s.log.warn({ recheckSeconds: s.schedule.recheckSeconds, verdicts: runs.map((r) => r.verdict?.kind ?? r.status) }, 'schedule failing: re-checking');
  }

  async function recheck(s: State): Promise<void> {
    // A run of it started meanwhile (a tick here or on another replica, by hand) and will decide instead.
    if (stopped || busyHere(s)) return;
    try {
      if ((await openRunsOf(new Set([s.schedule.name]))).has(s.schedule.name)) return;
    } catch (err) {
      s.log.warn({ err }, 'schedule re-check skipped: the store could not say whether a run of it is going; its next tick tries again');
      return;
    }
    if (stopped || busyHere(s)) return;
    metrics.recheck(s.schedule.name);
    await startScheduled(s);
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

    async list() {
      const all = [...states.values()];
      const [open, lastRuns] = await Promise.all([
        openRunsOf(new Set(states.keys())),
        Promise.all(all.map((s) => store.lastFinishedRunOfSchedule(s.schedule.name))),
      ]);
      return all.map((s, i) => {
        const next = s.task?.nextRun() ?? null;
        const recheckAt = s.recheck ? new Date(s.recheck.at) : null;
        // The store's open runs, whichever replica runs them, and this replica's own not written yet.
        const activeRunIds = [...new Set([...s.active, ...(open.get(s.schedule.name) ?? [])])];
        return {
          schedule: s.schedule,
          nextRunAt: recheckAt && (!next || recheckAt < next) ? recheckAt : next,
          recheckAt,
          running: activeRunIds.length > 0 || busyHere(s),
          activeRunIds,
          failing: s.failing,
          lastRun: lastRuns[i],
          ticks: { started: s.started, skipped: s.skipped, missed: s.missed },
        };
      });
    },

    async runNow(name) {
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
