import type { Server } from 'node:http';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config/config.ts';
import { createApp } from './http/app.ts';
import { chooseBrowser, type BrowserChoice } from './runner/browser.ts';
import { createBrowserProbe } from './runner/browser-probe.ts';
import { createRunner } from './runner/runner.ts';
import { openStore, type Store } from './store/store.ts';
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
  const { logger } = options;
  const browser = options.browser ?? chooseBrowser();
  logger.info(
    { browser: browser.kind === 'missing' ? browser : { kind: browser.kind, executablePath: browser.executablePath } },
    'browser chosen',
  );

  const store = openStore(config.storage.database);
  const runner = createRunner({
    suite: config.suite,
    browser,
    graceMs: config.runs.graceSeconds * 1000,
    tmpRoot: tmpRootFor(config),
  });
  const observers: RunObserver[] = [];
  const verifier = createVerifier({ config, store, runner, observers, logger: logger.child({ subsystem: 'verifier' }) });
  verifier.recover();

  let accepting = true;
  const app = createApp({
    config,
    store,
    verifier,
    browser: createBrowserProbe(browser),
    readiness: { accepting: () => accepting },
    logger: logger.child({ subsystem: 'http' }),
  });
  const server = await listen(app, config.server.host, config.server.port);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url, environments: Object.keys(config.environments) }, 'smoke is listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    store,
    verifier,
    close() {
      closing ??= (async () => {
        accepting = false;
        await verifier.shutdown();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        store.close();
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
  });
}

/**
 * A temp folder per database, stable across restarts, so a new start can find
 * and kill what a crashed one left running; short, because Chromium puts
 * sockets under it and socket paths are limited to ~100 bytes.
 */
export function tmpRootFor(config: Config): string {
  const id = createHash('sha256').update(config.storage.database).digest('hex').slice(0, 10);
  return path.join(os.tmpdir(), `smoke-${id}`);
}
