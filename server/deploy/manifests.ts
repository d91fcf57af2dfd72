import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/**
 * The Kubernetes objects under deploy/, and the checks that hold them to the
 * upstream schemas: the kubernetes-models packages (types and validators
 * generated from the Kubernetes OpenAPI spec and the Argo Rollouts,
 * Prometheus Operator and Argo CD CRDs) and vendored CRDs where no package
 * exists (Flagger: ./schemas/).
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEPLOY = path.join(REPO, 'deploy');

export interface Manifest {
  /** Where it came from: `deploy/…#index`, or `kustomize <dir>#index` for built output. */
  readonly source: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly doc: Record<string, any>;
}

function documents(text: string, where: string): Record<string, any>[] {
  return parseAllDocuments(text).map((d, i) => {
    if (d.errors.length > 0) throw new Error(`${where}#${i} does not parse: ${d.errors.map(String).join('; ')}`);
    return d.toJS() as Record<string, any>;
  });
}

function toManifests(docs: Record<string, any>[], where: string): Manifest[] {
  return docs
    .filter((d) => d && typeof d.apiVersion === 'string' && typeof d.kind === 'string')
    .map((doc, i) => ({ source: `${where}#${i}`, apiVersion: doc.apiVersion, kind: doc.kind, name: String(doc.metadata?.name ?? ''), doc }));
}

/** Kustomize's own files configure a build; they are not objects sent to a cluster. */
const KUSTOMIZE_KINDS = new Set(['Kustomization', 'Component']);

/** Every object in a YAML file under deploy/, patches and kustomizations aside. */
export function shippedManifests(): Manifest[] {
  const files = readdirSync(DEPLOY, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f) && !/(^|\/)(kustomization\.yaml|[^/]*-patch\.yaml)$/.test(f))
    .sort();
  return files.flatMap((file) => toManifests(documents(readFileSync(path.join(DEPLOY, file), 'utf8'), `deploy/${file}`), `deploy/${file}`)).filter((m) => !KUSTOMIZE_KINDS.has(m.kind));
}

/** `kubectl kustomize <dir>`: the objects an `apply -k` would send. */
export function kustomize(dir: string): Manifest[] {
  const run = spawnSync('kubectl', ['kustomize', path.join(DEPLOY, dir)], { encoding: 'utf8', timeout: 60_000 });
  if (run.error) throw new Error(`kubectl is needed to build the kustomize overlays (scripts/setup.sh installs it): ${run.error.message}`, { cause: run.error });
  if (run.status !== 0) throw new Error(`kubectl kustomize deploy/${dir} failed: ${run.stderr}`);
  return toManifests(documents(run.stdout, `kustomize ${dir}`), `kustomize ${dir}`);
}

/** The kustomize version inside kubectl, e.g. [5, 5, 0]; undefined when kubectl is missing. */
export function kustomizeVersion(): number[] | undefined {
  const run = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 });
  const found = /Kustomize Version: v(\d+)\.(\d+)\.(\d+)/.exec(run.stdout ?? '');
  return found ? found.slice(1).map(Number) : undefined;
}

/** Where a kind's model lives: the package and its group/version folder. */
export function modelModule(m: Pick<Manifest, 'apiVersion' | 'kind'>): string | undefined {
  const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : ['', m.apiVersion];
  if (group === 'argoproj.io') return `${m.kind === 'Application' || m.kind === 'AppProject' ? '@kubernetes-models/argo-cd' : '@kubernetes-models/argo-rollouts'}/argoproj.io/${version}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}`;
  if (group === '' || !group!.includes('.') || group!.endsWith('.k8s.io')) return `kubernetes-models/${m.apiVersion}`;
  return undefined;
}

/** The model's own validator (types, required fields, formats): an error message per object that fails. */
export async function validateWithModel(m: Manifest): Promise<string | undefined> {
  const module = modelModule(m);
  if (!module) return `${m.source}: no model for ${m.apiVersion} ${m.kind}`;
  const models = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = models[m.kind];
  if (!Model) return `${m.source}: ${module} has no ${m.kind}`;
  try {
    new Model(m.doc).validate();
    return undefined;
  } catch (err) {
    return `${m.source} (${m.kind} ${m.name}): ${(err as Error).message}`;
  }
}

/**
 * The same objects as object literals typed with the models' interfaces, run
 * through the TypeScript compiler: its excess-property check rejects every
 * field the upstream schema does not have, at any depth, which the models'
 * validators let through. One message per problem, naming the object.
 */
export function typecheckAgainstModels(manifests: readonly Manifest[]): string[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-manifests-'));
  try {
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const lines: string[] = [];
    const owner: string[] = [];
    manifests.forEach((m, i) => {
      const module = modelModule(m);
      if (!module) return;
      lines.push(`import type { I${m.kind} as T${i} } from '${module}/${m.kind}';`);
      owner.push(m.source);
    });
    const importCount = lines.length;
    manifests.forEach((m, i) => {
      if (!modelModule(m)) return;
      const body = `export const m${i}: T${i} = ${JSON.stringify(m.doc, null, 1)};`.split('\n');
      for (const line of body) {
        lines.push(line);
        owner.push(`${m.source} (${m.kind} ${m.name})`);
      }
    });
    writeFileSync(path.join(dir, 'check.ts'), lines.join('\n'));
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', skipLibCheck: true, types: [] }, files: ['check.ts'] }),
    );
    const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
    if (run.status === 0) return [];
    const problems = [...(run.stdout + run.stderr).matchAll(/check\.ts\((\d+),\d+\): (error TS\d+: .*)/g)].map(([, line, message]) => {
      const at = Number(line) - 1;
      return `${owner[at] ?? 'check.ts'}${at < importCount ? ' (import)' : ''}: ${message} — ${lines[at]?.trim()}`;
    });
    return problems.length > 0 ? problems : [`tsc failed: ${run.stdout}${run.stderr}`];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
