import { Router } from 'express';
import { z } from 'zod';
import { NotFoundError, RequestError } from '../errors.ts';
import type { SignalView, Signals } from '../signals/signals.ts';
import type { LinkBase } from './views.ts';
import { methodNotAllowed, noQuery, pathParam, validateQuery, wholeNumber } from './validate.ts';

const listQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'rejected', 'dead'], { error: 'must be pending, delivered, rejected or dead' }).optional(),
  limit: wholeNumber(1, 500).optional(),
});

/** The rollback-signal outbox: what was sent where, every attempt, and a way to send a dead one again. */
export function signalRoutes(deps: { signals: Signals; base: LinkBase }): Router {
  const { signals, base } = deps;
  const router = Router();
  router.param('id', pathParam('id'));

  router.get('/', (req, res) => {
    const { status, limit } = validateQuery(listQuery, req.query);
    res.json({ signals: signals.list({ ...(status && { status }), limit: limit ?? 50 }).map((s) => signalView(base(req), s)) });
  });

  router.get('/:id', (req, res) => {
    validateQuery(noQuery, req.query);
    const signal = signals.get(req.params.id);
    if (!signal) throw new NotFoundError('signal', req.params.id);
    res.json(signalView(base(req), signal));
  });

  router.post('/:id/redeliver', (req, res) => {
    validateQuery(noQuery, req.query);
    const signal = signals.get(req.params.id);
    if (!signal) throw new NotFoundError('signal', req.params.id);
    if (!signals.redeliver(signal.id)) {
      throw new RequestError(409, 'not_redeliverable', `signal '${signal.id}' is ${signal.status}: only dead or rejected signals can be redelivered`, 'id');
    }
    res.status(202).json(signalView(base(req), signals.get(signal.id)!));
  });

  router.all('/', methodNotAllowed(['GET']));
  router.all('/:id', methodNotAllowed(['GET']));
  router.all('/:id/redeliver', methodNotAllowed(['POST']));

  return router;
}

export function signalView(base: string, signal: SignalView) {
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
      self: `${base}/api/v1/signals/${signal.id}`,
      deployment: `${base}/api/v1/deployments/${signal.deploymentId}`,
    },
  };
}
