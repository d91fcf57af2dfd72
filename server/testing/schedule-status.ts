import type { ScheduleStatus } from '../scheduler/scheduler.ts';

/** A schedule as the scheduler lists it: idle, not failing, never run, unless `overrides` say otherwise. */
export function scheduleStatus(
  schedule: { name: string; cron: string; environments: string[] },
  overrides: Partial<Pick<ScheduleStatus, 'nextRunAt' | 'failing'>> = {},
): ScheduleStatus {
  return {
    schedule: { ...schedule, timezone: 'UTC', jitterSeconds: 0 },
    nextRunAt: null,
    recheckAt: null,
    running: false,
    activeRunIds: [],
    failing: false,
    lastRun: undefined,
    ticks: { started: 0, skipped: 0, missed: 0 },
    ...overrides,
  } as unknown as ScheduleStatus;
}
