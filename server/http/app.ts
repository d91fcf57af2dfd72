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
import { assetRoutes } from '../pages/assets.ts';
import { PAGE_HEADERS } from '../pages/headers.ts';
import { loginRoutes } from '../pages/login.ts';
import { pagePaths, pathPrefix } from '../pages/paths.ts';
import { pageRoutes } from '../pages/routes.ts';
import { runFileRoutes } from '../pages/run-files.ts';
import { traceViewerRoutes } from '../pages/trace-viewer.ts';
import type { Reports } from '../runner/html-report.ts';
import { bearerAuth, pageAuth } from './auth.ts';
import { deploymentRoutes } from './deployments.ts';
import { errorHandler, notFound } from './errors.ts';
import { gateRoutes } from './gates.ts';
import { healthRoutes, type Readiness } from './health.ts';
import { metricsRoutes } from './metrics.ts';
import { openapiRoutes } from './openapi.ts';
import { runRoutes } from './runs.ts';
import { scheduleRoutes } from './schedules.ts';
import { createSessions, type Sessions } from './session.ts';
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
  /** Builds a finished run's Playwright HTML report when first opened; without it only reports already on disk are served. */
  readonly reports?: Pick<Reports, 'ensure'>;
}

/** Where the page auth check applies; '/' itself is matched exactly, so an unknown path is still a plain 404. */
const PROTECTED_PAGES = ['/deployments', '/runs', '/schedules', '/trace'];

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
  const prefix = pathPrefix(config.server.publicUrl);
  const sessions = config.server.apiToken
    ? createSessions({ token: config.server.apiToken, path: prefix || '/', secure: config.server.publicUrl?.startsWith('https:') ?? false })
    : undefined;
  const api = express.Router();
  if (config.server.apiToken) api.use(bearerAuth(config.server.apiToken, sessions));
  api.use(express.json({ limit: BODY_LIMIT_BYTES, strict: true }));
  api.use('/deployments', deploymentRoutes({ store, verifier, signals: deps.signals, base }));
  api.use('/runs', runRoutes({ store, artifactsDir: config.storage.artifacts, base }));
  api.use('/schedules', scheduleRoutes({ scheduler: deps.scheduler, base }));
  api.use('/signals', signalRoutes({ signals: deps.signals, base }));
  api.use('/openapi.json', openapiRoutes({ ...(config.server.publicUrl && { publicUrl: config.server.publicUrl }) }));
  // Before the rest of /api: the gates check their own credentials (Flagger's cannot be a header, GitHub's is a signature).
  app.use(
    '/api/v1/gates',
    gateRoutes({ gates: deps.gates.gates, metrics: deps.gates.metrics, base, ...(config.server.apiToken && { apiToken: config.server.apiToken }) }),
  );
  app.use('/api/v1', api);

  const site = pages(deps, prefix, sessions);
  // At the root and at the prefix: a proxy may strip the prefix or pass it on.
  for (const mount of prefix ? ['/', prefix] : ['/']) app.use(mount, site);

  app.use(notFound);
  app.use(errorHandler);
  return app;
}

/** The pages for people, with their assets, sign-in, trace viewer and run files, in the order the auth check needs. */
function pages(deps: AppDeps, prefix: string, sessions: Sessions | undefined): express.Router {
  const { config, store } = deps;
  const paths = pagePaths(prefix);
  const token = config.server.apiToken;
  const router = express.Router();
  router.use((_req, res, next) => {
    res.set(PAGE_HEADERS);
    next();
  });
  router.use('/assets', assetRoutes());
  router.use(
    loginRoutes({
      paths,
      logger: deps.logger,
      ...(token && sessions && { token, sessions }),
      ...(config.server.publicUrl && { publicUrl: config.server.publicUrl }),
    }),
  );
  const auth = pageAuth({ prefix, ...(token && sessions && { token, sessions }) });
  router.all('/', auth);
  router.use(PROTECTED_PAGES, auth);
  router.use(traceViewerRoutes());
  router.use(runFileRoutes({ store, artifactsDir: config.storage.artifacts, paths, ...(deps.reports && { reports: deps.reports }) }));
  router.use(
    pageRoutes({
      store,
      scheduler: deps.scheduler,
      signals: deps.signals,
      paths,
      environments: [...config.environments.keys()],
    }),
  );
  return router;
}
