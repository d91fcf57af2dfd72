import type { Registry } from 'prom-client';
import type { Store } from '../store/store.ts';
import type { RunObserver } from '../verification/observer.ts';
import { createDeploymentMetrics } from './deployment-metrics.ts';
import { createFlowMetrics } from './flow-metrics.ts';
import { createRunMetrics } from './run-metrics.ts';

export interface MetricsObserverDeps {
  readonly registry: Registry;
  /** The configured environments: every environment × trigger and × verdict series exists from the start. */
  readonly environments: readonly string[];
  readonly store: Pick<Store, 'latestDeployments' | 'lastFinishedRuns' | 'latestFlowOutcomes'>;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

/**
 * Turns what verifications report into Prometheus metrics. Registers every
 * family, restores from the store what a restart would otherwise reset to 0
 * (versions deployed, last run and success times, last flow results), and
 * creates every known series up front so queries see no gaps.
 */
export function createMetricsObserver(deps: MetricsObserverDeps): RunObserver {
  const { registry, environments, store } = deps;
  const now = deps.now ?? Date.now;
  const configured = (environment: string) => environments.includes(environment);

  const deployments = createDeploymentMetrics(registry);
  const runs = createRunMetrics(registry, environments);
  const flows = createFlowMetrics(registry);

  for (const deployment of store.latestDeployments()) if (configured(deployment.environment)) deployments.deployed(deployment);
  runs.restore(store.lastFinishedRuns());
  for (const { environment, flow, outcome } of store.latestFlowOutcomes()) if (configured(environment)) flows.known(environment, flow, outcome);

  return {
    deploymentReceived: (deployment) => deployments.deployed(deployment),
    runStarted: (run) => runs.started(run),
    flowResult: (_run, result) => flows.record(result),
    verdictGiven: (run, verdict) => runs.given(run, verdict),
    runFinished: (run, ended) => runs.finished(run, ended, now()),
  };
}
