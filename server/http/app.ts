import express from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { pinoHttp } from 'pino-http';
import type { Config } from '../config/config.ts';
import { redactUrl } from '../log.ts';
import type { BrowserProbe } from '../runner/browser-probe.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { Gates } from '../gates/gates.ts';
import type { GateMetrics } from '../gates/metrics.ts';
import type { Signals } from '../signals/signals.ts';
import type { Store } from '../store/store.ts';
import type { Verifier } from '../verification/verifier.ts';
import { bearerAuth } from './auth.ts';
import { deploymentRoutes } from './deployments.ts';
import { errorHandler, notFound } from './errors.ts';
import { gateRoutes } from './gates.ts';
import { healthRoutes, type Readiness } from './health.ts';
import { metricsRoutes } from './metrics.ts';
import { runRoutes } from './runs.ts';
import { scheduleRoutes } from './schedules.ts';
import { signalRoutes } from './signals.ts';
import { linkBase } from './views.ts';

/** Largest request body accepted; a deployment notice is a few hundred bytes. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export interface AppDeps {
  readonly config: Config;
  readonly store: Store;
  readonly verifier: Verifier;
  readonly scheduler: Pick<Scheduler, 'list' | 'runNow'>;
  readonly signals: Signals;
  /** Flagger, Argo Rollouts and GitHub: under /api/v1/gates, each with its own authentication. */
  readonly gates: { readonly gates: Gates; readonly metrics: GateMetrics };
  readonly browser: BrowserProbe;
  readonly readiness: Readiness;
  readonly logger: Logger;
  /** Served at /metrics. */
  readonly metrics: Registry;
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
      // Probes and scrapes every few seconds would drown the log.
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
      serializers: {
        // A token in a query (a gate's callback, a copied link) must not reach the log.
        req: (req) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(healthRoutes({ store, browser: deps.browser, readiness: deps.readiness }));
  app.use(metricsRoutes(deps.metrics));

  const base = linkBase(config.server.publicUrl);
  const api = express.Router();
  if (config.server.apiToken) api.use(bearerAuth(config.server.apiToken));
  api.use(express.json({ limit: BODY_LIMIT_BYTES, strict: true }));
  api.use('/deployments', deploymentRoutes({ store, verifier, signals: deps.signals, base }));
  api.use('/runs', runRoutes({ store, artifactsDir: config.storage.artifacts, base }));
  api.use('/schedules', scheduleRoutes({ scheduler: deps.scheduler, base }));
  api.use('/signals', signalRoutes({ signals: deps.signals, base }));
  // Before the rest of /api: the gates check their own credentials (Flagger's cannot be a header, GitHub's is a signature).
  app.use(
    '/api/v1/gates',
    gateRoutes({ gates: deps.gates.gates, metrics: deps.gates.metrics, base, ...(config.server.apiToken && { apiToken: config.server.apiToken }) }),
  );
  app.use('/api/v1', api);

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
