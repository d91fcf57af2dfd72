import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * prom-client's gauges that end in `_total`, against Prometheus naming rules
 * (`promtool check metrics` flags them). Each is the sum over its
 * same-named sibling without `_total`, which stays.
 */
const NONCONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A fresh registry with the process and Node.js metrics; the service's families register on it. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of NONCONFORMING_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}
