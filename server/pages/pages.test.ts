import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import type { ScheduleStatus } from '../scheduler/scheduler.ts';
import { scheduleStatus } from '../testing/schedule-status.ts';
import type { SignalView } from '../signals/signals.ts';
import { openStore, type Store } from '../store/store.ts';
import type { FlowResult, Verdict } from '../verdict/types.ts';
import { assetRoutes } from './assets.ts';
import { pagePaths } from './paths.ts';
import { pageDocs, pageRoutes } from './routes.ts';

/** The pages over a temp SQLite store, on 127.0.0.1:0, under `prefix`. */
async function serve(prefix: string, options: { schedules?: ScheduleStatus[]; signals?: SignalView[] } = {}) {
  const store = await openStore({ kind: 'sqlite', file: path.join(mkdtempSync(path.join(os.tmpdir(), 'smoke-pages-')), 'smoke.db') });
  const paths = pagePaths(prefix);
  const app = express();
  const router = pageRoutes({
    store,
    scheduler: { list: async () => options.schedules ?? [] },
    signals: { ofDeployment: async () => options.signals ?? [] },
    paths,
    environments: ['canary', 'production', 'staging'],
  });
  app.use('/assets', assetRoutes());
  app.use(router);
  if (prefix) app.use(prefix, router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (url: string) => {
    const res = await fetch(`${base}${url}`, { redirect: 'manual' });
    return { status: res.status, type: res.headers.get('content-type') ?? '', csp: res.headers.get('content-security-policy'), text: await res.text() };
  };
  return { store, paths, get, close: () => new Promise((resolve) => server.close(resolve)).then(() => store.close()) };
}

const failVerdict = (flow: string): Verdict => ({
  kind: 'fail',
  reasons: [`${flow} failed on canary and passed on production`],
  failed: [{ flow, environment: 'canary' }],
});

const result = (over: Partial<FlowResult> & Pick<FlowResult, 'environment' | 'flow' | 'outcome'>): FlowResult => ({
  file: 'shop.spec.ts',
  line: 12,
  durationMs: 5_900,
  retries: 0,
  artifacts: [],
  ...over,
});

/** A failed deploy: checkout broke on the canary, passed on production; login passed (so on-failure skipped it on the baseline). */
async function failedDeploy(store: Store, checkout = 'shop.spec.ts › checkout', error = 'expect(locator).toBeVisible() failed') {
  const { deployment, run } = await store.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version: '2.4.1' });
  await store.markRunRunning(run!.id);
  await store.recordFlowResult(run!.id, result({ environment: 'canary', flow: 'shop.spec.ts › login', outcome: 'passed', durationMs: 850 }));
  await store.recordFlowResult(
    run!.id,
    result({
      environment: 'canary',
      flow: checkout,
      outcome: 'failed',
      retries: 1,
      error,
      artifacts: [
        { name: 'screenshot', contentType: 'image/png', path: 'target/checkout/test-failed-1.png' },
        { name: 'trace', contentType: 'application/zip', path: 'target/checkout/trace.zip' },
      ],
    }),
  );
  await store.recordFlowResult(run!.id, result({ environment: 'production', flow: checkout, outcome: 'passed', durationMs: 72_400 }));
  const verdict = failVerdict(checkout);
  await store.settle({ run: { id: run!.id, end: { status: 'done', verdict, outcome: { kind: 'completed' } } }, deployment: { id: deployment.id, verdict } });
  return { deployment, run: run! };
}

/** Every link, image, script, stylesheet and form target in a page. */
const urlsIn = (page: string) => [...page.matchAll(/\s(?:href|src|action|data-live)="([^"]*)"/g)].map((m) => m[1]!);

describe('pages', () => {
  let pages: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    pages = await serve('');
  });
  after(() => pages.close());

  it("shows a failing deploy's verdict, the failing flow beside its baseline, the screenshot, the trace and the report", async () => {
    const { deployment, run } = await failedDeploy(pages.store);
    const res = await pages.get(`/deployments/${deployment.id}`);
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/html/);
    assert.match(res.csp ?? '', /default-src 'self'/);
    const page = res.text;
    assert.match(page, /<!doctype html>/);
    assert.match(page, /<p class="verdict"><span aria-hidden="true">✗<\/span> FAIL<\/p>/);
    assert.match(page, /shop\.spec\.ts › checkout failed on canary and passed on production/);
    assert.match(page, /<th scope="col">canary <span class="role">target<\/span><\/th><th scope="col">production <span class="role">baseline<\/span><\/th>/);
    assert.match(page, /5\.9 s · 1 retry/);
    assert.match(page, /1 min 12 s · 0 retries/);
    assert.match(page, /<pre class="error" tabindex="0">expect\(locator\)\.toBeVisible\(\) failed<\/pre>/);
    assert.match(page, /not run: passed on the target/, 'login passed on the canary, so on-failure never ran it on production');
    assert.ok(page.indexOf('shop.spec.ts › checkout</span>') < page.indexOf('shop.spec.ts › login</span>'), 'the failing flow comes first');
    const screenshot = `/runs/${run.id}/artifacts/target/checkout/test-failed-1.png`;
    assert.match(page, new RegExp(`<img src="${screenshot}" alt="Screenshot of shop\\.spec\\.ts › checkout on canary when it failed"></a>`));
    const trace = `/trace/index.html?trace=${encodeURIComponent(`/runs/${run.id}/artifacts/target/checkout/trace.zip`)}`;
    assert.ok(page.includes(`href="${trace}">Open trace</a>`), 'the trace opens in the trace viewer');
    assert.ok(page.includes(`href="/runs/${run.id}/report/">Open the Playwright HTML report</a>`));
    assert.ok(page.includes(`href="/runs/${run.id}">${run.id}</a>`), 'the run is listed');
    assert.doesNotMatch(page, /data-live=/, 'a finished deployment is not polled');
    assert.equal((page.match(/<h1[ >]/g) ?? []).length, 1);
  });

  it('renders a flow name and an error that hold markup as text', async () => {
    const { deployment, run } = await failedDeploy(pages.store, '<script>alert(1)</script>', 'Error: <img src=x onerror=alert(1)>');
    for (const url of [`/deployments/${deployment.id}`, `/deployments/${deployment.id}/live`, `/runs/${run.id}`]) {
      const { text } = await pages.get(url);
      assert.doesNotMatch(text, /<script>alert/, url);
      assert.doesNotMatch(text, /<img src=x/, url);
      assert.ok(text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), `${url} shows the flow's name as text`);
      assert.ok(text.includes('Error: &lt;img src=x onerror=alert(1)&gt;'), `${url} shows the error as text`);
    }
  });

  it('follows a running deployment with a live fragment that says when it is done', async () => {
    const { deployment, run } = await pages.store.createDeployment({ service: 'shop', environment: 'canary', baseline: 'production', version: '2.5.0' });
    await pages.store.markRunRunning(run!.id);
    const page = (await pages.get(`/deployments/${deployment.id}`)).text;
    assert.match(page, /RUNNING/);
    assert.ok(page.includes(`data-live="/deployments/${deployment.id}/live"`));
    assert.ok(page.includes('<script src="/assets/live.js" defer></script>'));
    assert.match(page, /<div id="live" aria-live="polite" data-status="running">/);

    await pages.store.recordFlowResult(run!.id, result({ environment: 'canary', flow: 'shop.spec.ts › login', outcome: 'passed' }));
    let fragment = (await pages.get(`/deployments/${deployment.id}/live`)).text;
    assert.match(fragment, /^<div id="live" aria-live="polite" data-status="running">/);
    assert.doesNotMatch(fragment, /<html/);
    assert.match(fragment, /shop\.spec\.ts › login/);
    assert.match(fragment, /not run yet/);
    assert.doesNotMatch(fragment, /Playwright HTML report/, 'no report while the run goes');

    const verdict: Verdict = { kind: 'pass', reasons: ['every flow passed on canary'], flaky: [] };
    await pages.store.settle({ run: { id: run!.id, end: { status: 'done', verdict, outcome: { kind: 'completed' } } }, deployment: { id: deployment.id, verdict } });
    fragment = (await pages.get(`/deployments/${deployment.id}/live`)).text;
    assert.match(fragment, /data-status="done"/);
    assert.match(fragment, /✓<\/span> PASS/);
  });

  it("says plainly when the service's own runner broke, apart from the deploy", async () => {
    const { deployment, run } = await pages.store.createDeployment({ service: 'shop', environment: 'staging', version: '3.0.0' });
    await pages.store.recordFlowResult(run!.id, result({ environment: 'staging', flow: 'shop.spec.ts › cart', outcome: 'error', fault: 'the browser crashed' }));
    const verdict: Verdict = { kind: 'inconclusive', reasons: ['the browser crashed under 1 flow'], cause: 'service' };
    await pages.store.settle({ run: { id: run!.id, end: { status: 'done', verdict, outcome: { kind: 'fault', reason: 'worker exited' } } }, deployment: { id: deployment.id, verdict } });
    const page = (await pages.get(`/deployments/${deployment.id}`)).text;
    assert.match(page, /INCONCLUSIVE/);
    assert.match(page, /smoke&#39;s own problem \(its browser or runner broke\), not the deploy&#39;s/);
    assert.match(page, /smoke's own problem, not the deploy's:<\/strong> the runner broke: worker exited/);
    assert.match(page, /smoke's own problem, not the deploy's:<\/strong> the browser crashed/);
  });

  it('lists every run of a deployment with its note, and its webhooks', async () => {
    const withSignals = await serve('', {
      signals: [
        {
          id: 'sig_1',
          deploymentId: 'x',
          webhook: 'argo<b>',
          event: 'rollback',
          status: 'delivered',
          attempts: 1,
          nextAttemptAt: '2026-03-01T10:00:00Z',
          expiresAt: '2026-03-02T10:00:00Z',
          createdAt: '2026-03-01T10:00:00Z',
          deliveredAt: '2026-03-01T10:00:01Z',
          attemptLog: [],
        } as unknown as SignalView,
      ],
    });
    try {
      const { deployment, run } = await withSignals.store.createDeployment({ service: 'shop', environment: 'canary', version: '1' });
      await withSignals.store.finishRun(run!.id, { status: 'interrupted', note: 'the service stopped; resumed by a new run' });
      const second = (await withSignals.store.createRun({ deploymentId: deployment.id, trigger: 'deploy', target: 'canary', environments: ['canary'] }))!;
      const page = (await withSignals.get(`/deployments/${deployment.id}`)).text;
      assert.ok(page.includes(`href="/runs/${run!.id}"`) && page.includes(`href="/runs/${second.id}"`));
      assert.match(page, /INTERRUPTED/);
      assert.match(page, /the service stopped; resumed by a new run/);
      assert.match(page, /<th scope="row">argo&lt;b&gt;<\/th><td>rollback<\/td><td><span class="badge pass">delivered<\/span>/);
    } finally {
      await withSignals.close();
    }
  });

  it('answers an unknown id with a 404 page and a malformed one with a 400 page', async () => {
    const missing = await pages.get('/deployments/dep_x');
    assert.equal(missing.status, 404);
    assert.match(missing.type, /^text\/html/);
    assert.match(missing.text, /No deployment dep_x\./);
    assert.equal((await pages.get('/runs/run_nope')).status, 404);
    assert.equal((await pages.get('/runs/run_nope/live')).status, 404);
    const bad = await pages.get('/deployments/a%20b');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /path: id must be letters, digits/);
  });

  it('shows a run of any trigger with its schedule and flows', async () => {
    const run = (await pages.store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'], schedule: 'nightly' }))!;
    await pages.store.recordFlowResult(run.id, result({ environment: 'production', flow: 'shop.spec.ts › search', outcome: 'flaky', retries: 1 }));
    await pages.store.finishRun(run.id, { status: 'done', verdict: { kind: 'pass', reasons: ['every flow passed'], flaky: ['shop.spec.ts › search'] }, outcome: { kind: 'completed' } });
    const page = (await pages.get(`/runs/${run.id}`)).text;
    assert.match(page, /Started by its schedule · schedule <a href="\/schedules#schedule-nightly">nightly<\/a>/);
    assert.match(page, /✓<\/span> PASS/);
    assert.match(page, /Flaky \(passed on a retry\): shop\.spec\.ts › search/);
    assert.match(page, /<span class="badge warn"><span aria-hidden="true">~<\/span> flaky<\/span>/);
    assert.ok(page.includes(`/runs/${run.id}/report/`));
  });

  it('serves the stylesheet and the live script with their types', async () => {
    const css = await pages.get('/assets/smoke.css');
    assert.equal(css.status, 200);
    assert.match(css.type, /^text\/css/);
    const js = await pages.get('/assets/live.js');
    assert.match(js.type, /^text\/javascript/);
    assert.match(js.text, /credentials: 'same-origin'/);
  });

  it('documents every page route it serves', () => {
    const router = pageRoutes({
      store: pages.store,
      scheduler: { list: async () => [] },
      signals: { ofDeployment: async () => [] },
      paths: pagePaths(''),
      environments: [],
    }) as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
    const served = new Set(router.stack.filter((l) => l.route && l.route.methods.get).map((l) => l.route!.path));
    assert.deepEqual([...served].sort(), pageDocs.map((d) => d.path).sort());
  });
});

describe('overview', () => {
  it('lists recent deployments newest first, filtered by environment and verdict', async () => {
    const pages = await serve('');
    try {
      await failedDeploy(pages.store);
      const { deployment: passed, run } = await pages.store.createDeployment({ service: 'cart', environment: 'staging', version: '9.9.9' });
      const verdict: Verdict = { kind: 'pass', reasons: [], flaky: [] };
      await pages.store.settle({ run: { id: run!.id, end: { status: 'done', verdict } }, deployment: { id: passed.id, verdict } });
      await pages.store.createDeployment({ service: 'queue', environment: 'canary', version: '0.1.0' });

      const all = (await pages.get('/')).text;
      assert.match(all, /<h1>Deployments<\/h1>/);
      const rows = [...all.matchAll(/<tr><th scope="row"><a href="\/deployments\/[^"]+">([^<]+)<\/a>/g)].map((m) => m[1]);
      assert.deepEqual(rows, ['queue', 'cart', 'shop']);
      assert.match(all, /<label for="f-environment">Environment<\/label>/);

      const failing = (await pages.get('/?verdict=fail')).text;
      assert.deepEqual([...failing.matchAll(/<th scope="row"><a [^>]+>([^<]+)</g)].map((m) => m[1]), ['shop']);
      assert.match(failing, /<option value="fail" selected>/);
      const pending = (await pages.get('/?verdict=pending&environment=canary')).text;
      assert.deepEqual([...pending.matchAll(/<th scope="row"><a [^>]+>([^<]+)</g)].map((m) => m[1]), ['queue']);
      const any = (await pages.get('/?verdict=&environment=')).text;
      assert.equal([...any.matchAll(/<th scope="row"><a /g)].length, 3, "the form's empty choices mean any");

      const badVerdict = await pages.get('/?verdict=broken');
      assert.equal(badVerdict.status, 400);
      assert.match(badVerdict.text, /query: verdict: must be one of pass, fail, inconclusive or pending/);
      const badEnvironment = await pages.get('/?environment=%3Cb%3E');
      assert.equal(badEnvironment.status, 400);
      assert.match(badEnvironment.text, /environment &#39;&lt;b&gt;&#39; is not in the config/);
      assert.equal((await pages.get('/?colour=red')).status, 400);
    } finally {
      await pages.close();
    }
  });
});

describe('schedules page', () => {
  it("shows each schedule's next run and its last runs as marks, newest right, each in words too", async () => {
    const status = scheduleStatus({ name: 'nightly', cron: '0 3 * * *', environments: ['production'] }, { nextRunAt: new Date('2026-03-02T03:00:00Z'), failing: true });
    const pages = await serve('', { schedules: [status] });
    try {
      const ids: string[] = [];
      for (const kind of ['pass', 'fail'] as const) {
        const run = (await pages.store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'], schedule: 'nightly' }))!;
        const verdict: Verdict = kind === 'pass' ? { kind, reasons: [], flaky: [] } : failVerdict('f');
        await pages.store.finishRun(run.id, { status: 'done', verdict });
        ids.push(run.id);
      }
      await pages.store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'], schedule: 'hourly' });
      const page = (await pages.get('/schedules')).text;
      assert.match(page, /<h2 id="schedule-nightly-name">nightly <span class="badge fail">/);
      assert.match(page, /<code>0 3 \* \* \*<\/code> \(UTC\)/);
      assert.match(page, /<time datetime="2026-03-02T03:00:00.000Z">2026-03-02 03:00:00 UTC<\/time>/);
      const marks = [...page.matchAll(/<a class="mark (\w+)" href="\/runs\/([^"]+)"[^>]*>.*?<span class="visually-hidden">([^<]+)<\/span>/g)];
      assert.deepEqual(
        marks.map((m) => [m[1], m[2]]),
        [
          ['pass', ids[0]],
          ['fail', ids[1]],
        ],
        'oldest left, newest right; the hourly run is not in it',
      );
      assert.match(marks[1]![3]!, /^FAIL on production, /);
    } finally {
      await pages.close();
    }
  });

  it('gives each environment of a schedule its own strip, so one failing environment does not read as flapping', async () => {
    const status = scheduleStatus({ name: 'watch', cron: '0 * * * *', environments: ['production', 'canary'] });
    const pages = await serve('', { schedules: [status] });
    try {
      for (const [target, environments, kind] of [
        ['production', ['production'], 'pass'],
        ['canary', ['canary', 'production'], 'fail'],
        ['production', ['production'], 'pass'],
      ] as const) {
        const run = (await pages.store.createRun({ trigger: 'schedule', target, environments: [...environments], schedule: 'watch' }))!;
        await pages.store.finishRun(run.id, { status: 'done', verdict: kind === 'pass' ? { kind, reasons: [], flaky: [] } : failVerdict('f') });
      }
      const page = (await pages.get('/schedules')).text;
      const strip = (environment: string) => {
        const list = new RegExp(`id="strip-watch-${environment}"><strong>${environment}</strong>: last (\\d+) runs?, oldest first:</p>\\s*<ol[^>]*>([\\s\\S]*?)</ol>`).exec(page);
        assert.ok(list, `no strip for ${environment}`);
        return [...list[2]!.matchAll(/<a class="mark (\w+)"/g)].map((m) => m[1]);
      };
      assert.deepEqual(strip('production'), ['pass', 'pass']);
      assert.deepEqual(strip('canary'), ['fail']);
    } finally {
      await pages.close();
    }
  });

  it('says so when no schedule is configured', async () => {
    const pages = await serve('');
    try {
      assert.match((await pages.get('/schedules')).text, /No schedule is configured/);
    } finally {
      await pages.close();
    }
  });
});

describe('pages behind a path prefix', () => {
  it("starts every link of every page with the prefix, and answers at it", async () => {
    const pages = await serve('/smoke', {
      schedules: [scheduleStatus({ name: 'nightly', cron: '0 3 * * *', environments: ['production'] })],
    });
    try {
      const { deployment, run } = await failedDeploy(pages.store);
      const scheduled = (await pages.store.createRun({ trigger: 'schedule', target: 'production', environments: ['production'], schedule: 'nightly' }))!;
      const running = await pages.store.createDeployment({ service: 'shop', environment: 'canary', version: '3' });
      for (const url of ['/', `/deployments/${deployment.id}`, `/deployments/${running.deployment.id}`, `/runs/${run.id}`, `/runs/${scheduled.id}`, '/schedules', '/deployments/dep_x']) {
        for (const at of [url, `/smoke${url}`]) {
          const { status, text } = await pages.get(at);
          assert.ok(status === 200 || status === 404, `${at}: ${status}`);
          const urls = urlsIn(text);
          assert.ok(urls.length > 3, at);
          for (const u of urls.filter((u) => !u.startsWith('#'))) assert.ok(u.startsWith('/smoke/'), `${at} links to ${u}`);
        }
      }
      const trace = urlsIn((await pages.get(`/smoke/deployments/${deployment.id}`)).text).find((u) => u.includes('/trace/'))!;
      assert.equal(new URL(trace, 'http://x').searchParams.get('trace'), `/smoke/runs/${run.id}/artifacts/target/checkout/trace.zip`);
    } finally {
      await pages.close();
    }
  });
});
