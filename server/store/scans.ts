import type { RunTrigger } from './records.ts';

/**
 * The distinct values of an indexed column of `runs` by a loose index scan:
 * one index lookup per value (a handful of targets or schedules), where
 * DISTINCT or GROUP BY would read every run.
 */
export const distinctRunValues = (column: 'target' | 'schedule') => `
  WITH RECURSIVE v(value) AS (
    SELECT MIN(${column}) FROM runs WHERE ${column} IS NOT NULL
    UNION ALL SELECT (SELECT MIN(${column}) FROM runs WHERE ${column} > v.value) FROM v WHERE v.value IS NOT NULL)
  SELECT value FROM v WHERE value IS NOT NULL`;

export const TRIGGERS = Object.keys({ deploy: 1, schedule: 1, manual: 1 } satisfies Record<RunTrigger, 1>) as RunTrigger[];

/** The newest judged run of a target and trigger, through the partial index `runs_judged`; `AND verdict = 'pass'` for the newest pass. */
export const LAST_JUDGED = `SELECT id, finished_at FROM runs WHERE target = ? AND trigger = ? AND status = 'done' AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1`;
export const LAST_PASSED = `SELECT id, finished_at FROM runs WHERE target = ? AND trigger = ? AND status = 'done' AND finished_at IS NOT NULL AND verdict = 'pass' ORDER BY finished_at DESC LIMIT 1`;
