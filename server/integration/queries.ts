import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DASHBOARD_FILE, RULES_FILE } from './prometheus-tools.ts';

/** A PromQL query the dashboard or the rules file runs, named for test messages. */
export interface Query {
  /** e.g. `panel "Verdicts" A`, `variable flow`, `alert SmokeDown`. */
  readonly name: string;
  readonly expr: string;
  /** Panels asking for one value per series, e.g. tables; the rest are range queries. */
  readonly instant: boolean;
  /** For `label_values(metric, label)` variables: the label whose values they list. */
  readonly label?: string;
}

// The dashboard JSON is read as data: typed loosely, checked by the tests that use it.
type Json = any;

export function readDashboard(): Json {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
}

export function readRules(): { groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[] } {
  return parseYaml(readFileSync(RULES_FILE, 'utf8'));
}

/** Every panel, including those inside collapsed rows. */
export function panelsOf(dashboard: Json): Json[] {
  return (dashboard.panels as Json[]).flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every query in the dashboard: panel targets, query variables, Prometheus annotations. */
export function dashboardQueries(dashboard: Json): Query[] {
  const queries: Query[] = [];
  for (const panel of panelsOf(dashboard)) {
    for (const target of panel.targets ?? []) {
      queries.push({ name: `panel "${panel.title}" ${target.refId}`, expr: target.expr, instant: target.instant === true });
    }
  }
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const definition: string = typeof variable.query === 'string' ? variable.query : variable.query.query;
    const labelValues = /^label_values\((.+),\s*(\w+)\)$/s.exec(definition.trim());
    if (!labelValues) throw new Error(`variable ${variable.name}: only label_values(metric, label) queries are supported here: ${definition}`);
    queries.push({ name: `variable ${variable.name}`, expr: labelValues[1]!, instant: true, label: labelValues[2]! });
  }
  for (const annotation of dashboard.annotations.list) {
    if (annotation.datasource?.type !== 'prometheus') continue;
    queries.push({ name: `annotation ${annotation.name}`, expr: annotation.expr, instant: false });
  }
  return queries;
}

export function ruleQueries(rules = readRules()): Query[] {
  return rules.groups.flatMap((group) =>
    group.rules.map((rule) => ({ name: rule.alert ? `alert ${rule.alert}` : `record ${rule.record}`, expr: rule.expr, instant: true })),
  );
}

export interface Substitutions {
  readonly environment: string;
  readonly flow: string;
  readonly interval: string;
  readonly rateInterval: string;
  readonly range: string;
}

/** Replaces Grafana's variables the way Grafana would before sending the query. */
export function substitute(expr: string, s: Substitutions): string {
  return expr
    .replaceAll('$__rate_interval', s.rateInterval)
    .replaceAll('$__interval', s.interval)
    .replaceAll('$__range', s.range)
    .replaceAll('$environment', s.environment)
    .replaceAll('$flow', s.flow);
}
