import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Fault } from './shop.ts';

/**
 * The demo's moving parts as real processes, the way a team runs them: two
 * demo shops (production and canary) and the smoke service pointed at them.
 * Shared by `demo/run-demo.ts` and `bench/deploy-vs-cli.ts`.
 */

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Suite settings of the stack's smoke config; the benchmark gives the CLI the same. */
export const SUITE = Object.freeze({ grep: '@critical', retries: 2, workers: 2 });

/** How long a stopped process gets to exit on SIGTERM before it is killed, ms. */
const STOP_GRACE_MS = 15_000;
/** How long a shop gets to answer its first request, ms. */
const SHOP_START_MS = 30_000;
/** How long the service gets to report ready, ms. */
const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 250;
/** Bytes of a log file quoted when a process fails. */
const LOG_TAIL_BYTES = 4 * 1024;

export class StackError extends Error {
  override name = 'StackError';
}

export interface ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL after a grace period; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface Shop {
  readonly name: string;
  readonly url: string;
  readonly process: ManagedProcess;
  /** The demo's stand-in for a real deploy: swaps the shop's version and fault in place. */
  deploy(version: string, fault: Fault, signal?: AbortSignal): Promise<void>;
}

export interface Stack {
  readonly dir: string;
  readonly configFile: string;
  readonly smokeUrl: string;
  readonly smokeLog: string;
  readonly production: Shop;
  readonly canary: Shop;
  /** Stops the service, then the shops. */
  stop(): Promise<void>;
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new StackError('could not pick a free port');
  return address.port;
}

/** `node --import tsx <script> …`, its output appended to `logFile`. */
export function startProcess(name: string, script: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv = {}): ManagedProcess {
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, script), ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    name,
    logFile,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts a demo shop on a free port and waits until it answers. */
export async function startShop(name: string, dir: string, fault: Fault = 'none', signal?: AbortSignal): Promise<Shop> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess(name, 'demo/shop-server.ts', ['--name', name, '--port', String(port), '--fault', fault], path.join(dir, `${name}.log`));
  try {
    await waitUntil(`shop "${name}" to answer on ${url}`, proc, SHOP_START_MS, signal, async () => (await fetch(`${url}/healthz`, { signal })).ok);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    name,
    url,
    process: proc,
    async deploy(version, shopFault, deploySignal) {
      const response = await fetch(`${url}/__demo/deploy`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version, fault: shopFault }),
        signal: deploySignal,
      });
      if (!response.ok) throw new StackError(`shop "${name}" refused the deploy of ${version}: ${response.status} ${await response.text()}`);
    },
  };
}

/** A smoke config of the same shape as smoke.config.yaml, for the repo's suite against the two shops. */
export function writeSmokeConfig(dir: string, port: number, production: string, canary: string): string {
  const file = path.join(dir, 'smoke.config.yaml');
  // JSON strings are valid YAML scalars, so paths and URLs need no further escaping.
  const q = JSON.stringify;
  writeFileSync(
    file,
    `# Written by the smoke demo for one run; paths are relative to this folder.
service: shop

server:
  host: 127.0.0.1
  port: ${port}

suite:
  config: ${q(path.join(REPO, 'playwright.config.ts'))}
  grep: ${q(SUITE.grep)}
  retries: ${SUITE.retries}
  workers: ${SUITE.workers}

runs:
  deadlineSeconds: 300
  concurrency: 2

storage:
  database: ./data/smoke.db
  artifacts: ./data/artifacts

environments:
  production:
    baseURL: ${q(production)}
  canary:
    baseURL: ${q(canary)}
    baseline: production
`,
  );
  return file;
}

/** Shops first, then the service; whatever started is stopped again if a later step fails. */
export async function startStack(dir: string, signal?: AbortSignal): Promise<Stack> {
  const started: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of [...started].reverse()) await stopOne();
  };
  try {
    const production = await startShop('production', dir, 'none', signal);
    started.push(production.process.stop);
    const canary = await startShop('canary', dir, 'none', signal);
    started.push(canary.process.stop);

    const port = await freePort();
    const configFile = writeSmokeConfig(dir, port, production.url, canary.url);
    const smokeLog = path.join(dir, 'smoke.log');
    // Warnings only: the demo's own output is the story; the log file has the rest.
    const smoke = startProcess('smoke', 'server/main.ts', ['--config', configFile], smokeLog, { LOG_LEVEL: 'warn' });
    started.push(smoke.stop);
    const smokeUrl = `http://127.0.0.1:${port}`;
    await waitForReady(smokeUrl, smoke, signal);
    return { dir, configFile, smokeUrl, smokeLog, production, canary, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls `/readyz` until 200; on timeout the error quotes its last answer. */
async function waitForReady(url: string, proc: ManagedProcess, signal?: AbortSignal): Promise<void> {
  let last = 'no answer yet';
  try {
    await waitUntil(`smoke to be ready on ${url}`, proc, READY_TIMEOUT_MS, signal, async () => {
      const response = await fetch(`${url}/readyz`, { signal });
      last = `${response.status} ${await response.text()}`;
      return response.status === 200;
    });
  } catch (err) {
    if (err instanceof StackError) throw new StackError(`${err.message}\n  last /readyz answer: ${last}`, { cause: err });
    throw err;
  }
}

/** Polls `probe` (connection errors count as "not yet") until it is true, the process dies, or time runs out. */
async function waitUntil(what: string, proc: ManagedProcess, timeoutMs: number, signal: AbortSignal | undefined, probe: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    signal?.throwIfAborted();
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      const how = proc.child.exitCode !== null ? `exited with code ${proc.child.exitCode}` : `was killed by ${proc.child.signalCode}`;
      throw new StackError(`${proc.name} ${how} while waiting for ${what}; its log ${proc.logFile} ends:\n${logTail(proc.logFile)}`);
    }
    try {
      if (await probe()) return;
    } catch {
      signal?.throwIfAborted();
      // Not listening yet.
    }
    await sleep(POLL_MS, undefined, signal ? { signal } : {});
  }
  throw new StackError(`timed out after ${timeoutMs / 1000} s waiting for ${what}; see ${proc.logFile}`);
}

/** The last few KB of a log file, for error messages. */
export function logTail(file: string, bytes = LOG_TAIL_BYTES): string {
  try {
    const size = statSync(file).size;
    const text = readFileSync(file, 'utf8');
    return (size > bytes ? `…${text.slice(-bytes)}` : text).trimEnd();
  } catch {
    return '(no log)';
  }
}

export interface DeployNotice {
  readonly environment: string;
  readonly version: string;
  readonly service?: string;
}

/** Longest a deploy notice waits for its verdict in one request, seconds. */
export const DEPLOY_WAIT_SECONDS = 300;

/**
 * Tells smoke about a deploy and waits for its verdict; returns the
 * deployment as the API answers it (JSON, read by the caller).
 */
export async function notifyDeploy(smokeUrl: string, notice: DeployNotice, signal?: AbortSignal): Promise<unknown> {
  const response = await fetch(`${smokeUrl}/api/v1/deployments?wait=${DEPLOY_WAIT_SECONDS}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(notice),
    signal,
  }).catch((err: unknown) => {
    if (signal?.aborted) throw err;
    const detail = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new StackError(`could not tell smoke at ${smokeUrl} about ${notice.version}: ${detail}`, { cause: err });
  });
  const body: unknown = await response.json().catch(() => undefined);
  if (response.status !== 200 && response.status !== 202) {
    throw new StackError(`smoke answered ${response.status} to the deploy of ${notice.version}: ${JSON.stringify(body)}`);
  }
  if (response.status === 202) {
    throw new StackError(`smoke had no verdict for ${notice.version} after ${DEPLOY_WAIT_SECONDS} s: ${JSON.stringify(body)}`);
  }
  return body;
}
