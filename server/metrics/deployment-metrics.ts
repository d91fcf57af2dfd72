import { Gauge, type Registry } from 'prom-client';
import type { DeploymentRecord } from '../store/records.ts';

export interface DeploymentMetrics {
  /** The environment now runs this deployment's version. */
  deployed(deployment: Pick<DeploymentRecord, 'environment' | 'service' | 'version'>): void;
}

/**
 * `smoke_deployment_info`, an info metric for Grafana annotations. The version
 * is the one label value that comes from the caller; it stays bounded because
 * each environment keeps exactly one series, the old one removed on a new deploy.
 */
export function createDeploymentMetrics(registry: Registry): DeploymentMetrics {
  const info = new Gauge({
    name: 'smoke_deployment_info',
    help: 'Always 1: the service and version each environment runs, from the last deployment received.',
    labelNames: ['environment', 'service', 'version'] as const,
    registers: [registry],
  });
  const current = new Map<string, { environment: string; service: string; version: string }>();

  return {
    deployed({ environment, service, version }) {
      const previous = current.get(environment);
      if (previous) info.remove(previous);
      const labels = { environment, service, version };
      current.set(environment, labels);
      info.set(labels, 1);
    },
  };
}
