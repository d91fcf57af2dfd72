import { Router } from 'express';
import { z } from 'zod';
import { NotFoundError, RequestError } from '../errors.ts';
import { linksFrom } from '../links.ts';
import type { SignalView, Signals } from '../signals/signals.ts';
import type { RouteDoc } from './route-doc.ts';
import type { LinkBase } from './views.ts';
import { idParam, methodNotAllowed, noQuery, pathParam, validateQuery, wholeNumber } from './validate.ts';

const listQuery = z.strictObject({
  status: z
    .enum(['pending', 'delivered', 'rejected', 'dead'], { error: 'must be pending, delivered, rejected or dead' })
    .optional()
    .describe('Only signals in this state.'),
  limit: wholeNumber(1, 500).optional().describe('At most this many, newest first (1 to 500; 50 by default).'),
});

const idParams = z.object({ id: idParam });

/** What the routes below take and answer; assembled in `openapi.ts`. */
export const signalDocs: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/',
    summary: 'List rollback signals',
    description: 'The webhook outbox: each signal (one per verdict and webhook) with its state and every delivery attempt.',
    query: listQuery,
    responses: { 200: { description: '`{ signals: [...] }`.' } },
    auth: 'bearer',
  },
  {
    method: 'get',
    path: '/:id',
    summary: 'Get a rollback signal',
    params: idParams,
    query: noQuery,
    responses: { 200: { description: 'The signal with its attempts.' }, 404: { description: 'No signal has this id.' } },
    auth: 'bearer',
  },
  {
    method: 'post',
    path: '/:id/redeliver',
    summary: 'Send a signal again',
    description: 'Queues a dead or rejected signal for delivery again, with the same id and body.',
    params: idParams,
    query: noQuery,
    responses: {
      202: { description: 'The signal, pending again.' },
      404: { description: 'No signal has this id.' },
      409: { description: 'The signal is pending or delivered: only dead or rejected ones are sent again.' },
    },
    auth: 'bearer',
  },
];

/** The rollback-signal outbox: what was sent where, every attempt, and a way to send a dead one again. */
export function signalRoutes(deps: { signals: Signals; base: LinkBase }): Router {
  const { signals, base } = deps;
  const router = Router();
  router.param('id', pathParam('id'));

  router.get('/', async (req, res) => {
    const { status, limit } = validateQuery(listQuery, req.query);
    const list = await signals.list({ ...(status && { status }), limit: limit ?? 50 });
    res.json({ signals: list.map((s) => signalView(base(req), s)) });
  });
  router.get('/:id', async (req, res) => {
    validateQuery(noQuery, req.query);
    const signal = await signals.get(req.params.id);
    if (!signal) throw new NotFoundError('signal', req.params.id);
    res.json(signalView(base(req), signal));
  });
  router.post('/:id/redeliver', async (req, res) => {
    validateQuery(noQuery, req.query);
    const signal = await signals.get(req.params.id);
    if (!signal) throw new NotFoundError('signal', req.params.id);
    // `redeliver` is the atomic step (it only moves a dead or rejected signal); the read before it may be stale.
    if (!(await signals.redeliver(signal.id))) {
      const current = (await signals.get(signal.id)) ?? signal;
      throw new RequestError(409, 'not_redeliverable', `signal '${signal.id}' is ${current.status}: only dead or rejected signals can be redelivered`, 'id');
    }
    const pending = await signals.get(signal.id);
    if (!pending) throw new NotFoundError('signal', signal.id);
    res.status(202).json(signalView(base(req), pending));
  });
  router.all('/', methodNotAllowed(['GET']));
  router.all('/:id', methodNotAllowed(['GET']));
  router.all('/:id/redeliver', methodNotAllowed(['POST']));

  return router;
}

export function signalView(base: string, signal: SignalView) {
  const links = linksFrom(base);
  return {
    id: signal.id,
    deploymentId: signal.deploymentId,
    webhook: signal.webhook,
    event: signal.event,
    status: signal.status,
    attempts: signal.attemptLog,
    nextAttemptAt: signal.status === 'pending' ? signal.nextAttemptAt : null,
    expiresAt: signal.expiresAt,
    createdAt: signal.createdAt,
    deliveredAt: signal.deliveredAt ?? null,
    lastError: signal.lastError ?? null,
    links: {
      self: links.api.signal(signal.id),
      deployment: links.api.deployment(signal.deploymentId),
      page: links.page.deployment(signal.deploymentId),
    },
  };
}
