import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createGates } from '../gates/gates.ts';
import { openStore } from '../store/store.ts';
import type { DeployRequest } from '../verification/verifier.ts';

/**
 * The gates over a store in a fresh temporary file, with a verifier that
 * records what it is asked to start and stores the deployment as the real
 * one would, without running anything. Close `store` when done. Two rigs
 * on one `file` are two replicas sharing a store.
 */
export async function gateRig(config: Parameters<typeof createGates>[0]['config'], environments: readonly string[], file = freshFile()) {
  const store = await openStore({ kind: 'sqlite', file });
  const submitted: DeployRequest[] = [];
  const gates = createGates({
    config,
    environments,
    verifier: {
      async submit(request) {
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
    deliveries: store.gateDeliveries,
    logger: pino({ level: 'silent' }),
  });
  return { gates, submitted, store };
}

export function freshFile(): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-gates-')), 'smoke.db');
}
