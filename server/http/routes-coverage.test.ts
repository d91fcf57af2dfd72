import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type express from 'express';
import pino from 'pino';
import { loadConfig } from '../config/config.ts';
import { createGates } from '../gates/gates.ts';
import { workspace, type Workspace } from '../integration/harness.ts';
import { createRegistry } from '../metrics/registry.ts';
import { createSignalMetrics } from '../metrics/signal-metrics.ts';
import { createScheduler } from '../scheduler/scheduler.ts';
import { createSignals } from '../signals/signals.ts';
import { openStore, type Store } from '../store/store.ts';
import { createVerifier, type Verifier } from '../verification/verifier.ts';
import { createApp } from './app.ts';
import { appDeps } from './app-deps.ts';
import { openapiDocument } from './openapi.ts';

const TOKEN = 'coverage-test-token-0123456789';
const PREFIX = '/smoke';

/**
 * The app as `service.ts` builds it, over a real config (with an API token and
 * a path prefix, so every route is mounted), store, signals, gates and
 * scheduler; only the runner is a stand-in, as nothing here runs flows.
 */
async function buildApp(ws: Workspace): Promise<{ app: express.Express; store: Store; verifier: Verifier }> {
  const config = loadConfig(ws.configFile);
  const logger = pino({ level: 'silent' });
  const registry = createRegistry();
  mkdirSync(path.dirname(config.storage.database), { recursive: true });
  const store = await openStore({ kind: 'sqlite', file: config.storage.database });
  const runner = { run: () => Promise.reject(new Error('no flows run in this test')), sweep: () => 0 };
  const signals = createSignals({ config: config.rollback, outbox: store.outbox, store, metrics: createSignalMetrics(registry), logger, publicBase: () => config.server.publicUrl! });
  const verifier = createVerifier({ config, store, runner, observers: [signals.observer], logger });
  const scheduler = createScheduler({ schedules: config.schedules, verifier, store, registry, logger });
  const gates = createGates({ config: config.gates, environments: [...config.environments.keys()], verifier, store, deliveries: store.gateDeliveries, logger });
  const app = createApp(
    appDeps({ config, store, verifier, scheduler, signals, gates, browser: { kind: 'missing', tried: [] }, readiness: { accepting: () => true }, logger, registry }),
  );
  return { app, store, verifier };
}

interface Served {
  readonly method: string;
  readonly path: string;
}

/**
 * Every (method, path) the app answers, from Express 5's router stack: routes
 * with their methods, nested routers by their mount path, and static folders
 * (as GET of any file below them). `all` routes are not operations: they are
 * the 405 answers for other methods, redirects when a feature is off, or a
 * check in front of the real route. HEAD comes with GET.
 */
function servedRoutes(stack: readonly Layer[], mount = ''): Served[] {
  const served: Served[] = [];
  for (const layer of stack) {
    const paths = ([] as string[]).concat(layer.route?.path ?? layer.rawPath ?? '/');
    for (const path of paths) {
      const at = join(mount, path);
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) if (method !== '_all' && method !== 'head') served.push({ method, path: at || '/' });
      } else if (layer.handle?.stack) {
        served.push(...servedRoutes(layer.handle.stack, at));
      } else if (layer.handle?.name === 'serveStatic') {
        served.push({ method: 'get', path: join(at, '/*file') });
      }
    }
  }
  return served;
}

interface Layer {
  readonly rawPath?: string | string[];
  readonly route?: { readonly path: string | string[]; readonly methods: Record<string, boolean> };
  readonly handle?: { readonly name?: string; readonly stack?: readonly Layer[] };
}

/** A path under a mount; '' is the root until something is pushed. */
const join = (mount: string, path: string) => (path === '/' ? mount : mount + path);

/** One spelling for a route: parameters anonymous, Express's optional `{…}` parts expanded into both variants. */
function canonical(path: string): string[] {
  const optional = /\{([^{}]*[:*/][^{}]*)\}/.exec(path);
  if (optional && !/^\{\w+\}$/.test(optional[0])) {
    const without = path.slice(0, optional.index) + path.slice(optional.index + optional[0].length);
    const withIt = path.slice(0, optional.index) + optional[1] + path.slice(optional.index + optional[0].length);
    return [...canonical(without), ...canonical(withIt)];
  }
  return [path.replace(/\{\w+\}|[:*]\w+/g, '{}').replace(/(.)\/$/, '$1')];
}

const key = (method: string, path: string) => canonical(path).map((p) => `${method.toUpperCase()} ${p}`);

function documented(): Map<string, string> {
  const doc = openapiDocument({ publicUrl: `http://127.0.0.1${PREFIX}` }) as { paths: Record<string, Record<string, unknown>> };
  const operations = new Map<string, string>();
  for (const [path, item] of Object.entries(doc.paths)) for (const method of Object.keys(item)) for (const k of key(method, path)) operations.set(k, `${method.toUpperCase()} ${path}`);
  return operations;
}

describe('the OpenAPI document against the routes the app serves', () => {
  let ws: Workspace;
  let built: Awaited<ReturnType<typeof buildApp>>;
  let server: Server;
  let url: string;

  before(async () => {
    ws = workspace(
      { production: { baseURL: 'http://127.0.0.1:9' }, canary: { baseURL: 'http://127.0.0.1:9', baseline: 'production' } },
      { apiToken: TOKEN, publicUrl: `http://127.0.0.1${PREFIX}`, schedules: "  - name: nightly\n    cron: '0 3 * * *'\n    environments: [production]\n" },
    );
    built = await buildApp(ws);
    server = built.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await built?.verifier.shutdown();
    await built?.store.close();
    ws?.remove();
  });

  const served = () => {
    const all = servedRoutes((built.app as unknown as { router: { stack: Layer[] } }).router.stack);
    const atRoot = all.filter((r) => r.path !== PREFIX && !r.path.startsWith(`${PREFIX}/`));
    const underPrefix = all.filter((r) => !atRoot.includes(r)).map((r) => ({ method: r.method, path: r.path.slice(PREFIX.length) || '/' }));
    return { atRoot, underPrefix };
  };

  it('serves the pages both at the root and under the path prefix of server.publicUrl', () => {
    const { atRoot, underPrefix } = served();
    const pages = new Set(underPrefix.map((r) => `${r.method} ${r.path}`));
    assert.ok(pages.size > 0, 'nothing is mounted under the prefix');
    for (const page of pages) assert.ok(atRoot.some((r) => `${r.method} ${r.path}` === page), `${page} is served under ${PREFIX} but not at the root`);
  });

  it('documents every route the app serves', () => {
    const operations = documented();
    const { atRoot } = served();
    const missing = [...new Set(atRoot.flatMap((r) => key(r.method, r.path).filter((k) => !operations.has(k)).map(() => `${r.method.toUpperCase()} ${r.path}`)))];
    assert.deepEqual(missing, [], `served but not in the OpenAPI document (add a RouteDoc next to the route):\n${missing.join('\n')}`);
  });

  it('serves every route the document describes', () => {
    const servedKeys = new Set(served().atRoot.flatMap((r) => key(r.method, r.path)));
    const absent = [...new Set([...documented()].filter(([k]) => !servedKeys.has(k)).map(([, op]) => op))];
    assert.deepEqual(absent, [], `in the OpenAPI document but not served:\n${absent.join('\n')}`);
  });

  it('answers every documented operation with something other than "no route"', async () => {
    const doc = openapiDocument({}) as { paths: Record<string, Record<string, unknown>> };
    const sample: Record<string, string> = { id: 'x_1', name: 'nightly', artifact: 'a.png', file: 'index.html' };
    const unrouted: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        const concrete = path.replace(/\{(\w+)\}/g, (_, name: string) => sample[name] ?? 'x');
        const response = await fetch(url + concrete, { method: method.toUpperCase(), headers: { authorization: `Bearer ${TOKEN}` }, redirect: 'manual' });
        const text = await response.text();
        if (response.status === 405 || (response.status === 404 && text.includes('no route for'))) unrouted.push(`${method.toUpperCase()} ${path} → ${response.status} ${text.slice(0, 120)}`);
      }
    }
    assert.deepEqual(unrouted, []);
  });
});
