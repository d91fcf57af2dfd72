import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { dashboardQueries, panelsOf, readDashboard, readRules, ruleQueries } from '../integration/queries.ts';
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

function exportedNames(): Set<string> {
  const registry = new Registry();
  createMetricsObserver({ registry, environments: ['production'], store: { latestDeployments: () => [], lastFinishedRuns: () => [], latestFlowOutcomes: () => [] } });
  createSignalMetrics(registry);
  createStorageMetrics(registry);
  // Written by Prometheus for every scrape target.
  const names = new Set<string>(['up']);
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
    assert.match(exprs('Storage by kind'), /sum by \(kind\) \(smoke_storage_bytes\)/);
    const ids = panelsOf(dashboard).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of panels) assert.ok(p.gridPos.x + p.gridPos.w <= 24, `panel ${p.title} fits the 24-column grid`);
  });
});
