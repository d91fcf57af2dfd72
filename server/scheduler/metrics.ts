import { Counter, type Registry } from 'prom-client';

/**
 * `missed`: the tick could not be run: node-cron could not deliver it in time
 * (a blocked event loop), or the store could not record the claim on it.
 * `claimed_elsewhere`: another replica sharing the store took the tick.
 */
export type TickResult = 'started' | 'skipped' | 'missed' | 'claimed_elsewhere';
const TICK_RESULTS = Object.keys({ started: 1, skipped: 1, missed: 1, claimed_elsewhere: 1 } satisfies Record<TickResult, 1>) as readonly TickResult[];

export interface SchedulerMetrics {
  tick(schedule: string, result: TickResult): void;
  recheck(schedule: string): void;
}

/** The scheduler's own series, on the registry it is given. */
export function schedulerMetrics(registry: Registry, schedules: readonly string[]): SchedulerMetrics {
  const ticks = new Counter({
    name: 'smoke_schedule_ticks_total',
    help: 'Cron ticks per schedule on this replica: started a run, skipped because its previous run was still queued or running, missed because the process was too busy to deliver it or the store could not record the claim on it, or claimed_elsewhere because another replica took it.',
    labelNames: ['schedule', 'result'] as const,
    registers: [registry],
  });
  const rechecks = new Counter({
    name: 'smoke_schedule_rechecks_total',
    help: 'Re-runs of a failing schedule started by its recheckSeconds timer rather than by cron.',
    labelNames: ['schedule'] as const,
    registers: [registry],
  });
  // Present from the start at 0, so rate() and "skipped > 0" alerts see the first increase.
  for (const schedule of schedules) {
    for (const result of TICK_RESULTS) ticks.labels(schedule, result).inc(0);
    rechecks.labels(schedule).inc(0);
  }
  return {
    tick: (schedule, result) => ticks.labels(schedule, result).inc(),
    recheck: (schedule) => rechecks.labels(schedule).inc(),
  };
}
