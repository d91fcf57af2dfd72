import { Router } from 'express';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import type { Scheduler, ScheduleStatus } from '../scheduler/scheduler.ts';
import { linksFrom } from '../links.ts';
import { NAME, NAME_RULE } from '../values/primitives.ts';
import type { RouteDoc } from './route-doc.ts';
import { methodNotAllowed, noQuery, pathParam, validateQuery } from './validate.ts';
import type { LinkBase } from './views.ts';

const nameParams = z.object({ name: z.string().regex(NAME).describe('The schedule\'s name, as in the config\'s `schedules`.') });

/** What the routes below take and answer; assembled in `openapi.ts`. */
export const scheduleDocs: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/',
    summary: 'List schedules',
    description: 'Every configured schedule: its cron, next run, the runs under way, its last run and whether it is failing.',
    query: noQuery,
    responses: { 200: { description: '`{ schedules: [...] }`.' } },
    auth: 'bearer',
  },
  {
    method: 'get',
    path: '/:name',
    summary: 'Get a schedule',
    params: nameParams,
    query: noQuery,
    responses: { 200: { description: 'The schedule.' }, 404: { description: 'No schedule has this name.' } },
    auth: 'bearer',
  },
  {
    method: 'post',
    path: '/:name/run',
    summary: 'Run a schedule now',
    description: 'Starts the schedule\'s runs now (trigger `manual`), one per environment, and answers at once with their ids, API links and pages.',
    params: nameParams,
    query: noQuery,
    responses: {
      202: { description: 'The runs started.' },
      404: { description: 'No schedule has this name.' },
      503: { description: 'smoke is shutting down.' },
    },
    auth: 'bearer',
  },
];

export function scheduleRoutes(deps: { scheduler: Pick<Scheduler, 'list' | 'runNow'>; base: LinkBase }): Router {
  const { scheduler, base } = deps;
  const router = Router();
  router.param('name', pathParam('name', NAME, `${NAME_RULE} (at most 63)`));

  router.get('/', async (req, res) => {
    validateQuery(noQuery, req.query);
    res.json({ schedules: (await scheduler.list()).map((s) => scheduleView(base(req), s)) });
  });

  router.get('/:name', async (req, res) => {
    validateQuery(noQuery, req.query);
    const status = (await scheduler.list()).find((s) => s.schedule.name === req.params.name);
    if (!status) throw new NotFoundError('schedule', req.params.name);
    res.json(scheduleView(base(req), status));
  });

  /** Runs the schedule now, by hand; answers at once with where to follow the runs. */
  router.post('/:name/run', async (req, res) => {
    validateQuery(noQuery, req.query);
    const runs = await scheduler.runNow(req.params.name);
    const links = linksFrom(base(req));
    res.status(202).json({
      schedule: req.params.name,
      trigger: 'manual',
      runs: runs.map((r) => ({ id: r.id, environment: r.target, environments: r.environments, status: r.status, link: links.api.run(r.id), page: links.page.run(r.id) })),
      links: { schedule: links.api.schedule(req.params.name), runs: runs.map((r) => links.api.run(r.id)) },
    });
  });

  router.all('/', methodNotAllowed(['GET']));
  router.all('/:name', methodNotAllowed(['GET']));
  router.all('/:name/run', methodNotAllowed(['POST']));

  return router;
}

function scheduleView(base: string, status: ScheduleStatus) {
  const { schedule, lastRun } = status;
  const links = linksFrom(base);
  const self = links.api.schedule(schedule.name);
  return {
    name: schedule.name,
    cron: schedule.cron,
    timezone: schedule.timezone,
    environments: schedule.environments,
    grep: schedule.grep ?? null,
    jitterSeconds: schedule.jitterSeconds,
    recheckSeconds: schedule.recheckSeconds ?? null,
    nextRunAt: status.nextRunAt?.toISOString() ?? null,
    recheckAt: status.recheckAt?.toISOString() ?? null,
    running: status.running,
    activeRuns: status.activeRunIds.map((id) => ({ id, link: links.api.run(id), page: links.page.run(id) })),
    failing: status.failing,
    lastRun: lastRun
      ? {
          id: lastRun.id,
          environment: lastRun.target,
          trigger: lastRun.trigger,
          status: lastRun.status,
          verdict: lastRun.verdict?.kind ?? null,
          finishedAt: lastRun.finishedAt ?? null,
          link: links.api.run(lastRun.id),
          page: links.page.run(lastRun.id),
        }
      : null,
    ticks: status.ticks,
    links: { self, run: `${self}/run` },
  };
}
