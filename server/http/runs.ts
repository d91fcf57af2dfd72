import { Router } from 'express';
import path from 'node:path';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { runSummaryView, runView, type LinkBase } from './views.ts';
import { methodNotAllowed, noQuery, pathParam, validateQuery, wholeNumber } from './validate.ts';

const listQuery = z.strictObject({
  environment: z.string().max(64, { error: 'must be at most 64 characters' }).optional(),
  limit: wholeNumber(1, 500).optional(),
});

export function runRoutes(deps: { store: Store; artifactsDir: string; base: LinkBase }): Router {
  const { store, artifactsDir, base } = deps;
  const router = Router();
  router.param('id', pathParam('id'));

  router.get('/', (req, res) => {
    const { environment, limit } = validateQuery(listQuery, req.query);
    const runs = store.listRuns({ ...(environment && { environment }), limit: limit ?? 50 });
    res.json({ runs: runs.map((r) => runSummaryView(base(req), r)) });
  });

  router.get('/:id', (req, res) => {
    validateQuery(noQuery, req.query);
    const run = store.getRun(req.params.id);
    if (!run) throw new NotFoundError('run', req.params.id);
    res.json(runView(base(req), run));
  });

  router.get('/:id/artifacts/*artifact', (req, res, next) => {
    const run = store.getRun(req.params.id);
    if (!run) throw new NotFoundError('run', req.params.id);
    const wanted = (req.params as unknown as { artifact: string[] }).artifact.join('/');
    // Only files a flow result names are served: the folder may hold anything Playwright wrote.
    const known = run.results.flatMap((r) => r.artifacts).find((a) => a.path === wanted);
    if (!known) throw new NotFoundError('artifact', wanted);
    res.sendFile(known.path, { root: path.join(artifactsDir, run.id), dotfiles: 'deny', headers: { 'Content-Type': known.contentType } }, (err) => {
      if (err && !res.headersSent) next(new NotFoundError('artifact', wanted));
    });
  });

  router.all('/', methodNotAllowed(['GET']));
  router.all('/:id', methodNotAllowed(['GET']));
  router.all('/:id/artifacts/*artifact', methodNotAllowed(['GET']));

  return router;
}
