import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import type { Logger } from 'pino';
import type { SuiteConfig } from '../config/config.ts';
import { describeError } from '../errors.ts';
import { launchOptionsFor, type BrowserChoice } from './browser.ts';
import { killMarkedProcessesAndWait, RUN_MARK_VAR } from './processes.ts';
import type { WarmBrowserSource } from './runner.ts';

/** Longest wait for the browser server to come up; Playwright's own default is 3 minutes, a run cannot wait that long. */
const LAUNCH_TIMEOUT_MS = 30_000;
/** Longest wait for a graceful close at shutdown before everything carrying the mark is killed. */
const CLOSE_TIMEOUT_MS = 5_000;
/** Bytes of the server process's stderr kept to explain a failed launch. */
const STDERR_TAIL_BYTES = 4 * 1024;

/**
 * The browser server, run in a Node process of its own rather than in the
 * service: every protocol message, screenshot and trace snapshot of every
 * worker passes through the process holding the server, and the service's
 * event loop must stay free for its API and its runs. It prints its endpoint,
 * exits when its browser closes, and closes its browser when told to or when
 * its stdin ends (the service is gone, even by kill -9).
 * Arguments: the playwright-core entry to load, the launch options as JSON.
 */
const SERVER_SCRIPT = `
const { chromium } = require(process.argv[1]);
chromium.launchServer(JSON.parse(process.argv[2])).then((server) => {
  let closing = false;
  const shut = () => {
    if (closing) return;
    closing = true;
    server.close().finally(() => process.exit(0));
  };
  server.on('close', () => process.exit(0));
  process.on('SIGTERM', shut);
  process.stdin.on('end', shut);
  process.stdin.resume();
  process.stdout.write(JSON.stringify({ wsEndpoint: server.wsEndpoint(), pid: server.process().pid }) + '\\n');
}, (err) => {
  process.stderr.write(String((err && err.message) || err));
  process.exit(1);
});
`;

/** A Chromium browser server the service keeps running between runs (`runs.warmBrowser`). */
export interface WarmBrowser extends WarmBrowserSource {
  /** Closes the browser for good; `endpoint()` answers undefined from then on. */
  close(): Promise<void>;
}

export interface WarmBrowserDeps {
  readonly browser: BrowserChoice;
  /** The suite whose Playwright will connect: the server must come from the same playwright-core. */
  readonly suite: SuiteConfig;
  /** The runner's temp root: the browser's mark and temp folder live under it, so `runner.sweep()` finds what a crash left. */
  readonly tmpRoot: string;
  readonly logger: Logger;
}

/** The mark (`RUN_MARK_VAR`) every process of the warm browser carries. */
export function warmBrowserMark(tmpRoot: string): string {
  return path.join(tmpRoot, 'warm-browser');
}

interface Launched {
  readonly child: ChildProcess;
  readonly wsEndpoint: string;
}

/**
 * Launches one browser server on first use, shares it between runs, and
 * launches a new one once it has closed or crashed. It never throws: when no
 * browser can be had, runs launch their own per worker, as without it.
 */
export function createWarmBrowser(deps: WarmBrowserDeps): WarmBrowser {
  const { logger } = deps;
  const mark = warmBrowserMark(deps.tmpRoot);
  let current: Launched | undefined;
  let launching: Promise<Launched | undefined> | undefined;
  let closed = false;

  async function launch(): Promise<Launched | undefined> {
    if (deps.browser.kind === 'missing') return undefined;
    const started = Date.now();
    try {
      const core = suitePlaywrightCore(deps.suite);
      mkdirSync(mark, { recursive: true });
      const options = {
        ...launchOptionsFor(deps.browser),
        headless: true,
        host: '127.0.0.1',
        timeout: LAUNCH_TIMEOUT_MS,
        // The server process handles its own ending (see SERVER_SCRIPT).
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        artifactsDir: path.join(mark, 'artifacts'),
      };
      const child = spawn(process.execPath, ['-e', SERVER_SCRIPT, core, JSON.stringify(options)], {
        // The mark outlives a kill -9 of the service: the next start's sweep kills this browser by it.
        env: { ...process.env, [RUN_MARK_VAR]: mark, TMPDIR: mark },
        stdio: ['pipe', 'pipe', 'pipe'],
        // Out of the service's process group: a Ctrl-C meant for the service must not kill the browser under its shutdown.
        detached: true,
      });
      const launched = await endpointOf(child);
      child.once('exit', (code, signal) => {
        if (current?.child !== child) return;
        current = undefined;
        if (!closed) logger.warn({ code, signal }, 'the warm browser exited; the next run launches a new one');
      });
      logger.info({ pid: launched.pid, launchMs: Date.now() - started }, 'warm browser launched');
      return { child, wsEndpoint: launched.wsEndpoint };
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'could not launch the warm browser: runs launch their own');
      // Whatever half-started (a browser still coming up when the wait ran out) must not linger.
      await killMarkedProcessesAndWait(mark, CLOSE_TIMEOUT_MS);
      return undefined;
    }
  }

  return {
    async endpoint() {
      if (closed) return undefined;
      if (current && running(current.child)) return current.wsEndpoint;
      launching ??= launch().then(async (launched) => {
        launching = undefined;
        if (launched && closed) {
          await shut(launched.child, mark);
          return undefined;
        }
        current = launched;
        return launched;
      });
      const launched = await launching;
      return launched && running(launched.child) ? launched.wsEndpoint : undefined;
    },
    async close() {
      closed = true;
      await launching;
      const launched = current;
      current = undefined;
      if (launched) await shut(launched.child, mark);
    },
  };
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** The endpoint the server process prints once its browser is up; rejects with its stderr when it exits first. */
async function endpointOf(child: ChildProcess): Promise<{ wsEndpoint: string; pid: number }> {
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
  });
  const lines = readline.createInterface({ input: child.stdout! });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      once(lines, 'line').then(([line]) => JSON.parse(line as string) as { wsEndpoint: string; pid: number }),
      once(child, 'exit').then(([code, signal]) => {
        throw new Error(`the browser server process exited (${signal ?? `code ${code}`}): ${stderr.trim().split('\n')[0] || 'no output'}`);
      }),
      once(child, 'error').then(([err]) => {
        throw new Error('could not start the browser server process', { cause: err });
      }),
      new Promise<never>((_, reject) => {
        // Beyond Playwright's own launch timeout: only a server process that hangs outright gets here.
        timer = setTimeout(() => reject(new Error(`the browser server did not come up within ${LAUNCH_TIMEOUT_MS + CLOSE_TIMEOUT_MS} ms`)), LAUNCH_TIMEOUT_MS + CLOSE_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    lines.close();
    // Anything it prints later is dropped, never left to fill the pipe.
    child.stdout!.resume();
  }
}

/** Asks the server process to close its browser; kills everything carrying the mark if it does not in time. */
async function shut(child: ChildProcess, mark: string): Promise<void> {
  if (running(child)) {
    const exited = once(child, 'exit');
    child.stdin!.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }
  await killMarkedProcessesAndWait(mark, CLOSE_TIMEOUT_MS);
}

/**
 * The playwright-core the suite's runner loads (the team's own
 * `@playwright/test` when it has one, as the runner resolves it): a client
 * refuses to connect to a server of another version.
 */
function suitePlaywrightCore(suite: SuiteConfig): string {
  const from = path.join(suite.kind === 'directory' ? suite.path : path.dirname(suite.path), 'package.json');
  let testPackage: string;
  try {
    testPackage = createRequire(from).resolve('@playwright/test/package.json');
  } catch {
    testPackage = createRequire(import.meta.url).resolve('@playwright/test/package.json');
  }
  const playwrightPackage = createRequire(testPackage).resolve('playwright/package.json');
  const coreVersion = versionOf(createRequire(playwrightPackage).resolve('playwright-core/package.json'));
  const testVersion = versionOf(testPackage);
  if (coreVersion !== testVersion) {
    throw new Error(`the suite's @playwright/test ${testVersion} (${testPackage}) would load playwright-core ${coreVersion}`);
  }
  return createRequire(playwrightPackage).resolve('playwright-core');
}

function versionOf(packageJson: string): string {
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
}
