import pino from 'pino';
import { createDeliveries } from '../gates/deliveries.ts';
import { createGates } from '../gates/gates.ts';
import { openStore } from '../store/store.ts';
import type { DeployRequest } from '../verification/verifier.ts';

/**
 * The gates over an in-memory store, with a verifier that records what it is
 * asked to start and stores the deployment as the real one would, without
 * running anything.
 */
export function gateRig(config: Parameters<typeof createGates>[0]['config'], environments: readonly string[]) {
  const store = openStore(':memory:');
  const submitted: DeployRequest[] = [];
  const gates = createGates({
    config,
    environments,
    verifier: {
      submit(request) {
        submitted.push(request);
        return store.createDeployment({
          idempotencyKey: request.deploymentId!,
          service: request.service ?? 'app',
          environment: request.environment,
          version: request.version,
        });
      },
    },
    store,
    deliveries: createDeliveries(store.db),
    logger: pino({ level: 'silent' }),
  });
  return { gates, submitted, store };
}
