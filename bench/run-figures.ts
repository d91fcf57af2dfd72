/**
 * The figures the benchmark reads from smoke's run JSON (`GET
 * /api/v1/runs/:id`, or a deployment's `run`): browser attempts and the
 * phase timings. Read defensively: a field a smoke version does not report,
 * or a phase that did not happen, is undefined and printed as "n/a".
 */

export const PHASES = ['reachabilityMs', 'runnerStartMs', 'workerStartMs', 'browserLaunchMs', 'firstFlowMs', 'verdictMs', 'totalMs'] as const;
export type Phase = (typeof PHASES)[number];

export interface RunFigures {
  readonly attempts: number | undefined;
  /** Attempts by environment and outcome (`passed`, `failed`, `error`, `interrupted`). */
  readonly attemptsByEnvironment: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly timings: Readonly<Partial<Record<Phase, number>>>;
}

export function readRunFigures(run: unknown): RunFigures {
  const r = isRecord(run) ? run : {};
  const attempts = isRecord(r.attempts) ? r.attempts : {};
  const byEnvironment: Record<string, Record<string, number>> = {};
  if (isRecord(attempts.environments)) {
    for (const [environment, outcomes] of Object.entries(attempts.environments)) {
      if (!isRecord(outcomes)) continue;
      byEnvironment[environment] = Object.fromEntries(Object.entries(outcomes).filter((e): e is [string, number] => isCount(e[1])));
    }
  }
  const timings: Partial<Record<Phase, number>> = {};
  if (isRecord(r.timings)) {
    for (const phase of PHASES) {
      const value = r.timings[phase];
      if (isCount(value)) timings[phase] = value;
    }
  }
  return { attempts: isCount(attempts.total) ? attempts.total : undefined, attemptsByEnvironment: byEnvironment, timings };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
