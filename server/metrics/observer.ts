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
  /** How long a scrape waits for the store before it serves the last values; 2 s unless a test says otherwise. */
  readonly waitMs?: number;
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
    async () => {
      const [deployments, finished, flows] = await Promise.all([store.latestDeployments(), store.lastFinishedRuns(), store.latestFlowOutcomes()]);
      return { deployments, finished, flows };
    },
    {
      what: 'shared-state gauges',
      ...(deps.now && { now: deps.now }),
      ...(deps.cacheTtlMs !== undefined && { ttlMs: deps.cacheTtlMs }),
      ...(deps.waitMs !== undefined && { waitMs: deps.waitMs }),
      ...(deps.logger && { log: deps.logger }),
    },
  );

  createDeploymentMetrics(registry, environments, async () => (await shared.get())?.deployments);
  const runs = createRunMetrics(registry, environments, async () => (await shared.get())?.finished);
  const flows = createFlowMetrics(registry, environments, async () => (await shared.get())?.flows);

  // The flows the store knows get their counters soon after start-up, not only at the first scrape (`get` never rejects).
  void shared.get().then((read) => {
    for (const { environment, flow } of read?.flows ?? []) if (environments.includes(environment)) flows.known(environment, flow);
  });

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
