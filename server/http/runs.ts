import { Router } from 'express';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import { sendArtifact } from '../pages/run-files.ts';
import type { Store } from '../store/store.ts';
import type { RouteDoc } from './route-doc.ts';
import { runSummaryView, runView, type LinkBase } from './views.ts';
import { idParam, methodNotAllowed, noQuery, pathParam, validateQuery, wholeNumber } from './validate.ts';

const listQuery = z.strictObject({
  environment: z.string().max(64, { error: 'must be at most 64 characters' }).optional().describe('Only runs that targeted this environment.'),
  schedule: z.string().max(64, { error: 'must be at most 64 characters' }).optional().describe('Only runs this schedule started.'),
  limit: wholeNumber(1, 500).optional().describe('At most this many, newest first (1 to 500; 50 by default).'),
});

export function runRoutes(deps: { store: Pick<Store, 'listRuns' | 'getRun'>; artifactsDir: string; base: LinkBase }): Router {
  const { store, artifactsDir, base } = deps;
  const router = Router();
  router.param('id', pathParam('id'));

  router.get('/', async (req, res) => {
    const { environment, schedule, limit } = validateQuery(listQuery, req.query);
    const runs = await store.listRuns({ ...(environment && { environment }), ...(schedule && { schedule }), limit: limit ?? 50 });
    res.json({ runs: runs.map((r) => runSummaryView(base(req), r)) });
  });

  router.get('/:id', async (req, res) => {
    validateQuery(noQuery, req.query);
    const run = await store.getRun(req.params.id);
    if (!run) throw new NotFoundError('run', req.params.id);
    res.json(runView(base(req), run));
  });

  router.get('/:id/artifacts/*artifact', async (req, res, next) => {
    const run = await store.getRun(req.params.id);
    if (!run) throw new NotFoundError('run', req.params.id);
    // Shared with the pages' artifact route: only files a flow result names are served.
    sendArtifact(res, next, artifactsDir, run, (req.params as unknown as { artifact: string[] }).artifact.join('/'));
  });

  router.all('/', methodNotAllowed(['GET']));
  router.all('/:id', methodNotAllowed(['GET']));
  router.all('/:id/artifacts/*artifact', methodNotAllowed(['GET']));

  return router;
}

const artifactParams = z.object({
  id: idParam,
  artifact: z.string().describe("The artifact's path in the run's folder, as the flow's `artifacts[].url` gives it."),
});

/** What the routes above take and answer; assembled in `openapi.ts`. */
export const runDocs: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/',
    summary: 'List runs',
    description: 'Recent runs, deploy-triggered and scheduled, newest first, without their flows.',
    query: listQuery,
    responses: { 200: { description: '`{ runs: [...] }`.' } },
    auth: 'bearer',
  },
  {
    method: 'get',
    path: '/:id',
    summary: 'Get a run',
    description:
      'One run of the flows: its verdict, how the runner ended, reachability and every flow of every environment (outcome, duration, retries, error, artifact links; a trace also links the trace viewer), browser attempts and phase timings, and `replica`: the `server.instanceId` of the smoke replica that ran it (null until it starts). `links.page` is its page, `links.report` its Playwright HTML report.',
    params: z.object({ id: idParam }),
    query: noQuery,
    responses: { 200: { description: 'The run.' }, 404: { description: 'No run has this id.' } },
    auth: 'bearer',
  },
  {
    method: 'get',
    path: '/:id/artifacts/*artifact',
    summary: "Download a run's artifact",
    description: 'A screenshot, trace or other attachment of a flow of the run. Only files a flow result names are served.',
    params: artifactParams,
    responses: {
      200: { description: 'The file, with its own content type (image/png, application/zip, …).', contentType: '*/*' },
      404: { description: 'No such run, or no flow of it names this artifact.' },
    },
    auth: 'bearer',
  },
];
