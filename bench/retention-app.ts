import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type express from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { REPO } from '../demo/demo-stack.ts';
import { loadConfig, type Config } from '../server/config/config.ts';
import { createGates } from '../server/gates/gates.ts';
import { createApp } from '../server/http/app.ts';
import { appDeps } from '../server/http/app-deps.ts';
import { createSignalMetrics } from '../server/metrics/signal-metrics.ts';
import { createScheduler } from '../server/scheduler/scheduler.ts';
import { createSignals } from '../server/signals/signals.ts';
import type { Store } from '../server/store/store.ts';
import { createVerifier } from '../server/verification/verifier.ts';

/** A smoke config for the benchmark's data folder: two environments and one schedule; nothing in it ever runs. */
export function writeBenchConfig(dir: string, schedule: string, retentionDays: number): Config {
  const file = path.join(dir, 'smoke.config.yaml');
  writeFileSync(
    file,
    `# Written by bench/retention.ts.
service: shop
server:
  host: 127.0.0.1
  port: 0
suite:
  config: ${JSON.stringify(path.join(REPO, 'playwright.config.ts'))}
storage:
  database: ./data/smoke.db
  artifacts: ./data/artifacts
  retentionDays: ${retentionDays}
environments:
  production:
    baseURL: http://127.0.0.1:9
  canary:
    baseURL: http://127.0.0.1:9
    baseline: production
schedules:
  - name: ${schedule}
    cron: "0 3 * * *"
    environments: [production]
`,
  );
  return loadConfig(file);
}

export interface BenchParts {
  readonly config: Config;
  readonly store: Store;
  readonly registry: Registry;
  readonly logger: Logger;
}

/**
 * The app as `service.ts` builds it over the same store the pass prunes
 * (one process, one connection); only the runner is a stand-in, as nothing
 * here runs flows, and the scheduler is never started.
 */
export function buildApp({ config, store, registry, logger }: BenchParts): express.Express {
  const runner = { run: () => Promise.reject(new Error('no flows run in the retention benchmark')), sweep: () => 0 };
  const signals = createSignals({ config: config.rollback, outbox: store.outbox, store, metrics: createSignalMetrics(registry), logger, publicBase: () => 'http://127.0.0.1' });
  const verifier = createVerifier({ config, store, runner, observers: [signals.observer], logger });
  const scheduler = createScheduler({ schedules: config.schedules, verifier, store, registry, logger });
  const gates = createGates({ config: config.gates, environments: [...config.environments.keys()], verifier, store, deliveries: store.gateDeliveries, logger });
  return createApp(
    appDeps({ config, store, verifier, scheduler, signals, gates, browser: { kind: 'missing', tried: [] }, readiness: { accepting: () => true }, logger, registry }),
  );
}
