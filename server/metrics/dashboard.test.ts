import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createGateMetrics } from '../gates/metrics.ts';
import { dashboardQueries, panelsOf, readDashboard, readRules, ruleQueries } from '../integration/queries.ts';
import { schedulerMetrics } from '../scheduler/metrics.ts';
import { createMetricsObserver } from './observer.ts';
import { createSignalMetrics } from './signal-metrics.ts';
import { createStorageMetrics } from './storage-metrics.ts';

/**
 * The Grafana dashboard and the Prometheus rules read as files: that they
 * name only metrics the service exports (or the rules record), and that the
 * dashboard can be imported and provisioned anywhere. Whether each query
 * returns data is for the Prometheus integration test.
 */

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

type Aggregation = 'sum' | 'max' | 'min';

/**
 * How each family is aggregated over N replicas (distinct `instance`, same
 * everything else) so that they read as one. `sum`: what each replica did
 * (counters, histograms, its runs in progress), so the sum is the truth.
 * `max`/`min`: state of the shared store every replica exports alike, so a
 * sum would count it N times. Flow success takes `min`: a failure any replica
 * has seen (see SmokeCriticalFlowFailing). The README's table says the same.
 */
const ACROSS_REPLICAS: Record<string, Aggregation> = {
  smoke_flow_success: 'min',
  smoke_flow_duration_seconds: 'sum',
  smoke_flow_results_total: 'sum',
  smoke_run_duration_seconds: 'sum',
  smoke_runs_in_progress: 'sum',
  smoke_last_run_timestamp_seconds: 'max',
  smoke_last_success_timestamp_seconds: 'max',
  smoke_verdicts_total: 'sum',
  smoke_flow_attempts_total: 'sum',
  smoke_deployment_info: 'max',
  smoke_rollback_signals_total: 'sum',
  smoke_webhook_delivery_attempts_total: 'sum',
  smoke_webhook_outbox_pending: 'max',
  smoke_schedule_ticks_total: 'sum',
  smoke_schedule_rechecks_total: 'sum',
  smoke_storage_bytes: 'max',
  smoke_storage_pruned_total: 'sum',
  smoke_storage_last_prune_timestamp_seconds: 'max',
  smoke_gate_requests_total: 'sum',
  smoke_github_status_posts_total: 'sum',
};

const AGGREGATORS = new Set(['sum', 'min', 'max', 'avg', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values']);

/** `smoke_x_bucket` → `smoke_x`: the family a histogram's series belong to. */
function familyOf(metric: string): string {
  return metric in ACROSS_REPLICAS ? metric : metric.replace(/_(bucket|sum|count)$/, '');
}

/**
 * Each raw smoke_* selector in a PromQL expression with the aggregation
 * operator nearest around it (`sum by (le) (rate(x[5m]))` → `sum`), or
 * undefined when nothing aggregates it and each replica's series would come
 * through on its own. Recorded series (a:b:c) are skipped: their rules are
 * checked themselves. Enough PromQL for the shipped queries, not a parser.
 */
function aggregationsIn(expr: string): { metric: string; by?: string }[] {
  const text = expr.replace(/"[^"]*"/g, (s) => '"' + ' '.repeat(s.length - 2) + '"');
  const wordBefore = (end: number): { word: string; start: number } => {
    let j = end;
    while (j >= 0 && /\s/.test(text[j]!)) j--;
    let start = j;
    while (start >= 0 && /\w/.test(text[start]!)) start--;
    return { word: text.slice(start + 1, j + 1), start };
  };
  /** The operator applying to the parenthesis at `open`, past a `by (…)` or `without (…)` clause. */
  const operatorOf = (open: number): string => {
    let j = open - 1;
    while (j >= 0 && /\s/.test(text[j]!)) j--;
    if (text[j] === ')') {
      let depth = 0;
      for (; j >= 0; j--) {
        if (text[j] === ')') depth++;
        else if (text[j] === '(' && --depth === 0) break;
      }
      const clause = wordBefore(j - 1);
      if (clause.word === 'by' || clause.word === 'without') return wordBefore(clause.start).word;
      return '';
    }
    return wordBefore(j).word;
  };
  const found: { metric: string; by?: string }[] = [];
  for (const match of text.matchAll(/(?<![\w:])smoke_[a-z_]+\b(?!:)/g)) {
    const open: number[] = [];
    for (let i = 0; i < match.index; i++) {
      if (text[i] === '(') open.push(i);
      else if (text[i] === ')') open.pop();
    }
    const by = open.reverse().map(operatorOf).find((op) => AGGREGATORS.has(op));
    found.push({ metric: match[0], by });
  }
  return found;
}

function exportedNames(): Set<string> {
  const registry = new Registry();
  createMetricsObserver({ registry, environments: ['production'], store: { latestDeployments: async () => [], lastFinishedRuns: async () => [], latestFlowOutcomes: async () => [] } });
  createSignalMetrics(registry);
  createStorageMetrics(registry);
  // Written by Prometheus for every scrape target.
  const names = new Set<string>(['up']);
  schedulerMetrics(registry, ['nightly']);
  createGateMetrics(registry);
  for (const { name, type } of registry.getMetricsAsArray()) {
    names.add(name);
    if (String(type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

/** Metric names in a PromQL expression: smoke_*, level:metric:operation recorded names, and Prometheus's own `up`. */
function metricsIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  return [...withoutStrings.matchAll(/\b(smoke_[a-z_]+|[a-z_]+:[a-z0-9_]+:[a-z0-9_]+|up(?=\{))\b/g)].map((m) => m[1]!);
}

describe('grafana dashboard and prometheus rules', () => {
  const dashboard = readDashboard();
  const rules = readRules();
  const recorded = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.record)).filter((r): r is string => r !== undefined));
  const exported = exportedNames();

  it('name only metrics the service exports or the rules record', () => {
    const queries = [...dashboardQueries(dashboard), ...ruleQueries(rules)];
    assert.ok(queries.length > 25, `found ${queries.length} queries`);
    for (const { name, expr } of queries) {
      const metrics = metricsIn(expr);
      assert.ok(metrics.length > 0, `${name} reads no smoke metric: ${expr}`);
      for (const metric of metrics) assert.ok(exported.has(metric) || recorded.has(metric), `${name} reads ${metric}, which nothing exports or records`);
    }
  });

  it('aggregate every family over replicas, so N replicas read as one', () => {
    const variables = new Set(dashboardQueries(dashboard).filter((q) => q.label).map((q) => q.name));
    const queries = [...dashboardQueries(dashboard).filter((q) => !variables.has(q.name)), ...ruleQueries(rules)];
    const problems: string[] = [];
    for (const { name, expr } of queries) {
      for (const { metric, by } of aggregationsIn(expr)) {
        const want = ACROSS_REPLICAS[familyOf(metric)];
        assert.ok(want, `${metric} (in ${name}) has no entry in ACROSS_REPLICAS: is it per-replica work (sum) or shared state (max)?`);
        // count() counts series, whatever they hold: replicas, for instance.
        if (by !== want && by !== 'count') problems.push(`${name}: ${metric} is ${by ? `aggregated with ${by}` : 'not aggregated'}, wants ${want}: ${expr}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('the check above catches one series per replica and a shared gauge summed', () => {
    assert.deepEqual(aggregationsIn('rate(smoke_flow_results_total[5m]) > 0'), [{ metric: 'smoke_flow_results_total', by: undefined }]);
    assert.deepEqual(aggregationsIn('sum(smoke_webhook_outbox_pending)'), [{ metric: 'smoke_webhook_outbox_pending', by: 'sum' }]);
    assert.deepEqual(aggregationsIn('histogram_quantile(0.5, sum by (le) (rate(smoke_run_duration_seconds_bucket{x="max("}[5m])))'), [
      { metric: 'smoke_run_duration_seconds_bucket', by: 'sum' },
    ]);
    assert.deepEqual(aggregationsIn('sum(rate(smoke_verdicts_total[1m])) by (verdict) / max(smoke_storage_bytes)'), [
      { metric: 'smoke_verdicts_total', by: 'sum' },
      { metric: 'smoke_storage_bytes', by: 'max' },
    ]);
    assert.deepEqual(aggregationsIn('max by (environment) (env:smoke_flow_success:min)'), []);
  });

  it('every family the service exports says how to aggregate it, and the README says the same', () => {
    for (const name of exported) if (name.startsWith('smoke_')) assert.ok(ACROSS_REPLICAS[familyOf(name)], `${name} is not in ACROSS_REPLICAS`);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const rows = [...readme.matchAll(/^\| `(smoke_\w+)` \|[^|]*\|[^|]*\|([^|]*)\|/gm)].map((m) => [m[1]!, /`(sum|max|min)`/.exec(m[2]!)?.[1]]);
    assert.deepEqual(Object.fromEntries(rows), ACROSS_REPLICAS, 'the README metrics table: one row per family, its "across replicas" column');
  });

  it('picks its Prometheus through a datasource variable, on every panel, query and annotation', () => {
    const [datasource, ...variables] = dashboard.templating.list;
    assert.deepEqual([datasource.type, datasource.name, datasource.query], ['datasource', 'datasource', 'prometheus']);
    for (const panel of panelsOf(dashboard)) {
      if (panel.type === 'row') continue;
      assert.deepEqual(panel.datasource, DATASOURCE, `panel ${panel.title}`);
      for (const target of panel.targets) assert.deepEqual(target.datasource, DATASOURCE, `panel ${panel.title} ${target.refId}`);
    }
    for (const variable of variables) assert.deepEqual(variable.datasource, DATASOURCE, `variable ${variable.name}`);
    const deployments = dashboard.annotations.list.find((a: { name: string }) => a.name === 'Deployments');
    assert.deepEqual(deployments.datasource, DATASOURCE);
    assert.match(deployments.expr, /smoke_deployment_info/);
    // No exporter-specific ids that would tie an import to one Grafana.
    assert.equal(dashboard.id, null);
    assert.equal(dashboard.__inputs, undefined);
  });

  it('filters by environment and flow, several at once or all', () => {
    const byName = Object.fromEntries(dashboard.templating.list.map((v: { name: string }) => [v.name, v]));
    for (const name of ['environment', 'flow']) {
      const variable = byName[name];
      assert.equal(variable.type, 'query');
      assert.equal(variable.multi, true);
      assert.equal(variable.includeAll, true);
      assert.match(variable.definition, new RegExp(`^label_values\\(smoke_\\w+.*, ${name}\\)$`));
    }
    const flowPanels = panelsOf(dashboard).filter((p) => p.targets?.some((t: { expr: string }) => /smoke_flow_|:smoke_flow_/.test(t.expr)));
    for (const panel of flowPanels) {
      for (const target of panel.targets) assert.match(target.expr, /environment=~"\$environment"/, `panel ${panel.title}`);
    }
  });

  it('has the panels the issue asks for', () => {
    const panels = panelsOf(dashboard).filter((p) => p.type !== 'row');
    const exprs = (title: string) => {
      const panel = panels.find((p) => p.title === title);
      assert.ok(panel, `panel "${title}"`);
      return panel.targets.map((t: { expr: string }) => t.expr).join('\n');
    };
    assert.equal(panels.find((p) => p.title === 'Flow success by environment')?.type, 'state-timeline');
    assert.match(exprs('Flow duration p50 / p95 by environment'), /histogram_quantile\(0\.5,[^]*smoke_flow_duration_seconds_bucket[^]*histogram_quantile\(0\.95,/);
    assert.match(exprs('Flow results by outcome'), /sum by \(outcome\) \(rate\(smoke_flow_results_total/);
    assert.match(exprs('Verdicts'), /increase\(smoke_verdicts_total/);
    assert.match(exprs('Run duration p95'), /smoke_run_duration_seconds_bucket/);
    assert.match(exprs('Runs in progress'), /smoke_runs_in_progress/);
    assert.match(exprs('Browser attempts by environment and outcome'), /sum by \(environment, outcome\) \(rate\(smoke_flow_attempts_total/);
    assert.match(exprs('Rollback signals by outcome'), /smoke_rollback_signals_total/);
    assert.match(exprs('Outbox backlog'), /smoke_webhook_outbox_pending/);
    assert.match(exprs('Storage by kind'), /max by \(kind\) \(smoke_storage_bytes\)/);
    const ids = panelsOf(dashboard).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of panels) assert.ok(p.gridPos.x + p.gridPos.w <= 24, `panel ${p.title} fits the 24-column grid`);
  });
});
