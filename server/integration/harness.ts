import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createShopApp, type Fault, type ShopApp } from '../../demo/shop.ts';
import { loadConfig } from '../config/config.ts';
import { warmBrowserMark } from '../runner/browser-server.ts';
import { findMarkedProcesses } from '../runner/processes.ts';
import { aheadMark } from '../runner/runner.ts';
import { run, type Service } from '../service.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Shop {
  readonly url: string;
  readonly state: ShopApp['state'];
  close(): Promise<void>;
}

/** A demo shop on a free loopback port. */
export async function startShop(name: string, fault: Fault = 'none', slowMs?: number): Promise<Shop> {
  const shop = createShopApp({ name, fault, ...(slowMs !== undefined && { slowMs }) });
  const server = createServer(shop.app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state: shop.state, close: () => closeServer(server) };
}

/** A loopback URL nobody listens on: the port was free a moment ago. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return `http://127.0.0.1:${port}`;
}

export interface Workspace {
  readonly dir: string;
  readonly configFile: string;
  remove(): void;
}

export interface WorkspaceOptions {
  readonly deadlineSeconds?: number;
  readonly apiToken?: string;
  /** The suite's Playwright config or folder; the repo's demo suite by default. */
  readonly suite?: string;
  readonly retries?: number;
  readonly grep?: string;
  /** The items of a `schedules:` list, as YAML indented by two spaces. */
  readonly schedules?: string;
  /** The body of a `rollback:` section, as YAML indented by two spaces. */
  readonly rollback?: string;
  /** The body of a `gates:` section, as YAML indented by two spaces. */
  readonly gates?: string;
  /** `runs.failFast`, `runs.baseline`, `runs.warmBrowser`, `runs.warmRunner`; the service's defaults when absent. */
  readonly failFast?: boolean;
  readonly baseline?: 'always' | 'on-failure';
  readonly warmBrowser?: boolean;
  readonly warmRunner?: boolean;
  /** `server.port`; 0 (or SMOKE_TEST_PORT) by default. Give one with `publicUrl` naming it. */
  readonly port?: number;
  /** `server.publicUrl`, e.g. with a path prefix. */
  readonly publicUrl?: string;
  /** `runs.leaseSeconds`: how soon another replica (or the next start) takes over a run whose replica died. */
  readonly leaseSeconds?: number;
  /** `runs.concurrency`. */
  readonly concurrency?: number;
  /** `storage.postgres`: replicas share this PostgreSQL instead of the workspace's SQLite file. */
  readonly postgres?: string;
}

/** A temp folder with a smoke config for a suite (the repo's demo one by default) against the given environments. */
export function workspace(environments: Record<string, { baseURL: string; baseline?: string }>, options: WorkspaceOptions = {}): Workspace {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-it-'));
  const envYaml = Object.entries(environments)
    .map(([name, env]) => `  ${name}:\n    baseURL: ${env.baseURL}\n${env.baseline ? `    baseline: ${env.baseline}\n` : ''}`)
    .join('');
  const configFile = path.join(dir, 'smoke.config.yaml');
  writeFileSync(
    configFile,
    `service: shop
server:
  host: 127.0.0.1
  port: ${options.port ?? '\${SMOKE_TEST_PORT:-0}'}
${options.publicUrl ? `  publicUrl: ${options.publicUrl}\n` : ''}${options.apiToken ? `  apiToken: ${options.apiToken}\n` : ''}suite:
  config: ${options.suite ?? path.join(REPO, 'playwright.config.ts')}
  grep: "${options.grep ?? '@critical'}"
  retries: ${options.retries ?? 2}
  workers: 2
runs:
  deadlineSeconds: ${options.deadlineSeconds ?? 120}
  graceSeconds: 5
  reachabilityTimeoutSeconds: 3
${runsOptions(options)}storage:
  database: ./data/smoke.db
  artifacts: ./data/artifacts
${options.postgres ? `  postgres: ${options.postgres}\n` : ''}environments:
${envYaml}${options.schedules ? `schedules:\n${options.schedules}` : ''}${options.rollback ? `rollback:\n${options.rollback}` : ''}${options.gates ? `gates:\n${options.gates}` : ''}`,
  );
  return { dir, configFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function runsOptions(options: WorkspaceOptions): string {
  const lines = [
    options.failFast !== undefined && `  failFast: ${options.failFast}`,
    options.baseline !== undefined && `  baseline: ${options.baseline}`,
    options.warmBrowser !== undefined && `  warmBrowser: ${options.warmBrowser}`,
    options.warmRunner !== undefined && `  warmRunner: ${options.warmRunner}`,
    options.leaseSeconds !== undefined && `  leaseSeconds: ${options.leaseSeconds}`,
    options.concurrency !== undefined && `  concurrency: ${options.concurrency}`,
  ].filter((line): line is string => typeof line === 'string');
  return lines.map((line) => `${line}\n`).join('');
}

/** The service in this process, as `main` would build it. */
export async function startService(ws: Workspace): Promise<Service> {
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  return run(loadConfig(ws.configFile), { logger });
}

/** The service as its own process (`smoke --config …`), for crash and signal tests. */
export async function spawnService(
  ws: Workspace,
  port: number,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'server/main.ts'), '--config', ws.configFile], {
    cwd: REPO,
    env: { ...process.env, SMOKE_TEST_PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`service exited early (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url, output: () => output };
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`service did not come up on ${url}:\n${output}`);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}

export interface ApiResponse {
  readonly status: number;
  // Integration tests read what a user reads: the JSON, untyped.
  readonly body: any;
}

export async function api(base: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, body: parsed };
}

/** Posts a deploy and waits for its verdict. */
export async function deploy(base: string, body: Record<string, unknown>, waitSeconds = 180): Promise<ApiResponse> {
  return api(base, 'POST', `/api/v1/deployments?wait=${waitSeconds}`, body);
}

/** Flows of one environment in a deployment view, by outcome. */
export function outcomes(deployment: any, environment: string): Record<string, string> {
  const flows = deployment.run.environments[environment].flows as { flow: string; outcome: string }[];
  return Object.fromEntries(flows.map((f) => [f.flow, f.outcome]));
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Processes of runs still alive (runners, workers, their browsers): marked
 * with the service's temp root, except the warm browser and the runner
 * waiting for the next run, which the service keeps between runs. A runner
 * started ahead keeps its mark once a run takes it, so the waiting one is the
 * newest of them while it is alone (no workers yet).
 */
export function runProcesses(tmpRoot: string): number[] {
  const kept = new Set(findMarkedProcesses(warmBrowserMark(tmpRoot)));
  let started: number[] = [];
  try {
    started = readdirSync(aheadMark(tmpRoot)).map(Number).filter(Number.isInteger);
  } catch {
    // None started ahead (yet).
  }
  if (started.length > 0) {
    const waiting = findMarkedProcesses(path.join(aheadMark(tmpRoot), String(Math.max(...started))));
    if (waiting.length === 1) kept.add(waiting[0]!);
  }
  return findMarkedProcesses(tmpRoot).filter((pid) => !kept.has(pid));
}

/** A \`rollback:\` section body: one webhook to \`url\`, with retries quick enough for a test. */
export function quickRollback(url: string, secret: string): string {
  return `  webhooks:
    - name: deployer
      url: ${url}
      secret: ${secret}
  attemptTimeoutSeconds: 2
  initialBackoffSeconds: 1
  maxBackoffSeconds: 2
`;
}
