import { Gauge, type Registry } from 'prom-client';
import type { DeploymentRecord } from '../verification/records.ts';

type Deployed = Pick<DeploymentRecord, 'environment' | 'service' | 'version'>;

/**
 * `smoke_deployment_info`, an info metric for Grafana annotations, set on each
 * scrape from the newest deployment of each configured environment in the
 * store, so every replica exports the same. The version is the one label
 * value that comes from the caller; it stays bounded because each environment
 * keeps exactly one series, the old one gone once a newer deploy is stored.
 * `latest` returns undefined when the store cannot answer: the last series stay.
 */
export function createDeploymentMetrics(registry: Registry, environments: readonly string[], latest: () => Promise<readonly Deployed[] | undefined>): void {
  new Gauge({
    name: 'smoke_deployment_info',
    help: 'Always 1: the service and version each environment runs, from the last deployment received.',
    labelNames: ['environment', 'service', 'version'] as const,
    registers: [registry],
    async collect() {
      const deployments = await latest();
      if (!deployments) return;
      this.reset();
      for (const { environment, service, version } of deployments) {
        if (environments.includes(environment)) this.set({ environment, service, version }, 1);
      }
    },
  });
}
