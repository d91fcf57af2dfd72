import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { parseAllDocuments } from 'yaml';
import { VERIFY_OPTIONS } from './cli/options.ts';
import { parseConfig, type Config } from './config/config.ts';
import { kustomize, typecheckAgainstModels, validateWithModel, type Manifest } from './deploy/manifests.ts';
import { restrictedViolations } from './deploy/pod-security.ts';
import { run, type Service } from './service.ts';

/**
 * The examples under deploy/ held to the code: every file parses, and every
 * endpoint, `smoke verify` flag and metric they use is one the service
 * really has — asked of the real app, the CLI's option table and the
 * registry of a running service, not of a list kept by hand.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEPLOY = path.join(ROOT, 'deploy');
/** Stand-ins for the smoke-secrets Secret's values, valid where the config validates their form (the Secret's own placeholders are not). */
const PLACEHOLDER_ENV: Record<string, string> = {
  SMOKE_API_TOKEN: 'placeholder-api-token-0123456789',
  GITHUB_WEBHOOK_SECRET: 'placeholder-github-webhook-secret',
  ROLLBACK_WEBHOOK_SECRET: `whsec_${Buffer.from('placeholder-32-bytes-of-entropy!').toString('base64')}`,
};
/** What the downward API gives for `metadata.name`: the pod's name. */
const POD_NAME = 'smoke-6d5f8b7c9d-x7k2p';
const OVERLAYS = ['sqlite', 'postgres'] as const;
type OverlayName = (typeof OVERLAYS)[number];

interface Example {
  readonly file: string;
  readonly text: string;
  /** Parsed documents: several per YAML file, one per JSON file. */
  readonly documents: unknown[];
}

function examples(): Example[] {
  const files = readdirSync(DEPLOY, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();
  return files.map((file) => {
    const text = readFileSync(path.join(DEPLOY, file), 'utf8');
    if (file.endsWith('.json')) return { file, text, documents: [JSON.parse(text)] };
    const parsed = parseAllDocuments(text);
    const docs = Array.isArray(parsed) ? parsed : [parsed];
    for (const doc of docs) assert.deepEqual(doc.errors.map(String), [], `${file} does not parse`);
    return { file, text, documents: docs.map((d) => d.toJS()) };
  });
}

/** Every string and array in a parsed document. */
function* walk(value: unknown): Generator<unknown> {
  yield value;
  if (Array.isArray(value)) for (const item of value) yield* walk(item);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) yield* walk(item);
}

const PATH = /\/(?:api\/v1\/[A-Za-z0-9_/-]*[A-Za-z0-9_]|healthz|readyz|metrics)\b/g;
/** `smoke_…` names, not the parts of recording-rule names such as `env:smoke_flow_flaky:ratio1h`. */
const METRIC = /(?<![\w:])smoke_[a-z0-9_]+(?![\w:])/g;

/** Flags given to `smoke verify`: in argument lists (`[node, dist/server/main.js, verify, --flag, …]`) and in shell scripts. */
function verifyFlags(documents: unknown[]): string[] {
  const flags: string[] = [];
  for (const value of documents.flatMap((d) => [...walk(d)])) {
    if (Array.isArray(value)) {
      const at = value.indexOf('verify');
      if (at > 0 && /(^|\/)(smoke|main\.js)$/.test(String(value[at - 1]))) {
        flags.push(...value.slice(at + 1).filter((v): v is string => typeof v === 'string' && v.startsWith('--')));
      }
    } else if (typeof value === 'string') {
      for (const match of value.replace(/\\\n/g, ' ').matchAll(/(?:\bsmoke|main\.js)\s+verify\b([^\n]*)/g)) {
        flags.push(...(match[1]!.match(/(?<=\s)--[a-z][a-z-]*/g) ?? []));
      }
    }
  }
  return flags;
}

/**
 * One overlay as `kubectl apply -k deploy/kubernetes/overlays/<name>` sends
 * it, and the environment its smoke container gets: plain values, the pod's
 * name from the downward API, and each secretKeyRef read from a Secret the
 * overlay itself ships (a stand-in where that Secret's placeholder is not a
 * valid value).
 */
interface Overlay {
  readonly name: OverlayName;
  readonly manifests: Manifest[];
  readonly deployment: any;
  readonly container: any;
  readonly env: Record<string, string>;
  readonly configText: string;
}

function overlay(name: OverlayName): Overlay {
  const manifests = kustomize(`kubernetes/overlays/${name}`);
  const only = (kind: string) => {
    const found = manifests.filter((m) => m.kind === kind);
    assert.equal(found.length, 1, `overlays/${name} has ${found.length} ${kind}s`);
    return found[0]!.doc;
  };
  const deployment = only('Deployment');
  const container = deployment.spec.template.spec.containers.find((c: { name: string }) => c.name === 'smoke');
  const env: Record<string, string> = {};
  for (const e of container.env) {
    const ref = e.valueFrom?.secretKeyRef;
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (typeof e.value === 'string') env[e.name] = e.value;
    else if (field === 'metadata.name') env[e.name] = POD_NAME;
    else if (ref) {
      const secret = manifests.find((m) => m.kind === 'Secret' && m.name === ref.name)?.doc;
      const value = secret?.stringData?.[ref.key] ?? (secret?.data?.[ref.key] !== undefined ? Buffer.from(secret.data[ref.key], 'base64').toString('utf8') : undefined);
      assert.ok(value !== undefined, `overlays/${name}: ${e.name} reads ${ref.name}/${ref.key}, which no Secret of the overlay has`);
      env[e.name] = PLACEHOLDER_ENV[e.name] ?? value;
    } else assert.fail(`overlays/${name}: no stand-in for how ${e.name} is set: ${JSON.stringify(e.valueFrom)}`);
  }
  return { name, manifests, deployment, container, env, configText: only('ConfigMap').data['smoke.config.yaml'] };
}

/** Whether a label selector (matchLabels and matchExpressions) selects these labels. */
function selects(selector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }, labels: Record<string, string>): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    if (operator === 'In') return key in labels && values.includes(labels[key]!);
    if (operator === 'NotIn') return !(key in labels) || !values.includes(labels[key]!);
    if (operator === 'Exists') return key in labels;
    if (operator === 'DoesNotExist') return !(key in labels);
    return false;
  });
  return Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions ?? []).length > 0 && byLabel && byExpression;
}

/** Seconds a preStop `sleep N` holds the pod before SIGTERM; 0 without one. */
function preStopSeconds(container: any): number {
  const command: unknown[] = container.lifecycle?.preStop?.exec?.command ?? [];
  if (command[0] === 'sleep') return Number(command[1]);
  return container.lifecycle?.preStop?.sleep?.seconds ?? 0;
}

function kubernetesObject(kind: string, file: string): any {
  const found = examples()
    .filter((e) => e.file === file)
    .flatMap((e) => e.documents)
    .find((d) => (d as { kind?: string }).kind === kind);
  assert.ok(found, `no ${kind} in deploy/${file}`);
  return found;
}

describe('deploy/ examples', () => {
  const all = examples();
  const configMap = kubernetesObject('ConfigMap', 'kubernetes/base/configmap.yaml');
  const overlays = new Map(OVERLAYS.map((name) => [name, overlay(name)]));
  const configs = new Map<OverlayName, Config>();
  let config: Config;
  let service: Service;
  let dataDir: string;

  before(async () => {
    for (const [name, o] of overlays) configs.set(name, parseConfig(o.configText, o.env.SMOKE_CONFIG!, o.env));
    config = configs.get('sqlite')!;
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'smoke-examples-'));
    // The SQLite overlay's config, only listening on loopback, writing to a temp folder and with no cron ticking.
    service = await run(
      {
        ...config,
        server: { ...config.server, host: '127.0.0.1', port: 0 },
        storage: { ...config.storage, database: path.join(dataDir, 'smoke.db'), artifacts: path.join(dataDir, 'artifacts') },
        schedules: [],
      },
      { logger: pino({ level: 'silent' }) },
    );
  });

  after(async () => {
    await service?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('has the examples the README points to', () => {
    const files = all.map((e) => e.file);
    for (const file of [
      'flagger/canary.yaml',
      'argo-rollouts/analysis-template.yaml',
      'argo-rollouts/analysis-template-prometheus.yaml',
      'argocd/postsync-job.yaml',
      'github-actions/verify.yml',
      'argocd/application.yaml',
      'kubernetes/base/kustomization.yaml',
      'kubernetes/base/deployment.yaml',
      'kubernetes/base/service.yaml',
      'kubernetes/base/configmap.yaml',
      'kubernetes/base/secret.yaml',
      'kubernetes/base/serviceaccount.yaml',
      'kubernetes/base/networkpolicy.yaml',
      'kubernetes/overlays/sqlite/kustomization.yaml',
      'kubernetes/overlays/sqlite/deployment-patch.yaml',
      'kubernetes/overlays/sqlite/pvc.yaml',
      'kubernetes/overlays/postgres/kustomization.yaml',
      'kubernetes/overlays/postgres/deployment-patch.yaml',
      'kubernetes/overlays/postgres/pvc.yaml',
      'kubernetes/overlays/postgres/secret.yaml',
      'kubernetes/overlays/postgres/pdb.yaml',
      'kubernetes/prometheus-operator/kustomization.yaml',
      'kubernetes/prometheus-operator/servicemonitor.yaml',
      'kubernetes/prometheus-operator/prometheusrule.yaml',
    ]) {
      assert.ok(files.includes(file), `deploy/${file} is missing`);
    }
  });

  it('uses only endpoints the service answers', async () => {
    const used = new Map<string, string>();
    for (const { file, text } of all) for (const [p] of text.matchAll(PATH)) used.set(p, file);
    assert.ok(used.has('/api/v1/gates/flagger') && used.has('/api/v1/gates/argo') && used.has('/healthz'), [...used.keys()].join(', '));
    const auth = { authorization: `Bearer ${PLACEHOLDER_ENV.SMOKE_API_TOKEN}` };
    for (const [route, file] of used) {
      const answers = await Promise.all([
        fetch(`${service.url}${route}`, { headers: auth }),
        fetch(`${service.url}${route}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }),
      ]);
      const routed = await Promise.all(answers.map(async (r) => !(r.status === 404 && /no route for/.test(await r.text()))));
      assert.ok(routed.some(Boolean), `${file} uses ${route}, which the service does not serve`);
    }
    assert.equal((await service.store.listDeployments({ limit: 10 })).length, 0, 'probing the routes started nothing');
  });

  it('gives smoke verify only flags it has', () => {
    const known = new Set(Object.keys(VERIFY_OPTIONS).map((name) => `--${name}`));
    const used = all.flatMap(({ file, documents }) => verifyFlags(documents).map((flag) => ({ file, flag })));
    const files = new Set(used.map((u) => u.file));
    assert.ok(files.has('argocd/postsync-job.yaml') && files.has('github-actions/verify.yml'), `smoke verify found in: ${[...files].join(', ')}`);
    for (const { file, flag } of used) assert.ok(known.has(flag), `${file}: smoke verify has no ${flag}`);
    assert.ok(used.some((u) => u.flag === '--environment') && used.some((u) => u.flag === '--version'));
  });

  it('queries only metrics the service exports', async () => {
    const exposition = await (await fetch(`${service.url}/metrics`)).text();
    const exported = new Set<string>();
    for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(name!);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
    }
    let checked = 0;
    for (const { file, text } of all) {
      for (const [name] of text.matchAll(METRIC)) {
        assert.ok(exported.has(name), `${file} uses ${name}, which smoke does not export`);
        checked++;
      }
    }
    assert.ok(checked > 0);
    assert.ok(exported.has('smoke_gate_requests_total'));
  });

  it('both overlays render to objects the upstream schemas accept, the pods Pod Security `restricted`', async () => {
    const rendered = [...overlays.values()].flatMap((o) => o.manifests);
    const problems = (await Promise.all(rendered.map(validateWithModel))).filter(Boolean);
    assert.deepEqual(problems, []);
    assert.deepEqual(typecheckAgainstModels(rendered), []);
    for (const o of overlays.values()) {
      assert.deepEqual(restrictedViolations(o.deployment.spec.template.spec), [], `overlays/${o.name}`);
      assert.deepEqual(new Set(o.manifests.map((m) => m.doc.metadata.namespace ?? m.name)), new Set(['smoke']), `overlays/${o.name}: everything in the smoke namespace`);
      assert.equal(o.configText, configMap.data['smoke.config.yaml'], 'both overlays use the base config');
    }
  });

  for (const name of OVERLAYS) {
    it(`overlays/${name}: the ConfigMap's config loads with the real loader, fed by the Deployment's environment`, () => {
      const { container, configText, env } = overlays.get(name)!;
      const loaded = configs.get(name)!;
      assert.equal(loaded.server.port, 8080);
      assert.equal(loaded.server.instanceId, POD_NAME, 'runs name the pod that ran them');
      assert.deepEqual([...loaded.environments.keys()], ['production', 'canary']);
      assert.ok(loaded.gates.github, 'the GitHub gate is configured');
      assert.equal(loaded.gates.flagger.targets[0]?.canary, 'shop/shop');

      const required = [...configText.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!);
      for (const variable of required) assert.ok(variable in env, `the config reads \${${variable}}, which the Deployment does not set`);
      const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'config');
      assert.equal(env.SMOKE_CONFIG, `${mount.mountPath}/smoke.config.yaml`);

      if (name === 'sqlite') {
        assert.equal(loaded.storage.postgres, undefined, 'no DATABASE_URL: SQLite');
        assert.ok(!('DATABASE_URL' in env));
      } else {
        assert.equal(loaded.storage.postgres?.reveal(), env.DATABASE_URL);
        assert.match(env.DATABASE_URL!, /^postgres:\/\//);
        assert.equal(String(loaded.storage.postgres), '<redacted>');
        assert.ok(!JSON.stringify(loaded).includes(new URL(env.DATABASE_URL!).password), 'the password never prints');
      }
    });

    it(`overlays/${name}: the Deployment suits Chromium and a clean shutdown`, () => {
      const { deployment, container } = overlays.get(name)!;
      const loaded = configs.get(name)!;
      const pod = deployment.spec.template.spec;
      assert.ok(
        pod.terminationGracePeriodSeconds > preStopSeconds(container) + loaded.runs.graceSeconds,
        'browsers need runs.graceSeconds to close, after any preStop pause, before the kill',
      );
      assert.equal(container.livenessProbe.httpGet.path, '/healthz');
      assert.equal(container.readinessProbe.httpGet.path, '/readyz');
      const shm = pod.volumes.find((v: { emptyDir?: { medium?: string } }) => v.emptyDir?.medium === 'Memory');
      assert.equal(container.volumeMounts.find((m: { name: string }) => m.name === shm?.name)?.mountPath, '/dev/shm');
      assert.equal(pod.securityContext.runAsNonRoot, true);
      const data = container.volumeMounts.find((m: { name: string }) => m.name === 'data');
      assert.equal(path.dirname(loaded.storage.database), data.mountPath);
      assert.ok(loaded.storage.artifacts.startsWith(`${data.mountPath}/`));
    });
  }

  it('overlays/sqlite: one pod, replaced with Recreate (one writer per SQLite file)', () => {
    const { deployment } = overlays.get('sqlite')!;
    assert.equal(deployment.spec.replicas, 1, 'one writer per SQLite file');
    assert.equal(deployment.spec.strategy.type, 'Recreate');
  });

  it('overlays/postgres: three replicas, a rolling update that keeps all three, a disruption budget, spread over nodes', () => {
    const { deployment, manifests } = overlays.get('postgres')!;
    const { spec } = deployment;
    const podLabels = spec.template.metadata.labels;
    assert.equal(spec.replicas, 3);
    assert.equal(spec.strategy.type, 'RollingUpdate');
    assert.equal(spec.strategy.rollingUpdate.maxUnavailable, 0, 'an old pod stops only once its replacement is ready');
    assert.ok(spec.strategy.rollingUpdate.maxSurge >= 1);
    assert.ok(selects(spec.selector, podLabels));

    const budgets = manifests.filter((m) => m.kind === 'PodDisruptionBudget');
    assert.equal(budgets.length, 1);
    const budget = budgets[0]!;
    assert.equal(budget.apiVersion, 'policy/v1');
    assert.ok(selects(budget.doc.spec.selector, podLabels), 'the budget selects the smoke pods');
    const { maxUnavailable, minAvailable } = budget.doc.spec;
    const evictable = maxUnavailable !== undefined ? maxUnavailable : spec.replicas - minAvailable;
    assert.ok(evictable >= 1 && evictable < spec.replicas, `the budget lets ${evictable} of ${spec.replicas} go at once: a drain proceeds, never takes them all`);

    const spread = spec.template.spec.topologySpreadConstraints ?? [];
    const byNode = spread.find((c: { topologyKey: string }) => c.topologyKey === 'kubernetes.io/hostname');
    assert.ok(byNode, 'replicas are spread over nodes');
    assert.ok(selects(byNode.labelSelector, podLabels), 'the spread counts the smoke pods');
  });

  it('overlays/postgres: DATABASE_URL from the smoke-postgres Secret, artifacts on a ReadWriteMany volume at storage.artifacts', () => {
    const { deployment, container, manifests } = overlays.get('postgres')!;
    const loaded = configs.get('postgres')!;
    const url = container.env.find((e: { name: string }) => e.name === 'DATABASE_URL');
    assert.deepEqual(url.valueFrom, { secretKeyRef: { name: 'smoke-postgres', key: 'url' } });
    assert.equal(url.value, undefined, 'never written into the Deployment');
    assert.ok(manifests.some((m) => m.kind === 'Secret' && m.name === 'smoke-postgres'));

    const mount = container.volumeMounts.find((m: { mountPath: string }) => loaded.storage.artifacts.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `no volume is mounted where storage.artifacts (${loaded.storage.artifacts}) lies`);
    const volume = deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    assert.deepEqual(Object.keys(volume).sort(), ['name', 'persistentVolumeClaim'], 'the claim replaces the base emptyDir');
    const claim = manifests.find((m) => m.kind === 'PersistentVolumeClaim' && m.name === volume.persistentVolumeClaim.claimName);
    assert.ok(claim, `the overlay has no claim ${volume.persistentVolumeClaim.claimName}`);
    assert.deepEqual(claim.doc.spec.accessModes, ['ReadWriteMany'], 'every replica reads and writes the artifacts');
    assert.notEqual(mount.readOnly, true);
  });
});
