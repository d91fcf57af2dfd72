import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReceiver, type Receiver } from '../server/testing/webhook-receiver.ts';
import { newWebhookSecret, REPO, writeSmokeConfig, type DemoSchedule } from './demo-config.ts';
import type { Fault } from './shop.ts';

export { REPO, SUITE } from './demo-config.ts';

/**
 * The demo's moving parts as real processes, the way a team runs them: two
 * demo shops (production and canary) and the smoke service pointed at them.
 * Shared by `demo/run-demo.ts` and the benchmarks under `bench/`.
 */

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

/** What the stack adds to the plain deploy-verification setup; the benchmark uses neither. */
export interface StackOptions {
  /** Starts a Standard Webhooks receiver under this name and makes it smoke's rollback webhook. */
  readonly rollbackReceiver?: string;
  /** Synthetic-monitoring schedules for smoke's config. */
  readonly schedules?: readonly DemoSchedule[];
  /** smoke's `runs.concurrency`. Default 2. */
  readonly runConcurrency?: number;
}

export interface RollbackReceiver {
  readonly name: string;
  readonly receiver: Receiver;
}

export interface Stack {
  readonly dir: string;
  readonly configFile: string;
  readonly smokeUrl: string;
  readonly smokeLog: string;
  readonly production: Shop;
  readonly canary: Shop;
  readonly rollback: RollbackReceiver | undefined;
  readonly schedules: readonly DemoSchedule[];
  /** Stops the service, then the shops and the receiver. */
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

/** Shops first, then the service; whatever started is stopped again if a later step fails. */
export async function startStack(dir: string, signal?: AbortSignal, options: StackOptions = {}): Promise<Stack> {
  const started: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of [...started].reverse()) await stopOne();
  };
  try {
    let rollback: RollbackReceiver | undefined;
    const secret = newWebhookSecret();
    if (options.rollbackReceiver) {
      const receiver = await startReceiver(secret);
      rollback = { name: options.rollbackReceiver, receiver };
      started.push(() => receiver.close());
    }
    const production = await startShop('production', dir, 'none', signal);
    started.push(production.process.stop);
    const canary = await startShop('canary', dir, 'none', signal);
    started.push(canary.process.stop);

    const port = await freePort();
    const schedules = options.schedules ?? [];
    const configFile = writeSmokeConfig(dir, {
      port,
      production: production.url,
      canary: canary.url,
      ...(options.runConcurrency !== undefined && { runConcurrency: options.runConcurrency }),
      webhooks: rollback ? [{ name: rollback.name, url: rollback.receiver.url, secret }] : [],
      schedules,
    });
    const smokeLog = path.join(dir, 'smoke.log');
    // Warnings only: the demo's own output is the story; the log file has the rest.
    const smoke = startProcess('smoke', 'server/main.ts', ['--config', configFile], smokeLog, { LOG_LEVEL: 'warn' });
    started.push(smoke.stop);
    const smokeUrl = `http://127.0.0.1:${port}`;
    await waitForReady(smokeUrl, smoke, signal);
    return { dir, configFile, smokeUrl, smokeLog, production, canary, rollback, schedules, stop };
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

/**
 * Calls `probe` every poll interval until it returns a value or `timeoutMs`
 * has passed; undefined on timeout. Errors of `probe` propagate.
 */
export async function poll<T>(timeoutMs: number, signal: AbortSignal | undefined, probe: () => T | undefined | Promise<T | undefined>): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() >= deadline) return undefined;
    await sleep(POLL_MS, undefined, signal ? { signal } : {});
  }
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
