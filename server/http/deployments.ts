import { Router, type Response } from 'express';
import { z } from 'zod';
import { NotFoundError, RequestError } from '../errors.ts';
import type { Signals } from '../signals/signals.ts';
import type { Store } from '../store/store.ts';
import type { DeploymentRecord } from '../verification/records.ts';
import type { Verifier } from '../verification/verifier.ts';
import type { RouteDoc } from './route-doc.ts';
import { signalView } from './signals.ts';
import { deploymentView, type LinkBase } from './views.ts';
import { idParam, label, methodNotAllowed, pathParam, validate, validateQuery, wholeNumber } from './validate.ts';

/** Longest `?wait=` a caller may hold a request open for, seconds. */
export const MAX_WAIT_SECONDS = 900;

const deployBody = z.strictObject({
  environment: z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(64, { error: 'must be at most 64 characters' })
    .describe('The environment that was deployed, as named in the config (`environments`).'),
  version: label(128).describe('The version now running there: a tag, a commit, an image digest.'),
  service: label(128).optional().describe('The service deployed; the config\'s `service` by default.'),
  deploymentId: label(200)
    .optional()
    .describe('Idempotency key (e.g. the pipeline run id): the same key never starts a second verification; sent again, it answers the first one.'),
});

/** A POST or GET of one deployment may hold the request open until the verdict, at most this long. */
const waitQuery = z.strictObject({
  wait: wholeNumber(0, MAX_WAIT_SECONDS, 'seconds')
    .optional()
    .describe(`Seconds (0 to ${MAX_WAIT_SECONDS}) to hold the request open until the verdict; the answer is the deployment as it stands then.`),
});

const listQuery = z.strictObject({
  environment: z.string().max(64, { error: 'must be at most 64 characters' }).optional().describe('Only deployments to this environment.'),
  limit: wholeNumber(1, 500).optional().describe('At most this many, newest first (1 to 500; 50 by default).'),
});

const idParams = z.object({ id: idParam });

/** What the routes below take and answer, from the schemas above; assembled in `openapi.ts`. */
export const deploymentDocs: readonly RouteDoc[] = [
  {
    method: 'post',
    path: '/',
    summary: 'Verify a deploy',
    description:
      'Tells smoke that a version was deployed to an environment: smoke runs the critical flows against it (and its baseline), judges a verdict and, on a fail, sends the rollback webhooks. ' +
      'A newer deploy to the same environment supersedes a running verification. The answer links the deployment in the API (`links.self`, also the `Location` header) and its page (`links.page`).',
    query: waitQuery,
    body: deployBody,
    responses: {
      200: { description: 'The deployment, done (with `?wait=`, when the verdict came in time).' },
      202: { description: 'The deployment, queued or running. `Idempotent-Replayed: true` when the `deploymentId` was seen before.' },
      400: { description: 'A field is missing or wrong, or the environment is not in the config; `error.field` names it.' },
      409: { description: 'The `deploymentId` was already used for another environment or version.' },
      413: { description: 'The body is larger than 64 KiB.' },
      415: { description: 'The body is not JSON.' },
      503: { description: 'smoke is shutting down, or its store cannot take writes (`Retry-After`).' },
    },
    auth: 'bearer',
  },
  {
    method: 'get',
    path: '/',
    summary: 'List deployments',
    description: 'Recent deployments, newest first, each as `GET /api/v1/deployments/{id}` presents it.',
    query: listQuery,
    responses: { 200: { description: '`{ deployments: [...] }`.' } },
    auth: 'bearer',
  },
  {
    method: 'get',
    path: '/:id',
    summary: 'Get a deployment',
    description:
      'The verification of one deploy: status, verdict and reasons, the latest run with every flow (outcome, duration, retries, error, screenshot and trace links), every run it had (superseded, interrupted, resumed) and its rollback signals. ' +
      'With `?wait=`, holds the request until the verdict or the wait ran out.',
    params: idParams,
    query: waitQuery,
    responses: { 200: { description: 'The deployment.' }, 404: { description: 'No deployment has this id.' } },
    auth: 'bearer',
  },
];

export function deploymentRoutes(deps: { store: Store; verifier: Verifier; signals: Pick<Signals, 'ofDeployment'>; base: LinkBase }): Router {
  const { store, verifier, signals, base } = deps;
  const router = Router();
  router.param('id', pathParam('id'));

  // Separate reads, no snapshot: a run may end between them, so the view can show a running
  // deployment beside a finished run for one poll; the deployment's own status is the one to act on.
  const view = async (req: Parameters<LinkBase>[0], deployment: DeploymentRecord) => {
    const [runs, ofDeployment] = await Promise.all([store.runsOfDeployment(deployment.id), signals.ofDeployment(deployment.id)]);
    const latest = runs.at(-1);
    const latestRun = latest && (await store.getRun(latest.id));
    const link = base(req);
    return {
      ...deploymentView(link, deployment, latestRun, runs),
      signals: ofDeployment.map((signal) => signalView(link, signal)),
    };
  };
  const present = async (req: Parameters<LinkBase>[0], id: string) => {
    const deployment = await store.getDeployment(id);
    if (!deployment) throw new NotFoundError('deployment', id);
    return view(req, deployment);
  };

  /** Holds the request until the deployment is done, the wait runs out or the client goes; the deployment as it stands then, undefined for an unknown id. */
  const waitFor = (res: Response, id: string, seconds: number): Promise<DeploymentRecord | undefined> => {
    const closed = new AbortController();
    res.on('close', () => closed.abort());
    // The verifier watches the store, so this works whichever replica verifies the deployment.
    return verifier.waitUntilDone(id, seconds * 1000, closed.signal);
  };

  router.post('/', async (req, res) => {
    if (!req.is('application/json')) {
      throw new RequestError(415, 'unsupported_media_type', 'send the deployment as JSON with Content-Type: application/json');
    }
    const { wait } = validateQuery(waitQuery, req.query);
    const body = validate(deployBody, req.body ?? {}, 'body');
    const { deployment, created } = await verifier.submit(body);
    const settled = wait ? await waitFor(res, deployment.id, wait) : undefined;
    const answer = settled ? await view(req, settled) : await present(req, deployment.id);
    res
      .status(answer.status === 'done' ? 200 : 202)
      .set('Location', answer.links.self)
      .set('Idempotent-Replayed', created ? 'false' : 'true')
      .json(answer);
  });

  router.get('/', async (req, res) => {
    const { environment, limit } = validateQuery(listQuery, req.query);
    const list = await store.listDeployments({ ...(environment && { environment }), limit: limit ?? 50 });
    // The listed records themselves, not a second read by id: one pruned meanwhile must not fail the list.
    res.json({ deployments: await Promise.all(list.map((d) => view(req, d))) });
  });

  router.get('/:id', async (req, res) => {
    const { wait } = validateQuery(waitQuery, req.query);
    if (!wait) {
      res.json(await present(req, req.params.id));
      return;
    }
    const deployment = await waitFor(res, req.params.id, wait);
    if (!deployment) throw new NotFoundError('deployment', req.params.id);
    res.json(await view(req, deployment));
  });

  router.all('/', methodNotAllowed(['GET', 'POST']));
  router.all('/:id', methodNotAllowed(['GET']));

  return router;
}
