import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../service.ts';
import { api, startService, startShop, waitFor, workspace, type Shop, type Workspace } from './harness.ts';

/** The value of one series in a /metrics scrape, or undefined when it is absent. */
async function metric(base: string, series: string): Promise<number | undefined> {
  const text = (await api(base, 'GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const runsOf = async (base: string, schedule: string) =>
  ((await api(base, 'GET', '/api/v1/runs?limit=500')).body.runs as any[]).filter((r) => r.schedule === schedule).reverse();

describe('schedules', () => {
  let production: Shop;
  let canary: Shop;
  let ws: Workspace;
  let service: Service;

  before(async () => {
    production = await startShop('production');
    canary = await startShop('canary');
    ws = workspace(
      { production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } },
      {
        retries: 0,
        schedules: [
          '  - name: nightly',
          '    cron: "30 4 * * *"',
          '    timezone: Asia/Tokyo',
          '    environments: [canary]',
          '  - name: hourly',
          '    cron: "0 * * * *"',
          '    environments: [production]',
          '    grep: "API"',
          '',
        ].join('\n'),
      },
    );
    service = await startService(ws);
  });

  after(async () => {
    await service?.close();
    await Promise.all([production?.close(), canary?.close()]);
    ws?.remove();
  });

  it('lists each schedule with its next run time in its own time zone', async () => {
    const { status, body } = await api(service.url, 'GET', '/api/v1/schedules');
    assert.equal(status, 200);
    assert.deepEqual(
      body.schedules.map((s: any) => [s.name, s.cron, s.timezone, s.environments, s.grep, s.running, s.lastRun, s.ticks]),
      [
        ['nightly', '30 4 * * *', 'Asia/Tokyo', ['canary'], null, false, null, { started: 0, skipped: 0, missed: 0 }],
        ['hourly', '0 * * * *', 'UTC', ['production'], 'API', false, null, { started: 0, skipped: 0, missed: 0 }],
      ],
    );
    const [nightly, hourly] = body.schedules.map((s: any) => new Date(s.nextRunAt));
    const now = Date.now();
    assert.ok(nightly > now && nightly <= now + 24 * 3_600_000, `nightly next at ${nightly.toISOString()}`);
    const tokyo = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    assert.equal(tokyo.format(nightly), '04:30:00');
    assert.ok(hourly > now && hourly <= now + 3_600_000);
    assert.equal(hourly.getUTCMinutes(), 0);
  });

  it('runs a schedule by hand: 202 with the runs, judged like any run, trigger manual', async () => {
    const started = await api(service.url, 'POST', '/api/v1/schedules/nightly/run');
    assert.equal(started.status, 202);
    assert.equal(started.body.trigger, 'manual');
    assert.equal(started.body.runs.length, 1);
    const [run] = started.body.runs;
    assert.equal(run.environment, 'canary');
    assert.deepEqual(run.environments, ['canary', 'production']);
    assert.equal(run.link, `${service.url}/api/v1/runs/${run.id}`);
    assert.equal(run.page, `${service.url}/runs/${run.id}`);

    const listed = await api(service.url, 'GET', '/api/v1/schedules/nightly');
    assert.equal(listed.body.running, true);
    assert.deepEqual(listed.body.activeRuns.map((r: any) => r.id), [run.id]);

    const done = await waitFor('the manual run to finish', async () => {
      const { body } = await api(service.url, 'GET', `/api/v1/runs/${run.id}`);
      return body.status === 'done' ? body : undefined;
    });
    assert.equal(done.trigger, 'manual');
    assert.equal(done.schedule, 'nightly');
    assert.equal(done.deploymentId, null);
    assert.equal(done.verdict, 'pass', done.reasons.join('\n'));
    // runs.baseline: on-failure, as for deploys: every flow passed on the canary, so none needed the baseline.
    assert.ok(done.environments.canary.flows.length > 0, 'the flows ran');
    assert.deepEqual(done.environments.production.flows, [], 'the baseline ran only what failed on the canary: nothing');

    const after = await waitFor('the listing to show the run', async () => {
      const { body } = await api(service.url, 'GET', '/api/v1/schedules/nightly');
      return body.running ? undefined : body;
    });
    assert.deepEqual(after.lastRun, {
      id: run.id,
      environment: 'canary',
      trigger: 'manual',
      status: 'done',
      verdict: 'pass',
      finishedAt: done.finishedAt,
      link: run.link,
      page: run.page,
    });
    assert.deepEqual(after.ticks, { started: 0, skipped: 0, missed: 0 }, 'a run by hand is not a tick');

    const unknown = await api(service.url, 'POST', '/api/v1/schedules/weekly/run');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.message, "schedule 'weekly' not found");
    assert.equal((await api(service.url, 'GET', '/api/v1/schedules/weekly')).status, 404);
  });
});

describe('a schedule that ticks faster than its runs finish', () => {
  it('skips and counts the ticks that find its run still going, and never overlaps itself', async () => {
    const production = await startShop('production');
    // Every canary response waits 3 s, longer than the 2 s between ticks:
    // however fast the runner starts, each run's span holds at least one tick.
    const canary = await startShop('canary', 'slow', 3_000);
    const ws = workspace(
      { production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } },
      { retries: 0, deadlineSeconds: 45, schedules: '  - name: pulse\n    cron: "*/2 * * * * *"\n    environments: [canary]\n    grep: API\n' },
    );
    const service = await startService(ws);
    try {
      // A finished run and the one after it: enough to see where the second
      // began, and the finished one held a tick it had to skip.
      await waitFor(
        'a scheduled run to finish, a tick to be skipped and the next run to start',
        async () => {
          const runs = await runsOf(service.url, 'pulse');
          const skipped = await metric(service.url, 'smoke_schedule_ticks_total{schedule="pulse",result="skipped"}');
          return runs[0]?.status === 'done' && runs.length >= 2 && skipped! >= 1 ? true : undefined;
        },
        45_000,
      );
      const skipped = await metric(service.url, 'smoke_schedule_ticks_total{schedule="pulse",result="skipped"}');
      const { body: listing } = await api(service.url, 'GET', '/api/v1/schedules/pulse');
      const runs = await runsOf(service.url, 'pulse');

      assert.ok(skipped! >= 1, `skipped ticks counted: ${skipped}`);
      assert.ok(listing.ticks.skipped >= skipped!, 'the API and /metrics count the same ticks');
      // One run per started tick (a tick may land between the two reads).
      assert.ok(runs.length === listing.ticks.started || runs.length === listing.ticks.started + 1, `${runs.length} runs, ${listing.ticks.started} started`);
      for (const r of runs) assert.equal(r.trigger, 'schedule');
      for (const r of runs.filter((r) => r.status === 'done')) assert.ok(['pass', 'fail', 'inconclusive'].includes(r.verdict), `run ${r.id} judged`);
      for (let i = 1; i < runs.length; i++) {
        const previous = runs[i - 1];
        assert.ok(previous.finishedAt && runs[i].createdAt >= previous.finishedAt, `run ${runs[i].id} was created before ${previous.id} ended`);
      }
    } finally {
      await service.close();
      await Promise.all([production.close(), canary.close()]);
      ws.remove();
    }
  });
});
