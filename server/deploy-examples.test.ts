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
import { kustomize } from './deploy/manifests.ts';
import { run, type Service } from './service.ts';

/**
 * The examples under deploy/ held to the code: every file parses, and every
 * endpoint, `smoke verify` flag and metric they use is one the service
 * really has — asked of the real app, the CLI's option table and the
 * registry of a running service, not of a list kept by hand.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEPLOY = path.join(ROOT, 'deploy');
/** Stand-ins for the Secret's values, valid where the config validates their form. */
const PLACEHOLDER_ENV: Record<string, string> = {
  SMOKE_API_TOKEN: 'placeholder-api-token-0123456789',
  GITHUB_WEBHOOK_SECRET: 'placeholder-github-webhook-secret',
  ROLLBACK_WEBHOOK_SECRET: `whsec_${Buffer.from('placeholder-32-bytes-of-entropy!').toString('base64')}`,
};

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
  // The Deployment as `kubectl apply -k deploy/kubernetes/overlays/sqlite` sends it.
  const deployment: any = kustomize('kubernetes/overlays/sqlite').find((m) => m.kind === 'Deployment')?.doc;
  const container = deployment.spec.template.spec.containers[0];
  const configText: string = configMap.data['smoke.config.yaml'];
  let config: Config;
  let service: Service;
  let dataDir: string;

  before(async () => {
    config = parseConfig(configText, '/etc/smoke/smoke.config.yaml', PLACEHOLDER_ENV);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'smoke-examples-'));
    // The example's own config, only listening on loopback, writing to a temp folder and with no cron ticking.
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
      'kubernetes/overlays/sqlite/pvc.yaml',
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
    assert.equal(service.store.listDeployments({ limit: 10 }).length, 0, 'probing the routes started nothing');
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

  it("the ConfigMap's config loads with the real loader, fed by the Deployment's environment", () => {
    assert.equal(config.server.port, 8080);
    assert.deepEqual([...config.environments.keys()], ['production', 'canary']);
    assert.ok(config.gates.github, 'the GitHub gate is configured');
    assert.equal(config.gates.flagger.targets[0]?.canary, 'shop/shop');

    const provided = new Set<string>(container.env.map((e: { name: string }) => e.name));
    const required = [...configText.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!);
    for (const name of required) assert.ok(provided.has(name), `the config reads \${${name}}, which the Deployment does not set`);

    const secret = kubernetesObject('Secret', 'kubernetes/base/secret.yaml');
    for (const e of container.env) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) assert.ok(ref.name === secret.metadata.name && ref.key in secret.stringData, `${e.name} reads ${ref.name}/${ref.key}, which secret.yaml lacks`);
    }
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'config');
    const configEnv = container.env.find((e: { name: string }) => e.name === 'SMOKE_CONFIG');
    assert.equal(configEnv.value, `${mount.mountPath}/smoke.config.yaml`);
  });

  it('the Deployment suits Chromium and a clean shutdown', () => {
    const pod = deployment.spec.template.spec;
    assert.ok(pod.terminationGracePeriodSeconds > config.runs.graceSeconds, 'browsers need runs.graceSeconds to close before the kill');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    const shm = pod.volumes.find((v: { emptyDir?: { medium?: string } }) => v.emptyDir?.medium === 'Memory');
    assert.equal(container.volumeMounts.find((m: { name: string }) => m.name === shm?.name)?.mountPath, '/dev/shm');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    const data = container.volumeMounts.find((m: { name: string }) => m.name === 'data');
    assert.equal(path.dirname(config.storage.database), data.mountPath);
    assert.ok(config.storage.artifacts.startsWith(`${data.mountPath}/`));
    assert.equal(deployment.spec.replicas, 1, 'one writer per SQLite file');
    assert.equal(deployment.spec.strategy.type, 'Recreate');
  });
});
