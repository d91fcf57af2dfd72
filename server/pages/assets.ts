import { Router } from 'express';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RouteDoc } from '../http/route-doc.ts';

/**
 * The pages' stylesheet and live-update script, hand-written files in
 * `./assets/` served as they are: no build step, no CDN. Open without auth,
 * so they hold nothing but markup rules and code.
 */
const ASSETS = {
  'smoke.css': 'text/css; charset=utf-8',
  'live.js': 'text/javascript; charset=utf-8',
} as const satisfies Record<string, string>;

const folder = () => fileURLToPath(new URL('./assets/', import.meta.url));

export function assetRoutes(): Router {
  const router = Router();
  const dir = folder();
  for (const [name, contentType] of Object.entries(ASSETS)) {
    // Read once when the app is built: a missing asset fails start-up, not the first page view.
    const body = readFileSync(`${dir}${name}`);
    router.get(`/${name}`, (_req, res) => {
      res.set({ 'Content-Type': contentType, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
      res.send(body);
    });
  }
  return router;
}

export const assetDocs: RouteDoc[] = Object.entries(ASSETS).map(([name, contentType]) => ({
  method: 'get',
  path: `/${name}`,
  summary: name.endsWith('.css') ? "The pages' stylesheet" : "The pages' live-update script",
  responses: { 200: { description: name, contentType: contentType.split(';')[0]! } },
  auth: 'none',
}));
