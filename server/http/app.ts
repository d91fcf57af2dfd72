import express from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Config } from '../config/config.ts';
import type { BrowserProbe } from '../runner/browser-probe.ts';
import type { Store } from '../store/store.ts';
import type { Verifier } from '../verification/verifier.ts';
import { bearerAuth } from './auth.ts';
import { deploymentRoutes } from './deployments.ts';
import { errorHandler, notFound } from './errors.ts';
import { healthRoutes, type Readiness } from './health.ts';
import { runRoutes } from './runs.ts';
import { linkBase } from './views.ts';

/** Largest request body accepted; a deployment notice is a few hundred bytes. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export interface AppDeps {
  readonly config: Config;
  readonly store: Store;
  readonly verifier: Verifier;
  readonly browser: BrowserProbe;
  readonly readiness: Readiness;
  readonly logger: Logger;
}

/** The HTTP API as an Express app; the caller decides where it listens. */
export function createApp(deps: AppDeps): express.Express {
  const { config, store, verifier } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(
    pinoHttp({
      logger: deps.logger,
      // Probes every few seconds would drown the log.
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
      serializers: {
        req: (req) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(healthRoutes({ store, browser: deps.browser, readiness: deps.readiness }));

  const base = linkBase(config.server.publicUrl);
  const api = express.Router();
  if (config.server.apiToken) api.use(bearerAuth(config.server.apiToken));
  api.use(express.json({ limit: BODY_LIMIT_BYTES, strict: true }));
  api.use('/deployments', deploymentRoutes({ store, verifier, base }));
  api.use('/runs', runRoutes({ store, artifactsDir: config.storage.artifacts, base }));
  app.use('/api/v1', api);

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
