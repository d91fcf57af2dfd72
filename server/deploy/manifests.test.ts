import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { durationSeconds, rolloutSpecViolations } from './argo-rollouts-rules.ts';
import { crdSchema, validateObject } from './crd-schema.ts';
import { DEPLOY, kustomize, kustomizeVersion, shippedManifests, typecheckAgainstModels, validateWithModel, type Manifest } from './manifests.ts';
import { restrictedViolations } from './pod-security.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FLAGGER_CANARY_CRD = path.join(HERE, 'schemas/flagger-canary-crd.yaml');
/** The kustomize directories a user applies; each must build. */
const KUSTOMIZE_DIRS = ['kubernetes/base', 'kubernetes/overlays/sqlite', 'kubernetes/overlays/postgres', 'kubernetes/prometheus-operator'];
/** Argo Rollouts retries a metric that errored every 10 s, whatever its interval (analysis/analysis.go, DefaultErrorRetryInterval). */
const ARGO_ERROR_RETRY_SECONDS = 10;
/** How long smoke may be away (a restart, a reschedule) without aborting a rollout. */
const SMOKE_RESTART_SECONDS = 180;

const one = (manifests: Manifest[], kind: string, name?: string): Manifest => {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}: ${found.map((m) => m.source).join(', ')}`);
  return found[0]!;
};

/**
 * The overlays are checked as `kubectl apply -k` would build them, which needs
 * kubectl with kustomize v4+. In CI (which has it) a missing one fails the
 * run; on a developer's machine without it this file is skipped, loudly.
 */
const KUSTOMIZE_MAJOR = kustomizeVersion()?.[0] ?? 0;
const SKIP = KUSTOMIZE_MAJOR < 4 && !process.env.CI
  ? `kubectl with kustomize v4+ is not installed (found ${KUSTOMIZE_MAJOR ? `v${KUSTOMIZE_MAJOR}` : 'none'}): install kubectl 1.21+ to check deploy/`
  : false;

describe('deploy/ manifests against the upstream schemas', { skip: SKIP }, () => {
  const shipped = shippedManifests();
  const built = KUSTOMIZE_DIRS.flatMap((dir) => kustomize(dir));
  const all = [...shipped, ...built];

  it('finds the objects the examples ship', () => {
    const kinds = new Set(all.map((m) => m.kind));
    for (const kind of ['Namespace', 'ServiceAccount', 'Deployment', 'Service', 'NetworkPolicy', 'PersistentVolumeClaim', 'ServiceMonitor', 'PrometheusRule', 'Rollout', 'AnalysisTemplate', 'Canary', 'Job', 'Application']) {
      assert.ok(kinds.has(kind), `no ${kind} under deploy/`);
    }
  });

  it("builds every kustomize directory with kubectl's kustomize (v4 or later)", () => {
    const version = kustomizeVersion();
    assert.ok(version && version[0]! >= 4, `kubectl kustomize is ${version?.join('.') ?? 'missing'}: the overlays use resources and patches, which need kustomize v4+ (kubectl 1.21+)`);
    const sqlite = built.filter((m) => m.source.startsWith('kustomize kubernetes/overlays/sqlite'));
    assert.deepEqual(new Set(sqlite.map((m) => m.doc.metadata.namespace ?? m.name)), new Set(['smoke']), 'everything lands in the smoke namespace');
  });

  it("passes the models' validators (kubernetes-models, @kubernetes-models/argo-rollouts, prometheus-operator, argo-cd)", async () => {
    const problems = (await Promise.all(all.filter((m) => m.kind !== 'Canary').map(validateWithModel))).filter(Boolean);
    assert.deepEqual(problems, []);
  });

  it('has no field the upstream types lack, at any depth', () => {
    assert.deepEqual(typecheckAgainstModels(all.filter((m) => m.kind !== 'Canary')), []);
  });

  it("the type check does reject an unknown field (it would catch a typo'd manifest)", () => {
    const deployment = one(shipped, 'Deployment');
    const typo = structuredClone(deployment.doc);
    typo.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
    const problems = typecheckAgainstModels([{ ...deployment, doc: typo }]);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0]!, /imagePullPolicyy/);
  });

  it("the Flagger Canary passes Flagger's own CRD schema, unknown fields rejected", () => {
    const schema = crdSchema(FLAGGER_CANARY_CRD, 'v1beta1');
    const canary = one(shipped, 'Canary');
    assert.deepEqual(validateObject(schema, canary.doc), []);
    const typo = structuredClone(canary.doc);
    typo.spec.analysis.webhooks[0].timeOut = '10s';
    typo.spec.analysis.webhooks[1].type = 'confirm-promotions';
    const problems = validateObject(schema, typo);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.equal(problems[0], 'spec.analysis.webhooks[0].timeOut: unknown field');
    assert.match(problems[1]!, /^spec\.analysis\.webhooks\[1\]\.type: must be one of .*"confirm-traffic-increase".*, not "confirm-promotions"$/);
  });

  it("the Flagger Canary asks smoke only through hooks whose \"no\" halts without a failed check", () => {
    const hooks = one(shipped, 'Canary').doc.spec.analysis.webhooks as { type: string; url: string }[];
    const smoke = hooks.filter((h) => h.url.includes('/api/v1/gates/flagger'));
    assert.deepEqual(smoke.map((h) => `${h.type} ${new URL(h.url).pathname}`).sort(), [
      'confirm-promotion /api/v1/gates/flagger',
      'confirm-traffic-increase /api/v1/gates/flagger',
      'rollback /api/v1/gates/flagger/rollback',
    ]);
  });

  it("every Rollout passes the Argo Rollouts controller's own checks", () => {
    const rollouts = all.filter((m) => m.kind === 'Rollout');
    assert.ok(rollouts.length > 0);
    for (const r of rollouts) assert.deepEqual(rolloutSpecViolations(r.doc), [], r.source);
    const before = { spec: { strategy: { canary: { canaryService: 'c', stableService: 's', steps: [{ setCanaryScale: { replicas: 1 } }, { setWeight: 20 }] } } } };
    assert.deepEqual(rolloutSpecViolations(before), ['spec.strategy.canary.trafficRouting: SetCanaryScale requires TrafficRouting to be set'], 'the shape the example had');
  });

  it('the Argo Rollouts web analysis rides through a smoke restart and never promotes a revision that did not pass', () => {
    const template = one(shipped, 'AnalysisTemplate', 'smoke-verify');
    const metric = template.doc.spec.metrics.find((m: { provider: { web?: unknown } }) => m.provider.web);
    assert.ok(metric.consecutiveErrorLimit * ARGO_ERROR_RETRY_SECONDS >= SMOKE_RESTART_SECONDS, `consecutiveErrorLimit ${metric.consecutiveErrorLimit} rides through ${metric.consecutiveErrorLimit * ARGO_ERROR_RETRY_SECONDS} s`);
    assert.equal(metric.failureLimit, 0);
    assert.equal(metric.consecutiveSuccessLimit, 1);
    assert.ok(metric.inconclusiveLimit < metric.count, 'a run of inconclusive polls ends Inconclusive even where consecutiveSuccessLimit is unknown (before 1.8)');
    const rollout = one(shipped, 'Rollout');
    const analysis = rollout.doc.spec.strategy.blueGreen.prePromotionAnalysis;
    assert.deepEqual(analysis.templates, [{ templateName: 'smoke-verify' }]);
    const given = new Set([...analysis.args.map((a: { name: string }) => a.name)]);
    for (const arg of template.doc.spec.args) assert.ok(arg.value !== undefined || arg.valueFrom !== undefined || given.has(arg.name), `the Rollout does not set the template's argument ${arg.name}`);
  });

  it("the Prometheus analysis waits past every window it reads, so a previous revision's failure cannot abort this one", () => {
    const template = one(shipped, 'AnalysisTemplate', 'smoke-flows');
    for (const metric of template.doc.spec.metrics) {
      const windows = [...String(metric.provider.prometheus.query).matchAll(/\[(\d+[smh])\]/g)].map((w) => durationSeconds(w[1]!));
      assert.ok(metric.initialDelay, `${metric.name} has no initialDelay`);
      assert.ok(durationSeconds(metric.initialDelay) >= Math.max(0, ...windows), `${metric.name}: initialDelay ${metric.initialDelay} is shorter than its query's window`);
    }
  });

  it('the smoke pod meets Pod Security `restricted`, which its namespace enforces', () => {
    const sqlite = built.filter((m) => m.source.startsWith('kustomize kubernetes/overlays/sqlite'));
    assert.equal(one(sqlite, 'Namespace').doc.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    const deployment = one(sqlite, 'Deployment');
    assert.deepEqual(restrictedViolations(deployment.doc.spec.template.spec), []);
    assert.deepEqual(restrictedViolations({ containers: [{ name: 'c', securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }], volumes: [{ name: 'h', hostPath: { path: '/' } }] }).length, 6, 'the checker itself finds violations');
  });

  it('the SQLite overlay: one pod, Recreate, the database on the PersistentVolumeClaim, no API token mounted', () => {
    const sqlite = built.filter((m) => m.source.startsWith('kustomize kubernetes/overlays/sqlite'));
    const { spec } = one(sqlite, 'Deployment').doc;
    assert.equal(spec.replicas, 1);
    assert.equal(spec.strategy.type, 'Recreate');
    const data = spec.template.spec.volumes.find((v: { name: string }) => v.name === 'data');
    assert.deepEqual(data, { name: 'data', persistentVolumeClaim: { claimName: one(sqlite, 'PersistentVolumeClaim').name } });
    const account = one(sqlite, 'ServiceAccount');
    assert.equal(spec.template.spec.serviceAccountName, account.name);
    assert.equal(account.doc.automountServiceAccountToken, false);
  });

  it("the NetworkPolicy admits only smoke's port, from the namespaces that call it and Prometheus's", () => {
    const sqlite = built.filter((m) => m.source.startsWith('kustomize kubernetes/overlays/sqlite'));
    const policy = one(sqlite, 'NetworkPolicy').doc;
    const deployment = one(sqlite, 'Deployment').doc;
    assert.deepEqual(policy.spec.podSelector.matchLabels, deployment.spec.selector.matchLabels);
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    const port = deployment.spec.template.spec.containers[0].ports[0].containerPort;
    for (const rule of policy.spec.ingress) assert.deepEqual(rule.ports, [{ protocol: 'TCP', port }]);
    const namespaces = policy.spec.ingress.flatMap((r: any) => r.from.flatMap((f: any) => f.namespaceSelector?.matchExpressions?.[0]?.values ?? []));
    for (const ns of ['monitoring', 'flagger-system', 'argo-rollouts', 'shop']) assert.ok(namespaces.includes(ns), `${ns} may not reach smoke`);
  });

  it("the PrometheusRule is smoke-rules.yml, its SmokeDown matching the job the ServiceMonitor produces", () => {
    const monitoring = built.filter((m) => m.source.startsWith('kustomize kubernetes/prometheus-operator'));
    const rule = one(monitoring, 'PrometheusRule').doc;
    const rulesFile = parse(readFileSync(path.join(DEPLOY, 'prometheus/smoke-rules.yml'), 'utf8'));
    assert.deepEqual(rule.spec.groups, rulesFile.groups);

    const monitor = one(monitoring, 'ServiceMonitor').doc;
    const service = one(built.filter((m) => m.source.startsWith('kustomize kubernetes/overlays/sqlite')), 'Service').doc;
    // prometheus-operator pkg/prometheus/promcfg.go: job is the Service's name, replaced by the value of its jobLabel label when set.
    const job = monitor.spec.jobLabel ? service.metadata.labels[monitor.spec.jobLabel] : service.metadata.name;
    const down = rule.spec.groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === 'SmokeDown');
    const matched = [...String(down.expr).matchAll(/job="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(matched.length > 0 && matched.every((j) => j === job), `SmokeDown matches job ${matched.join(', ')}, the ServiceMonitor produces job="${job}"`);
    assert.deepEqual(monitor.spec.selector.matchLabels, service.metadata.labels, 'the ServiceMonitor selects the smoke Service');
    assert.ok(service.spec.ports.some((p: { name: string }) => p.name === monitor.spec.endpoints[0].port));
  });
});
