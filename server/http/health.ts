import { Router } from 'express';
import type { BrowserProbe } from '../runner/browser-probe.ts';
import type { Store } from '../store/store.ts';
import { describeError } from '../errors.ts';
import type { RouteDoc } from './route-doc.ts';

export interface Readiness {
  /** False once shutdown began, so the load balancer stops sending work first. */
  accepting(): boolean;
}

/** `/healthz`: the process answers. `/readyz`: it can do its job (store takes writes, browser launches). */
export function healthRoutes(deps: { store: Pick<Store, 'probeWrite'>; browser: BrowserProbe; readiness: Readiness }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    // Both at once: on PostgreSQL a store that is down answers only after its connection timeout.
    const [store, browser] = await Promise.all([storeCheck(deps.store), deps.browser.check()]);
    const checks: Record<string, { ok: boolean; error?: string }> = {
      store,
      browser: browser.ok ? { ok: true } : { ok: false, error: browser.error },
      accepting: deps.readiness.accepting() ? { ok: true } : { ok: false, error: 'shutting down' },
    };
    const ready = Object.values(checks).every((c) => c.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}

/** A write, not a read: a full or read-only disk still answers SELECT 1. */
async function storeCheck(store: Pick<Store, 'probeWrite'>): Promise<{ ok: boolean; error?: string }> {
  try {
    await store.probeWrite();
    return { ok: true };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

export const healthDocs: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    description: 'Answers while the process runs: for a liveness probe.',
    responses: { 200: { description: '`{ status: "ok" }`.' } },
    auth: 'none',
  },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness',
    description: 'Whether smoke can do its job: the store takes writes, a browser launches, and it is not shutting down. Each check is reported.',
    responses: {
      200: { description: '`{ status: "ready", checks }`.' },
      503: { description: '`{ status: "not ready", checks }`: a failing check says why.', error: false },
    },
    auth: 'none',
  },
];
