import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LatestFlowOutcome } from '../store/store.ts';
import type { FlowOutcome, FlowResult } from '../verdict/types.ts';
import { OUTCOMES } from './labels.ts';

/** Seconds: an API flow takes a tenth of a second, a browser checkout with retries up to two minutes. */
export const FLOW_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];

/**
 * What a result says about whether the flow works. Flaky passed in the end,
 * so it counts as working (its own series tracks flakiness); skipped and
 * error say nothing about the flow (not run, or the runner broke), so they
 * leave the last value alone.
 */
const SUCCESS: Record<FlowOutcome, 1 | 0 | undefined> = { passed: 1, flaky: 1, failed: 0, skipped: undefined, error: undefined };

export interface FlowMetrics {
  /** Creates the flow's counter and histogram series at 0, so rates and alerts see no gaps. */
  known(environment: string, flow: string): void;
  record(result: FlowResult): void;
}

/**
 * The per-flow families: the `probe_success` of this service, its duration and
 * its outcomes. `smoke_flow_success` describes shared state: it is set on each
 * scrape from `latest` (the store's last outcomes of the configured
 * environments' flows, so every replica exports the same and flows dropped
 * from the suite fall away; undefined when the store cannot answer, and the
 * last values stay). Durations and outcome counts are this replica's own work.
 */
export function createFlowMetrics(
  registry: Registry,
  environments: readonly string[],
  latest: () => Promise<readonly LatestFlowOutcome[] | undefined>,
): FlowMetrics {
  new Gauge({
    name: 'smoke_flow_success',
    help: 'Whether the last result of the critical flow in the environment passed (1, also when flaky) or failed (0).',
    labelNames: ['environment', 'flow'] as const,
    registers: [registry],
    async collect() {
      const flows = await latest();
      if (!flows) return;
      this.reset();
      for (const { environment, flow, outcome } of flows) {
        if (!environments.includes(environment)) continue;
        // A flow another replica ran first gets this replica's counters too, at 0.
        known(environment, flow);
        // Known, but never passed or failed: its success is not invented.
        if (outcome !== undefined) this.set({ environment, flow }, SUCCESS[outcome]!);
      }
    },
  });
  const duration = new Histogram({
    name: 'smoke_flow_duration_seconds',
    help: 'Wall time of a critical flow that ran (passed, flaky or failed), all its attempts together.',
    labelNames: ['environment', 'flow'] as const,
    buckets: FLOW_DURATION_BUCKETS,
    registers: [registry],
  });
  const results = new Counter({
    name: 'smoke_flow_results_total',
    help: 'Results of critical flows by outcome: passed, failed, flaky (passed on a retry), skipped, error (the runner broke).',
    labelNames: ['environment', 'flow', 'outcome'] as const,
    registers: [registry],
  });
  const seen = new Set<string>();

  function known(environment: string, flow: string): void {
    const key = JSON.stringify([environment, flow]);
    if (seen.has(key)) return;
    seen.add(key);
    duration.zero({ environment, flow });
    for (const outcome of OUTCOMES) results.inc({ environment, flow, outcome }, 0);
  }

  return {
    known,
    record(result) {
      const { environment, flow, outcome } = result;
      known(environment, flow);
      results.inc({ environment, flow, outcome });
      // A skipped flow took no time and an errored one measured the runner, not the flow.
      if (SUCCESS[outcome] !== undefined) duration.observe({ environment, flow }, result.durationMs / 1000);
    },
  };
}
