import { PAGE_HEADERS } from './headers.ts';
import { Router, type Request, type Response } from 'express';
import { NotFoundError, RequestError } from '../errors.ts';
import { SESSION_COOKIE } from '../http/session.ts';
import type { RouteDoc } from '../http/route-doc.ts';
import { methodNotAllowed, pathParam, validateQuery } from '../http/validate.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { Signals } from '../signals/signals.ts';
import type { Store } from '../store/store.ts';
import { deploymentLive, deploymentPage, type DeploymentData } from './deployment-page.ts';
import { pageErrors } from './error-page.ts';
import { OVERVIEW_LIMIT, overviewPage, overviewQuery } from './overview.ts';
import type { PagePaths } from './paths.ts';
import { runLive, runPage } from './run-page.ts';
import { schedulesPage, STRIP_RUNS } from './schedules-page.ts';

export interface PageDeps {
  readonly store: Pick<Store, 'listDeployments' | 'getDeployment' | 'runsOfDeployment' | 'getRun' | 'listRuns'>;
  readonly scheduler: Pick<Scheduler, 'list'>;
  readonly signals: Pick<Signals, 'ofDeployment'>;
  readonly paths: PagePaths;
  /** The configured environments, for the overview's filter. */
  readonly environments: readonly string[];
}

/** The pages' own headers, and never from a cache: they sit behind auth and change while a run goes. */
const HEADERS = { ...PAGE_HEADERS, 'Cache-Control': 'no-store' };

const PAGES = ['/', '/deployments/:id', '/deployments/:id/live', '/runs/:id', '/runs/:id/live', '/schedules'] as const;

/** The HTML pages; mounted at the root and at the path prefix, after the page auth check. */
export function pageRoutes(deps: PageDeps): Router {
  const { store, paths } = deps;
  const router = Router();
  router.param('id', pathParam('id'));
  const send = (res: Response, markup: string | { toString(): string }) => {
    res.set(HEADERS).type('html').send(markup.toString());
  };
  // Auth already ran: a session cookie here is one that let the visitor in, so offer to sign out.
  const signedIn = (req: Request) => (req.get('cookie') ?? '').split(';').some((c) => c.trim().startsWith(`${SESSION_COOKIE}=`));

  router.get('/', async (req, res) => {
    const query = validateQuery(overviewQuery, req.query);
    const environment = query.environment || undefined;
    if (environment !== undefined && !deps.environments.includes(environment)) {
      throw new RequestError(400, 'unknown_environment', `query: environment '${environment}' is not in the config (known: ${deps.environments.join(', ')})`, 'environment');
    }
    const verdict = query.verdict || undefined;
    const filter = { ...(environment !== undefined && { environment }), ...(verdict !== undefined && { verdict }) };
    const deployments = await store.listDeployments({ ...filter, limit: OVERVIEW_LIMIT });
    send(res, overviewPage(deployments, filter, deps.environments, paths, signedIn(req)));
  });

  // Separate reads, no snapshot: a run ending between them shows on the next poll of the live part.
  const deploymentData = async (id: string): Promise<DeploymentData> => {
    const deployment = await store.getDeployment(id);
    if (!deployment) throw new NotFoundError('deployment', id);
    const [runs, signals] = await Promise.all([store.runsOfDeployment(id), deps.signals.ofDeployment(id)]);
    const newest = runs.at(-1);
    return { deployment, runs, latest: newest && (await store.getRun(newest.id)), signals };
  };
  router.get('/deployments/:id', async (req, res) => send(res, deploymentPage(await deploymentData(req.params.id), paths, signedIn(req))));
  router.get('/deployments/:id/live', async (req, res) => send(res, deploymentLive(await deploymentData(req.params.id), paths)));

  const run = async (id: string) => {
    const found = await store.getRun(id);
    if (!found) throw new NotFoundError('run', id);
    return found;
  };
  router.get('/runs/:id', async (req, res) => send(res, runPage(await run(req.params.id), paths, signedIn(req))));
  router.get('/runs/:id/live', async (req, res) => send(res, runLive(await run(req.params.id), paths)));

  router.get('/schedules', async (req, res) => {
    const statuses = await deps.scheduler.list();
    const rows = await Promise.all(
      statuses.map(async (status) => ({
        status,
        runs: await store.listRuns({ schedule: status.schedule.name, limit: STRIP_RUNS * status.schedule.environments.length }),
      })),
    );
    send(res, schedulesPage(rows, paths, signedIn(req)));
  });

  for (const path of PAGES) router.all(path, methodNotAllowed(['GET']));
  router.use(pageErrors(paths));
  return router;
}

const html = (description: string) => ({ description, contentType: 'text/html' });
const idNotFound = (what: string) => ({ 400: html(`The ${what} id is malformed`), 404: html(`No such ${what}`) });

export const pageDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/',
    summary: 'Overview: recent deployments',
    description: `The ${OVERVIEW_LIMIT} newest deployments (service, environment, version, verdict, time, duration), filtered by environment and verdict.`,
    query: overviewQuery,
    responses: { 200: html('The overview page'), 400: html('A filter names an unknown environment or verdict') },
    auth: 'page',
  },
  {
    method: 'get',
    path: '/deployments/:id',
    summary: 'Deployment page',
    description: "The verdict with its reasons, the newest run's flows target beside baseline, failures with screenshot and trace, every run and webhook.",
    responses: { 200: html('The deployment page'), ...idNotFound('deployment') },
    auth: 'page',
  },
  {
    method: 'get',
    path: '/deployments/:id/live',
    summary: "The deployment page's changing part",
    description: 'An HTML fragment the page polls while the verification runs; its `data-status` is `done` once the deployment is.',
    responses: { 200: html('The fragment'), ...idNotFound('deployment') },
    auth: 'page',
  },
  {
    method: 'get',
    path: '/runs/:id',
    summary: 'Run page',
    description: 'One run of any trigger (deploy, schedule, manual): its verdict, flows target beside baseline, failures and report.',
    responses: { 200: html('The run page'), ...idNotFound('run') },
    auth: 'page',
  },
  {
    method: 'get',
    path: '/runs/:id/live',
    summary: "The run page's changing part",
    description: 'An HTML fragment the page polls while the run goes; its `data-status` is `done` once the run has ended.',
    responses: { 200: html('The fragment'), ...idNotFound('run') },
    auth: 'page',
  },
  {
    method: 'get',
    path: '/schedules',
    summary: 'Schedules',
    description: `Each schedule with its cron, next run and its last ${STRIP_RUNS} runs as pass/fail marks.`,
    responses: { 200: html('The schedules page') },
    auth: 'page',
  },
];
