import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../service.ts';
import { api, freePort, startService, startShop, waitFor, workspace, type Shop, type Workspace } from './harness.ts';
import { prometheusTool, promtool, RULES_FILE } from './prometheus-tools.ts';
import { dashboardQueries, readDashboard, ruleQueries, substitute, type Query } from './queries.ts';

const TOKEN = 'prometheus-test-token-0123456789';
const CHECKOUT_API = 'api.spec.ts › checkout API accepts an order';
const PRODUCTS_API = 'api.spec.ts › products API lists the catalogue';
/** Prometheus's own log, kept for the failure message; the tail is what explains a crash. */
const MAX_LOG_CHARS = 16 * 1024;

/**
 * Alert expressions that must return nothing in this scenario, and why.
 * They still have to parse and evaluate: an error fails the test.
 */
const QUIET_ALERTS: Record<string, string> = {
  'alert SmokeCriticalFlowFailing': 'production passes throughout',
  'alert SmokeNoRecentSuccess': 'nothing runs on a schedule here, and the canary passed a moment ago',
  'alert SmokeDown': 'smoke is up',
  'alert SmokeUnavailable': 'smoke is up',
  'alert SmokeRollbackSignalDead': 'no rollback signal was sent',
  'alert SmokeWebhookOutboxBacklog': 'the outbox is empty',
  'alert SmokeWebhookOutboxGrowing': 'the outbox is empty',
};

interface PromResponse {
  status: 'success' | 'error';
  error?: string;
  data: any;
}

/**
 * The real service runs the demo suite against the demo shops while Debian's
 * Prometheus scrapes it every second with the shipped rules loaded; every
 * query of the dashboard and the rules must then parse and find data.
 */
describe('metrics scraped by a real Prometheus', () => {
  let production: Shop;
  let canary: Shop;
  let ws: Workspace;
  let service: Service;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let promUrl: string;
  let dataDir: string | undefined;
  const startedAt = Date.now();

  async function prom(route: string, params: Record<string, string | number> = {}): Promise<PromResponse> {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
    const response = await fetch(`${promUrl}${route}?${query}`);
    const body = (await response.json()) as PromResponse;
    if (body.status !== 'success' && !body.error) throw new Error(`Prometheus answered ${response.status} to ${route}`);
    return body;
  }

  /** Range queries where Grafana would run one, from the start of the test to now. */
  async function run(query: Query, expr: string): Promise<PromResponse> {
    const now = Date.now() / 1000;
    if (query.label) return prom('/api/v1/series', { 'match[]': expr, start: startedAt / 1000, end: now });
    if (query.instant) return prom('/api/v1/query', { query: expr, time: now });
    return prom('/api/v1/query_range', { query: expr, start: Math.floor(startedAt / 1000), end: now, step: 1 });
  }

  before(async () => {
    const binary = prometheusTool('prometheus');
    production = await startShop('production');
    canary = await startShop('canary');
    // One retry is enough to tell flaky from failed, and halves the time a failing flow takes.
    ws = workspace({ production: { baseURL: production.url }, canary: { baseURL: canary.url, baseline: 'production' } }, { retries: 1, apiToken: TOKEN });
    service = await startService(ws);

    dataDir = mkdtempSync(path.join(os.tmpdir(), 'smoke-prometheus-'));
    const configFile = path.join(dataDir, 'prometheus.yml');
    writeFileSync(
      configFile,
      `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - ${JSON.stringify(RULES_FILE)}
scrape_configs:
  - job_name: smoke
    static_configs:
      - targets: [${JSON.stringify(new URL(service.url).host)}]
`,
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      binary,
      [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dataDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => (prometheusLog = (prometheusLog + chunk.toString()).slice(-MAX_LOG_CHARS));
    prometheus.stdout!.on('data', keep);
    prometheus.stderr!.on('data', keep);
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (prometheus?.exitCode !== null) throw new Error(`prometheus exited with ${prometheus?.exitCode}:\n${prometheusLog}`);
        return (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok || undefined;
      },
      20_000,
    );
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = once(prometheus, 'exit');
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus?.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await service?.close();
    await Promise.all([production?.close(), canary?.close()]);
    ws?.remove();
  });

  it('sees a failing canary deploy and then a passing, flaky one', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    Object.assign(canary.state, { version: '2.0.0', fault: 'checkout-500' });
    const failing = await api(service.url, 'POST', '/api/v1/deployments?wait=180', { environment: 'canary', version: '2.0.0' }, auth);
    assert.equal(failing.body.verdict, 'fail', JSON.stringify(failing.body.reasons));
    const value = async (query: string) => (await prom('/api/v1/query', { query })).data.result.map((r: any) => Number(r.value[1]));
    // The next deploy makes the flow pass again within a second or two: let a
    // scrape see the failure first, or the test races the scrape interval.
    await waitFor('Prometheus to scrape the failed flow', async () =>
      (await value(`smoke_flow_success{environment="canary", flow="${CHECKOUT_API}"}`))[0] === 0 ? true : undefined,
    );
    Object.assign(canary.state, { version: '2.1.0', fault: 'flaky-products' });
    const flaky = await api(service.url, 'POST', '/api/v1/deployments?wait=180', { environment: 'canary', version: '2.1.0' }, auth);
    assert.equal(flaky.body.verdict, 'pass', JSON.stringify(flaky.body.reasons));
    assert.deepEqual(flaky.body.flaky, [PRODUCTS_API]);

    await waitFor('Prometheus to scrape both verdicts', async () => ((await value('sum(smoke_verdicts_total{environment="canary"})'))[0] === 2 ? true : undefined), 10_000);
    assert.deepEqual(await value('smoke_verdicts_total{environment="canary", verdict="fail"}'), [1]);
    assert.deepEqual(await value(`smoke_flow_success{environment="canary", flow="${CHECKOUT_API}"}`), [1]);
    assert.deepEqual(await value(`min_over_time(smoke_flow_success{environment="canary", flow="${CHECKOUT_API}"}[5m])`), [0], 'the failure was seen');
    assert.deepEqual(await value(`smoke_flow_results_total{environment="canary", flow="${PRODUCTS_API}", outcome="flaky"}`), [1]);
    const info = (await prom('/api/v1/query', { query: 'smoke_deployment_info' })).data.result.map((r: any) => r.metric.version);
    assert.deepEqual(info, ['2.1.0'], 'one version per environment, the old one gone');
    assert.ok((await value('time() - smoke_last_success_timestamp_seconds{environment="canary"}'))[0] < 120);
  });

  it('scrapes /metrics without the API token: the target is up', async () => {
    const target = await waitFor('the smoke target to be scraped', async () => {
      const { data } = await prom('/api/v1/targets');
      return data.activeTargets.find((t: any) => t.labels.job === 'smoke' && t.health === 'up');
    });
    assert.equal(target.scrapeUrl, `${service.url}/metrics`);
    const up = await prom('/api/v1/query', { query: 'up{job="smoke"}' });
    assert.equal(up.data.result[0].value[1], '1');
    assert.equal((await api(service.url, 'GET', '/api/v1/runs')).status, 401, 'the API itself still wants the token');
  });

  it('loads every rule and evaluates it without error', async () => {
    // The alert reads a recorded series, which the recording rule writes at
    // its first evaluation after the flaky result was scraped: wait for the
    // evaluation that follows it, not merely for the first one of all.
    const rules = await waitFor('every rule to be evaluated, and the flaky alert to wait out its `for`', async () => {
      const { data } = await prom('/api/v1/rules');
      const all = data.groups.flatMap((g: any) => g.rules);
      const evaluated = all.every((r: any) => r.health !== 'unknown');
      return evaluated && all.find((r: any) => r.name === 'SmokeFlowFlaky')?.state === 'pending' ? all : undefined;
    }, 30_000);
    assert.equal(rules.length, ruleQueries().length);
    for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
    // The canary's products flow passed only on a retry: the alert is waiting out its `for`.
    const flakyAlert = rules.find((r: any) => r.name === 'SmokeFlowFlaky');
    assert.deepEqual(flakyAlert.alerts.map((a: any) => [a.labels.environment, a.labels.flow]), [['canary', PRODUCTS_API]]);
  });

  it('answers every dashboard query with data', async () => {
    const elapsed = Math.ceil((Date.now() - startedAt) / 1000);
    const substitutions = { environment: 'canary|production', flow: '.+', interval: '2s', rateInterval: '10s', range: `${elapsed}s` };
    const queries = dashboardQueries(readDashboard());
    const problems: string[] = [];
    for (const query of queries) {
      const expr = substitute(query.expr, substitutions);
      // Recording rules lag a scrape behind; give each query a few seconds before calling it empty.
      const answer = await waitFor(`${query.name}`, async () => {
        const response = await run(query, expr);
        return response.status !== 'success' || response.data.length > 0 || response.data.result?.length > 0 ? response : undefined;
      }, 5_000).catch(() => undefined);
      if (!answer) problems.push(`${query.name}: no data for ${expr}`);
      else if (answer.status !== 'success') problems.push(`${query.name}: ${answer.error} in ${expr}`);
      else if (query.label && !answer.data.some((series: Record<string, string>) => series[query.label!])) problems.push(`${query.name}: no ${query.label} label`);
    }
    assert.deepEqual(problems, []);
    assert.ok(queries.length >= 18, `${queries.length} queries checked`);
  });

  it('answers every rule expression, with data unless the alert must stay quiet here', async () => {
    const problems: string[] = [];
    for (const query of ruleQueries()) {
      const quiet = query.name in QUIET_ALERTS;
      const answer = quiet
        ? await run(query, query.expr)
        : await waitFor(query.name, async () => {
            const response = await run(query, query.expr);
            return response.status !== 'success' || response.data.result.length > 0 ? response : undefined;
          }, 5_000).catch(() => undefined);
      if (!answer) problems.push(`${query.name}: no data for ${query.expr}`);
      else if (answer.status !== 'success') problems.push(`${query.name}: ${answer.error}`);
      else if (quiet && answer.data.result.length > 0) problems.push(`${query.name} fires, but ${QUIET_ALERTS[query.name]}: ${JSON.stringify(answer.data.result)}`);
    }
    assert.deepEqual(problems, []);
  });

  it('serves an exposition promtool has nothing to say about', async () => {
    const response = await fetch(`${service.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const exposition = await response.text();
    assert.match(exposition, /^smoke_flow_success\{environment="canary",flow="api\.spec\.ts › products API lists the catalogue"\} 1$/m);
    const check = promtool(['check', 'metrics'], exposition);
    assert.equal(check.stdout + check.stderr, '');
    assert.equal(check.status, 0);
  });
});
