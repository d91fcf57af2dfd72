import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readRunFigures } from './run-figures.ts';

describe('readRunFigures', () => {
  const cases: { name: string; run: unknown; attempts: number | undefined; timings: Record<string, number>; environments: Record<string, Record<string, number>> }[] = [
    { name: 'a run without the fields (an older smoke)', run: { id: 'run_1', finishedAt: '2026-12-02T07:00:00Z' }, attempts: undefined, timings: {}, environments: {} },
    { name: 'not an object at all', run: null, attempts: undefined, timings: {}, environments: {} },
    {
      name: 'every field',
      run: {
        attempts: { total: 8, environments: { canary: { passed: 4, failed: 0, error: 0, interrupted: 0 }, production: { passed: 4 } } },
        timings: { reachabilityMs: 12, runnerStartMs: 2800, workerStartMs: 900, browserLaunchMs: 40, firstFlowMs: 4100, verdictMs: 7000, totalMs: 7100 },
      },
      attempts: 8,
      timings: { reachabilityMs: 12, runnerStartMs: 2800, workerStartMs: 900, browserLaunchMs: 40, firstFlowMs: 4100, verdictMs: 7000, totalMs: 7100 },
      environments: { canary: { passed: 4, failed: 0, error: 0, interrupted: 0 }, production: { passed: 4 } },
    },
    {
      name: 'absent phases and values that are not counts are left out',
      run: { attempts: { total: -1, environments: { canary: { passed: '4', failed: 2 }, production: 'none' } }, timings: { runnerStartMs: null, verdictMs: Number.NaN, totalMs: 500, unknownMs: 3 } },
      attempts: undefined,
      timings: { totalMs: 500 },
      environments: { canary: { failed: 2 } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const figures = readRunFigures(c.run);
      assert.equal(figures.attempts, c.attempts);
      assert.deepEqual(figures.timings, c.timings);
      assert.deepEqual(figures.attemptsByEnvironment, c.environments);
    });
  }
});
