import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { PRODUCTS, parseOrder } from './catalogue.ts';
import { renderShopPage } from './shop-page.ts';

/**
 * What a bad deploy of the demo shop breaks:
 * - `checkout-500`: the checkout API answers 500, so both checkout flows fail;
 * - `broken-button`: the Checkout button does nothing, so only the UI checkout flow fails;
 * - `flaky-products`: the products API answers 503, 200, 503, … so its flow passes on retry;
 * - `slow`: every shop response waits `slowMs` first.
 */
export type Fault = 'none' | 'checkout-500' | 'broken-button' | 'flaky-products' | 'slow';

export const FAULTS: readonly Fault[] = Object.freeze(['none', 'checkout-500', 'broken-button', 'flaky-products', 'slow']);

export function isFault(value: unknown): value is Fault {
  return typeof value === 'string' && (FAULTS as readonly string[]).includes(value);
}

export type ShopOptions = {
  /** Shown in the footer, e.g. `production` or `canary`. */
  name: string;
  /** Default `1.0.0`. */
  version?: string;
  /** Default `none`. */
  fault?: Fault;
  /** Delay of the `slow` fault, in milliseconds. Default 3000. */
  slowMs?: number;
};

export type ShopApp = {
  app: express.Express;
  /** Mutable: the demo "deploys" by changing it, directly or through `POST /__demo/deploy`. */
  state: { version: string; fault: Fault };
};

export const DEFAULT_SLOW_MS = 3_000;
const FIRST_ORDER_ID = 1001;
const MAX_VERSION_LENGTH = 64;

export function createShopApp(options: ShopOptions): ShopApp {
  const fault = options.fault ?? 'none';
  if (!isFault(fault)) throw new Error(`Unknown fault "${String(fault)}": use one of ${FAULTS.join(', ')}.`);
  const slowMs = options.slowMs ?? DEFAULT_SLOW_MS;
  const state: ShopApp['state'] = { version: options.version ?? '1.0.0', fault };

  let nextOrderId = FIRST_ORDER_ID;
  // Products requests under `flaky-products`. Starts over on every deploy, and when `state` is
  // changed directly, so the first request after switching to the fault always fails.
  const flaky = { fault: state.fault, requests: 0 };
  const restartFlaky = () => Object.assign(flaky, { fault: state.fault, requests: 0 });

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));

  // The operator's controls stay fast under `slow`: only the shop itself is slowed down.
  app.use('/__demo', demoRoutes(options.name, state, restartFlaky));

  app.use(async (_req, _res, next) => {
    if (state.fault === 'slow') await sleep(slowMs);
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: state.version });
  });

  app.get('/', (_req, res) => {
    res
      .set('cache-control', 'no-store')
      .type('html')
      .send(
        renderShopPage({
          name: options.name,
          version: state.version,
          products: PRODUCTS,
          brokenCheckout: state.fault === 'broken-button',
        }),
      );
  });

  app.get('/api/products', (_req, res) => {
    if (flaky.fault !== state.fault) restartFlaky();
    if (state.fault === 'flaky-products') {
      flaky.requests += 1;
      if (flaky.requests % 2 === 1) {
        res.status(503).json({ error: 'catalogue temporarily unavailable' });
        return;
      }
    }
    res.json({ products: PRODUCTS });
  });

  app.post('/api/checkout', (req, res) => {
    if (state.fault === 'checkout-500') {
      res.status(500).json({ error: 'payment provider unavailable' });
      return;
    }
    const order = parseOrder(req.body);
    if (order.kind === 'invalid') {
      res.status(400).json({ error: order.reason });
      return;
    }
    const orderId = String(nextOrderId++);
    res.status(201).json({ orderId, totalCents: order.totalCents });
  });

  app.use(jsonErrors);
  return { app, state };
}

function demoRoutes(name: string, state: ShopApp['state'], onDeploy: () => void): express.Router {
  const router = express.Router();
  router.get('/state', (_req, res) => {
    res.json({ name, ...state });
  });
  router.post('/deploy', (req, res) => {
    const body: unknown = req.body;
    const { version, fault = 'none' } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (typeof version !== 'string' || version.trim() === '' || version.length > MAX_VERSION_LENGTH) {
      res.status(400).json({ error: `version must be a non-empty string of at most ${MAX_VERSION_LENGTH} characters` });
      return;
    }
    if (!isFault(fault)) {
      res.status(400).json({ error: `fault must be one of ${FAULTS.join(', ')}` });
      return;
    }
    Object.assign(state, { version, fault });
    onDeploy();
    res.json({ name, ...state });
  });
  return router;
}

/** Client errors from the body parser (bad JSON, too large) answer in JSON like the rest of the API. */
function jsonErrors(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const status = typeof err === 'object' && err !== null && 'status' in err ? Number(err.status) : 500;
  if (status >= 400 && status < 500) {
    res.status(status).json({ error: err instanceof Error ? err.message : 'bad request' });
    return;
  }
  res.status(500).json({ error: 'internal error' });
}
