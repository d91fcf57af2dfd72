import type { Server } from 'node:http';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config/config.ts';
import { createGitHubStatuses } from './gates/github-statuses.ts';
import { createGates } from './gates/gates.ts';
import { createApp } from './http/app.ts';
import { appDeps } from './http/app-deps.ts';
import { answerClientError } from './http/client-error.ts';
import { createMetricsObserver } from './metrics/observer.ts';
import { createRegistry } from './metrics/registry.ts';
import { createSignalMetrics } from './metrics/signal-metrics.ts';
import { createStorageMetrics } from './metrics/storage-metrics.ts';
import { createPruner } from './retention/pruner.ts';
import { chooseBrowser, type BrowserChoice } from './runner/browser.ts';
import { createWarmBrowser } from './runner/browser-server.ts';
import { createReports } from './runner/html-report.ts';
import { createRunner } from './runner/runner.ts';
import { systemClock } from './scheduler/clock.ts';
import { createScheduler } from './scheduler/scheduler.ts';
import { createSignals } from './signals/signals.ts';
import { openStore, type Store, type StoreLocation } from './store/store.ts';
import type { RunObserver } from './verification/observer.ts';
import { createVerifier, type Verifier } from './verification/verifier.ts';

export interface Service {
  /** Where the API listens, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly store: Store;
  readonly verifier: Verifier;
  /** Stops accepting work, cancels running verifications (they resume at the next start), closes everything. */
  close(): Promise<void>;
}

export interface RunOptions {
  readonly logger: Logger;
  readonly browser?: BrowserChoice;
}

/**
 * Builds every part of the service from the config, in dependency order, and
 * starts it; `close()` tears them down in reverse.
 */
export async function run(config: Config, options: RunOptions): Promise<Service> {
  // Every line this replica logs names it, as its runs do.
  const logger = options.logger.child({ replica: config.server.instanceId });
  const browser = options.browser ?? chooseBrowser();
  logger.info(
    { browser: browser.kind === 'missing' ? browser : { kind: browser.kind, executablePath: browser.executablePath } },
    'browser chosen',
  );

  const registry = createRegistry();
  const storeLogger = logger.child({ subsystem: 'store' });
  const store = await openStore(storeLocation(config), {
    // An idle pooled connection the server dropped (a restart, a failover): the pool opens a new one when needed.
    onConnectionError: (err) => storeLogger.warn({ err: err.message }, 'a PostgreSQL connection was closed by the server; the pool reconnects'),
  });
  logger.info({ store: store.kind, location: store.location }, 'store opened');
  const tmpRoot = tmpRootFor(config);
  // Launched on the first run, after the runner's start-up sweep has cleared what a crash left.
  const warmBrowser =
    config.runs.warmBrowser && browser.kind !== 'missing'
      ? createWarmBrowser({ browser, suite: config.suite, tmpRoot, logger: logger.child({ subsystem: 'warm-browser' }) })
      : undefined;
  const runner = createRunner({
    suite: config.suite,
    browser,
    graceMs: config.runs.graceSeconds * 1000,
    tmpRoot,
    ...(warmBrowser && { warmBrowser }),
    startAhead: config.runs.warmRunner,
  });
  let url = '';
  const metricsLogger = logger.child({ subsystem: 'metrics' });
  const signals = createSignals({
    config: config.rollback,
    outbox: store.outbox,
    store,
    metrics: createSignalMetrics(registry, { pendingCount: () => store.outbox.pendingCount(), logger: metricsLogger }),
    logger: logger.child({ subsystem: 'signals' }),
    publicBase: () => config.server.publicUrl ?? url,
  });
  const githubStatuses = createGitHubStatuses({
    config: config.gates.github?.statuses,
    queue: store.githubStatuses,
    store,
    registry,
    logger: logger.child({ subsystem: 'github-status' }),
    publicBase: () => config.server.publicUrl ?? url,
  });
  const retentionLogger = logger.child({ subsystem: 'retention' });
  const pruner = createPruner({
    retentionDays: config.storage.retentionDays,
    artifactsDir: config.storage.artifacts,
    store,
    metrics: createStorageMetrics(registry),
    logger: retentionLogger,
    clock: systemClock(retentionLogger),
  });
  const observers: RunObserver[] = [
    createMetricsObserver({ registry, environments: [...config.environments.keys()], store, logger: metricsLogger }),
    signals.observer,
    githubStatuses.observer,
    pruner.observer,
  ];
  const verifier = createVerifier({ config, store, runner, observers, logger: logger.child({ subsystem: 'verifier' }) });
  await verifier.recover();
  const scheduler = createScheduler({
    schedules: config.schedules,
    verifier,
    store,
    registry,
    replica: config.server.instanceId,
    logger: logger.child({ subsystem: 'scheduler' }),
  });
  const gates = createGates({
    config: config.gates,
    environments: [...config.environments.keys()],
    verifier,
    store,
    deliveries: store.gateDeliveries,
    githubStatuses,
    logger: logger.child({ subsystem: 'gates' }),
  });

  // Playwright's HTML report of a run, built from its blobs when first opened.
  const reports = createReports({ artifactsDir: config.storage.artifacts, suite: config.suite, logger: logger.child({ subsystem: 'reports' }) });

  let accepting = true;
  const app = createApp(
    appDeps({
      config,
      store,
      verifier,
      scheduler,
      signals,
      gates,
      browser,
      readiness: { accepting: () => accepting },
      logger: logger.child({ subsystem: 'http' }),
      registry,
      reports,
    }),
  );
  const server = await listen(app, config.server.host, config.server.port);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // Only once the service is up, so a failed start leaves no cron task ticking and links have a host.
  signals.start();
  githubStatuses.start();
  scheduler.start();
  pruner.start();
  logger.info({ url, environments: [...config.environments.keys()] }, 'smoke is listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    store,
    verifier,
    close() {
      closing ??= (async () => {
        accepting = false;
        // First, so no tick queues a run behind the shutdown.
        scheduler.stop();
        // Its pass ends at the next batch; before the store closes under it.
        await pruner.stop();
        await verifier.shutdown();
        // Only once no run uses them.
        await runner.close();
        await reports.close();
        await warmBrowser?.close();
        await signals.stop();
        await githubStatuses.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await store.close();
        logger.info('smoke stopped');
      })();
      return closing;
    },
  };
}

function listen(app: ReturnType<typeof createApp>, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
    server.once('error', reject);
    server.on('clientError', answerClientError);
  });
}

/** Where the store lives: PostgreSQL when `storage.postgres` is set, else the SQLite file. */
export function storeLocation(config: Config): StoreLocation {
  return config.storage.postgres ? { kind: 'postgres', url: config.storage.postgres.reveal() } : { kind: 'sqlite', file: config.storage.database };
}

/**
 * A temp folder per database and port, stable across restarts, so a new start can find
 * and kill what a crashed one left running; short, because Chromium puts
 * sockets under it and socket paths are limited to ~100 bytes.
 */
export function tmpRootFor(config: Config): string {
  // The port too: replicas on one machine share the database, and must not sweep each other's processes.
  const store = config.storage.postgres?.reveal() ?? config.storage.database;
  const id = createHash('sha256').update(`${store}\n${config.server.port}`).digest('hex').slice(0, 10);
  return path.join(os.tmpdir(), `smoke-${id}`);
}
