import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RunRecord } from '../verification/records.ts';
import type { FinishedRunTimes } from '../store/store.ts';
import type { RunEnded } from '../verification/observer.ts';
import type { Verdict } from '../verdict/types.ts';
import { ATTEMPT_KINDS, TRIGGERS, VERDICTS } from './labels.ts';

/** Seconds: a run holds both environments' flows with retries, up to the default 300 s deadline and beyond. */
export const RUN_DURATION_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200];

export interface RunMetrics {
  started(run: RunRecord): void;
  finished(run: RunRecord, ended: RunEnded): void;
  /** A verdict given before its run ended: counted now, not again when the run ends. */
  given(run: RunRecord, verdict: Verdict): void;
}

/**
 * The per-run families. A run counts for its target: a canary deploy is a
 * canary run, even though production ran beside it as the baseline. The
 * last-run and last-success times describe shared state: they are set on each
 * scrape from `finishedRuns` (the store's, so every replica exports the same;
 * undefined when the store cannot answer, and the last values stay). The
 * others count this replica's own work.
 */
export function createRunMetrics(
  registry: Registry,
  environments: readonly string[],
  finishedRuns: () => Promise<readonly FinishedRunTimes[] | undefined>,
): RunMetrics {
  const duration = new Histogram({
    name: 'smoke_run_duration_seconds',
    help: 'Wall time of a judged run (both environments, reachability checks and flows) by target environment and trigger.',
    labelNames: ['environment', 'trigger'] as const,
    buckets: RUN_DURATION_BUCKETS,
    registers: [registry],
  });
  const inProgress = new Gauge({
    name: 'smoke_runs_in_progress',
    help: 'Runs executing now (queued ones not counted).',
    registers: [registry],
  });
  const seconds = (ms: number) => ms / 1000;
  const lastRun = new Gauge({
    name: 'smoke_last_run_timestamp_seconds',
    help: 'Unix time the last judged run of the target environment finished, by trigger; 0 when there was none.',
    labelNames: ['environment', 'trigger'] as const,
    registers: [registry],
    async collect() {
      const times = await finishedRuns();
      if (!times) return;
      for (const environment of environments) for (const trigger of TRIGGERS) this.set({ environment, trigger }, 0);
      for (const { target, trigger, finishedAt } of times) {
        // Environments since removed from the config stay out: their series would never change again.
        if (environments.includes(target)) this.set({ environment: target, trigger }, seconds(Date.parse(finishedAt)));
      }
    },
  });
  const lastSuccess = new Gauge({
    name: 'smoke_last_success_timestamp_seconds',
    help: 'Unix time the last run of the target environment with a pass verdict finished; 0 when there was none.',
    labelNames: ['environment'] as const,
    registers: [registry],
    async collect() {
      const times = await finishedRuns();
      if (!times) return;
      const passed = new Map<string, number>(environments.map((environment) => [environment, 0]));
      for (const { target, passedAt } of times) {
        if (passedAt !== undefined && passed.has(target)) passed.set(target, Math.max(passed.get(target)!, Date.parse(passedAt)));
      }
      for (const [environment, atMs] of passed) this.set({ environment }, seconds(atMs));
    },
  });
  const verdicts = new Counter({
    name: 'smoke_verdicts_total',
    help: 'Verdicts of runs by target environment: pass, fail, inconclusive.',
    labelNames: ['environment', 'verdict'] as const,
    registers: [registry],
  });

  const attempts = new Counter({
    name: 'smoke_flow_attempts_total',
    help: 'Browser attempts of flows (first tries and retries) by the environment they ran in and how they ended: passed, failed (on the page), error (the browser or runner broke), interrupted.',
    labelNames: ['environment', 'outcome'] as const,
    registers: [registry],
  });

  for (const environment of environments) {
    lastSuccess.set({ environment }, 0);
    for (const outcome of ATTEMPT_KINDS) attempts.inc({ environment, outcome }, 0);
    for (const trigger of TRIGGERS) {
      duration.zero({ environment, trigger });
      lastRun.set({ environment, trigger }, 0);
    }
    for (const verdict of VERDICTS) verdicts.inc({ environment, verdict }, 0);
  }
  inProgress.set(0);

  // By id, so a run whose end is reported twice is not subtracted twice.
  const running = new Set<string>();

  return {
    started(run) {
      running.add(run.id);
      inProgress.set(running.size);
    },
    given(run, verdict) {
      verdicts.inc({ environment: run.target, verdict: verdict.kind });
    },
    finished(run, ended) {
      running.delete(run.id);
      inProgress.set(running.size);
      // Browser work is spent however the run ended, so every ending counts.
      for (const [environment, counts] of Object.entries(ended.attempts ?? {})) {
        if (!environments.includes(environment)) continue;
        for (const outcome of ATTEMPT_KINDS) if (counts[outcome] > 0) attempts.inc({ environment, outcome }, counts[outcome]);
      }
      // A cancelled or interrupted run was never judged: its time says nothing about the deploy.
      if (ended.status !== 'done' || !ended.verdict) return;
      const environment = run.target;
      duration.observe({ environment, trigger: run.trigger }, seconds(ended.durationMs));
      if (!ended.verdictGiven) verdicts.inc({ environment, verdict: ended.verdict.kind });
    },
  };
}
