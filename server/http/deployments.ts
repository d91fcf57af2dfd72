import { Router } from 'express';
import { z } from 'zod';
import { NotFoundError, RequestError } from '../errors.ts';
import type { Signals } from '../signals/signals.ts';
import type { Store } from '../store/store.ts';
import type { Verifier } from '../verification/verifier.ts';
import { signalView } from './signals.ts';
import { deploymentView, type LinkBase } from './views.ts';
import { label, methodNotAllowed, pathParam, validate, validateQuery, wholeNumber } from './validate.ts';

/** Longest `?wait=` a caller may hold a request open for, seconds. */
export const MAX_WAIT_SECONDS = 900;

const deployBody = z.strictObject({
  environment: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).max(64, { error: 'must be at most 64 characters' }),
  version: label(128),
  service: label(128).optional(),
  deploymentId: label(200).optional(),
});

/** A POST or GET of one deployment may hold the request open until the verdict, at most this long. */
const waitQuery = z.strictObject({
  wait: wholeNumber(0, MAX_WAIT_SECONDS, 'seconds').optional(),
});

const listQuery = z.strictObject({
  environment: z.string().max(64, { error: 'must be at most 64 characters' }).optional(),
  limit: wholeNumber(1, 500).optional(),
});

export function deploymentRoutes(deps: { store: Store; verifier: Verifier; signals: Pick<Signals, 'ofDeployment'>; base: LinkBase }): Router {
  const { store, verifier, signals, base } = deps;
  const router = Router();
  router.param('id', pathParam('id'));

  const present = (req: Parameters<LinkBase>[0], id: string) => {
    const deployment = store.getDeployment(id);
    if (!deployment) throw new NotFoundError('deployment', id);
    const runs = store.runsOfDeployment(id);
    const latest = runs.at(-1);
    const link = base(req);
    return {
      ...deploymentView(link, deployment, latest && store.getRun(latest.id), runs),
      signals: signals.ofDeployment(id).map((signal) => signalView(link, signal)),
    };
  };

  router.post('/', async (req, res) => {
    if (!req.is('application/json')) {
      throw new RequestError(415, 'unsupported_media_type', 'send the deployment as JSON with Content-Type: application/json');
    }
    const { wait } = validateQuery(waitQuery, req.query);
    const body = validate(deployBody, req.body ?? {}, 'body');
    const { deployment, created } = verifier.submit(body);
    if (wait) {
      const closed = new AbortController();
      res.on('close', () => closed.abort());
      await verifier.waitUntilDone(deployment.id, wait * 1000, closed.signal);
    }
    const view = present(req, deployment.id);
    res
      .status(view.status === 'done' ? 200 : 202)
      .set('Location', view.links.self)
      .set('Idempotent-Replayed', created ? 'false' : 'true')
      .json(view);
  });

  router.get('/', (req, res) => {
    const { environment, limit } = validateQuery(listQuery, req.query);
    const list = store.listDeployments({ ...(environment && { environment }), limit: limit ?? 50 });
    res.json({ deployments: list.map((d) => present(req, d.id)) });
  });

  router.get('/:id', async (req, res) => {
    const { wait } = validateQuery(waitQuery, req.query);
    if (wait && store.getDeployment(req.params.id)) {
      const closed = new AbortController();
      res.on('close', () => closed.abort());
      await verifier.waitUntilDone(req.params.id, wait * 1000, closed.signal);
    }
    res.json(present(req, req.params.id));
  });

  router.all('/', methodNotAllowed(['GET', 'POST']));
  router.all('/:id', methodNotAllowed(['GET']));

  return router;
}
