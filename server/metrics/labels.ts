import type { RunTrigger } from '../verification/records.ts';
import type { AttemptKind, FlowOutcome, VerdictKind } from '../verdict/types.ts';

/*
 * Every value a bounded label can take. Written as records so that adding a
 * member to one of the unions fails to compile until it is listed here too,
 * and its series are created at start-up.
 */

export const TRIGGERS = Object.keys({ deploy: 1, schedule: 1, manual: 1 } satisfies Record<RunTrigger, 1>) as RunTrigger[];

export const VERDICTS = Object.keys({ pass: 1, fail: 1, inconclusive: 1 } satisfies Record<VerdictKind, 1>) as VerdictKind[];

export const OUTCOMES = Object.keys({ passed: 1, failed: 1, flaky: 1, skipped: 1, error: 1 } satisfies Record<FlowOutcome, 1>) as FlowOutcome[];

export const ATTEMPT_KINDS = Object.keys({ passed: 1, failed: 1, error: 1, interrupted: 1 } satisfies Record<AttemptKind, 1>) as AttemptKind[];
