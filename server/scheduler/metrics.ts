import { Counter, type Registry } from 'prom-client';

/** `missed`: node-cron could not deliver the tick in time (a blocked event loop). */
export type TickResult = 'started' | 'skipped' | 'missed';

export interface SchedulerMetrics {
  tick(schedule: string, result: TickResult): void;
  recheck(schedule: string): void;
}

/** The scheduler's own series, on the registry it is given. */
export function schedulerMetrics(registry: Registry, schedules: readonly string[]): SchedulerMetrics {
  const ticks = new Counter({
    name: 'smoke_schedule_ticks_total',
    help: 'Cron ticks per schedule: started a run, skipped because its previous run was still queued or running, or missed because the process was too busy to deliver it.',
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
    for (const result of ['started', 'skipped', 'missed'] satisfies TickResult[]) ticks.labels(schedule, result).inc(0);
    rechecks.labels(schedule).inc(0);
  }
  return {
    tick: (schedule, result) => ticks.labels(schedule, result).inc(),
    recheck: (schedule) => rechecks.labels(schedule).inc(),
  };
}
