import { Router } from 'express';
import { NotFoundError } from '../errors.ts';
import type { Scheduler, ScheduleStatus } from '../scheduler/scheduler.ts';
import { NAME, NAME_RULE } from '../values/primitives.ts';
import { methodNotAllowed, noQuery, pathParam, validateQuery } from './validate.ts';
import type { LinkBase } from './views.ts';

export function scheduleRoutes(deps: { scheduler: Pick<Scheduler, 'list' | 'runNow'>; base: LinkBase }): Router {
  const { scheduler, base } = deps;
  const router = Router();
  router.param('name', pathParam('name', NAME, `${NAME_RULE} (at most 63)`));

  router.get('/', (req, res) => {
    validateQuery(noQuery, req.query);
    res.json({ schedules: scheduler.list().map((s) => scheduleView(base(req), s)) });
  });

  router.get('/:name', (req, res) => {
    validateQuery(noQuery, req.query);
    const status = scheduler.list().find((s) => s.schedule.name === req.params.name);
    if (!status) throw new NotFoundError('schedule', req.params.name);
    res.json(scheduleView(base(req), status));
  });

  /** Runs the schedule now, by hand; answers at once with where to follow the runs. */
  router.post('/:name/run', (req, res) => {
    validateQuery(noQuery, req.query);
    const runs = scheduler.runNow(req.params.name);
    const link = (id: string) => `${base(req)}/api/v1/runs/${id}`;
    res.status(202).json({
      schedule: req.params.name,
      trigger: 'manual',
      runs: runs.map((r) => ({ id: r.id, environment: r.target, environments: r.environments, status: r.status, link: link(r.id) })),
      links: { schedule: `${base(req)}/api/v1/schedules/${encodeURIComponent(req.params.name)}`, runs: runs.map((r) => link(r.id)) },
    });
  });

  router.all('/', methodNotAllowed(['GET']));
  router.all('/:name', methodNotAllowed(['GET']));
  router.all('/:name/run', methodNotAllowed(['POST']));

  return router;
}

function scheduleView(base: string, status: ScheduleStatus) {
  const { schedule, lastRun } = status;
  const self = `${base}/api/v1/schedules/${encodeURIComponent(schedule.name)}`;
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
    activeRuns: status.activeRunIds.map((id) => ({ id, link: `${base}/api/v1/runs/${id}` })),
    failing: status.failing,
    lastRun: lastRun
      ? {
          id: lastRun.id,
          environment: lastRun.target,
          trigger: lastRun.trigger,
          status: lastRun.status,
          verdict: lastRun.verdict?.kind ?? null,
          finishedAt: lastRun.finishedAt ?? null,
          link: `${base}/api/v1/runs/${lastRun.id}`,
        }
      : null,
    ticks: status.ticks,
    links: { self, run: `${self}/run` },
  };
}
