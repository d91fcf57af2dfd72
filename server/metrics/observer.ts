import type { Registry } from 'prom-client';
import type { Store } from '../store/store.ts';
import type { RunObserver } from '../verification/observer.ts';
import { createDeploymentMetrics } from './deployment-metrics.ts';
import { createFlowMetrics } from './flow-metrics.ts';
import { createRunMetrics } from './run-metrics.ts';
import { cachedStoreRead, type StoreReadOptions } from './store-read.ts';

type SharedStore = Pick<Store, 'latestDeployments' | 'lastFinishedRuns' | 'latestFlowOutcomes'>;

export interface MetricsObserverDeps {
  readonly registry: Registry;
  /** The configured environments: every environment × trigger and × verdict series exists from the start. */
  readonly environments: readonly string[];
  /** The store every replica shares: the shared-state gauges are read from it when scraped. */
  readonly store: SharedStore;
  /** Milliseconds, for the age of the cached store read; injectable for tests. */
  readonly now?: () => number;
  /** How long one store read serves scrapes; 3 s unless a test says otherwise. */
  readonly cacheTtlMs?: number;
  readonly logger?: StoreReadOptions['log'];
}

/**
 * Turns what verifications report into Prometheus metrics. The families that
 * describe shared state (versions deployed, last run and success times, last
 * flow results) are read from the store on each scrape, cached for a few
 * seconds, so every replica of one store exports the same values whichever
 * ran the work; the counters, histograms and runs in progress are this
 * replica's own. Every known series exists from the first scrape, so queries
 * see no gaps.
 */
export function createMetricsObserver(deps: MetricsObserverDeps): RunObserver {
  const { registry, environments, store } = deps;
  const shared = cachedStoreRead(
    () => ({ deployments: store.latestDeployments(), finished: store.lastFinishedRuns(), flows: store.latestFlowOutcomes() }),
    { what: 'shared-state gauges', ...(deps.now && { now: deps.now }), ...(deps.cacheTtlMs !== undefined && { ttlMs: deps.cacheTtlMs }), ...(deps.logger && { log: deps.logger }) },
  );

  createDeploymentMetrics(registry, environments, () => shared.get()?.deployments);
  const runs = createRunMetrics(registry, environments, () => shared.get()?.finished);
  const flows = createFlowMetrics(registry, environments, () => shared.get()?.flows);

  // The flows the store knows get their counters now, not only at the first scrape.
  for (const { environment, flow } of shared.get()?.flows ?? []) if (environments.includes(environment)) flows.known(environment, flow);

  // This replica just wrote what changed: its next scrape reads the store rather than serve the cached read.
  return {
    deploymentReceived: () => shared.invalidate(),
    runStarted: (run) => runs.started(run),
    flowResult: (_run, result) => {
      flows.record(result);
      shared.invalidate();
    },
    verdictGiven: (run, verdict) => runs.given(run, verdict),
    runFinished: (run, ended) => {
      runs.finished(run, ended);
      shared.invalidate();
    },
  };
}
