import { Router } from 'express';
import type { Registry } from 'prom-client';
import type { RouteDoc } from './route-doc.ts';

/** `/metrics` for Prometheus to scrape; outside /api and its token, as scrapers carry none. */
export function metricsRoutes(registry: Registry): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const body = await registry.metrics();
    res.set('Content-Type', registry.contentType).send(body);
  });
  return router;
}

export const metricsDocs: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    description: "smoke's metrics in the Prometheus text format: verdicts, flows, runs, signals, gates, storage.",
    responses: { 200: { description: 'The Prometheus exposition format.', contentType: 'text/plain' } },
    auth: 'none',
  },
];
