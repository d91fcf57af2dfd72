import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { EnvironmentConfig, SuiteConfig } from '../config/config.ts';
import { describeError } from '../errors.ts';
import type { AttemptCounts, AttemptKind, FlowResult, RunnerOutcome } from '../verdict/types.ts';
import { AttemptLog, attemptKind, AttemptTally } from './attempts.ts';
import { launchOptionsFor, type BrowserChoice } from './browser.ts';
import { killMarkedProcesses, killMarkedProcessesAndWait, RUN_MARK_VAR } from './processes.ts';
import { REPORT_FD, RUN_ENV_VAR, type ReporterMessage, type RunDescription, type TestRef } from './protocol.ts';
import { Scrubber } from './scrub.ts';
import { wrapperConfigSource } from './wrapper-config.ts';

/** Bytes of the runner's stdout/stderr kept for diagnostics; the rest is dropped. */
const OUTPUT_TAIL_BYTES = 16 * 1024;
/** Longest wait for leftover processes of a run to exit after SIGKILL, before their temp folder is removed. */
const LEFTOVER_EXIT_WAIT_MS = 5_000;
/** Extra time Playwright's own globalTimeout allows beyond ours: it only matters if we are gone. */
const GLOBAL_TIMEOUT_SLACK_MS = 30_000;

export interface RunRequest {
  /** Names this invocation's temp folder and generated config; unique among invocations running at once. */
  readonly runId: string;
  /** The environments to run side by side, first the target. */
  readonly environments: readonly EnvironmentConfig[];
  /** Where Playwright writes screenshots and traces; kept only when something failed. */
  readonly outputDir: string;
  readonly deadlineMs: number;
  /** Aborting cancels the run (superseded, shutting down); its reason is recorded. */
  readonly signal: AbortSignal;
  readonly grep?: string;
  /** Only these tests (Playwright's `--test-list`), where they also match the grep; every match when absent. */
  readonly tests?: readonly TestRef[];
  /** The folder artifact paths are relative to, when several invocations of one run share it; `outputDir` by default. */
  readonly artifactRoot?: string;
  readonly onResult?: (result: FlowResult) => void;
  /** Every browser attempt as it ends, before its flow's result (which waits for the flow's last attempt). */
  readonly onAttempt?: (attempt: AttemptSeen) => void;
  readonly logger: Logger;
}

export interface AttemptSeen {
  readonly environment: string;
  readonly flow: string;
  readonly test: TestRef;
  readonly kind: AttemptKind;
}

/** Where the runner's own time went, milliseconds; absent when the phase was not reached. */
export interface RunnerTimings {
  readonly runnerStartMs?: number;
  readonly workerStartMs?: number;
  readonly browserLaunchMs?: number;
}

export interface RunReport {
  readonly outcome: RunnerOutcome;
  readonly results: readonly FlowResult[];
  /** Errors outside any test and the tail of the runner's output, for a human. */
  readonly diagnostics: readonly string[];
  /** Browser attempts by environment and how they ended. */
  readonly attempts: AttemptCounts;
  readonly timings: RunnerTimings;
}

export interface RunnerDeps {
  readonly suite: SuiteConfig;
  readonly browser: BrowserChoice;
  readonly graceMs: number;
  /** Folder for per-run temp folders; everything under it belongs to this service. */
  readonly tmpRoot: string;
  /** A browser kept running by the service (`runs.warmBrowser`); absent: every worker launches its own. */
  readonly warmBrowser?: WarmBrowserSource;
}

/** A browser the service keeps running, for workers to connect to rather than launch their own. */
export interface WarmBrowserSource {
  /** Its WebSocket endpoint; undefined when it cannot be had now (the run's workers then launch their own). */
  endpoint(): Promise<string | undefined>;
}

export interface Runner {
  run(request: RunRequest): Promise<RunReport>;
  /** Kills processes and removes temp folders left by an earlier incarnation that died. */
  sweep(): number;
}

/** Runs the real Playwright Test runner as a child process, one invocation per run. */
export function createRunner(deps: RunnerDeps): Runner {
  const cli = resolvePlaywrightCli(deps.suite);
  const reporterPath = siblingModule('stream-reporter');
  return {
    run: (request) => runOnce(deps, cli, reporterPath, request),
    sweep() {
      const killed = killMarkedProcesses(deps.tmpRoot);
      try {
        // Retried: a browser killed just now may still be flushing its profile (ENOTEMPTY).
        rmSync(deps.tmpRoot, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      } catch {
        // Left for the next start: a stale temp folder must not stop this one.
      }
      removeStaleWrappers(deps.suite, instanceTag(deps.tmpRoot));
      return killed;
    },
  };
}

async function runOnce(deps: RunnerDeps, cli: string, reporterPath: string, request: RunRequest): Promise<RunReport> {
  const { runId, logger } = request;
  const tmpDir = path.join(deps.tmpRoot, runId);
  const wrapper = wrapperPath(deps.suite, tmpDir, `${instanceTag(deps.tmpRoot)}-${runId}`);
  const testList = path.join(tmpDir, 'tests.txt');
  try {
    mkdirSync(tmpDir, { recursive: true });
    mkdirSync(request.outputDir, { recursive: true });
    writeFileSync(wrapper, wrapperConfigSource(deps.suite.kind === 'config' ? deps.suite.path : undefined));
    if (request.tests) writeFileSync(testList, testListSource(request.tests));
  } catch (err) {
    // Nothing started yet: leave nothing behind either (a read-only suite folder, a full disk).
    try {
      cleanUp(wrapper, tmpDir, request.outputDir);
    } catch {
      // The next start's sweep removes it; the cause worth reporting is the one above.
    }
    throw new Error(`could not prepare the run (temp folder ${tmpDir}, generated config ${wrapper})`, { cause: err });
  }

  const wsEndpoint = await deps.warmBrowser?.endpoint().catch((err: unknown) => {
    logger.warn({ err: describeError(err) }, 'the warm browser is unavailable: this run launches its own');
    return undefined;
  });
  const description: RunDescription = {
    runId,
    environments: request.environments.map((env) => ({
      name: env.name,
      baseURL: env.baseURL,
      headers: Object.fromEntries(Object.entries(env.headers).map(([k, v]) => [k, v.reveal()])),
      ...(env.storageState !== undefined && { storageState: env.storageState }),
    })),
    grep: request.grep ?? deps.suite.grep,
    ...(deps.suite.grepInvert !== undefined && { grepInvert: deps.suite.grepInvert }),
    retries: deps.suite.retries,
    // The run's budget of browsers, split evenly so the canary and its
    // baseline run at the same time (at least one worker each). More workers
    // than cores only makes every flow slower: browsers are CPU-bound.
    workers: Math.max(deps.suite.workers, request.environments.length),
    workersPerProject: Math.max(1, Math.floor(deps.suite.workers / request.environments.length)),
    outputDir: request.outputDir,
    reporterPath,
    globalTimeoutMs: request.deadlineMs + GLOBAL_TIMEOUT_SLACK_MS,
    launchOptions: launchOptionsFor(deps.browser),
    ...(deps.suite.kind === 'directory' && { testDir: deps.suite.path }),
    ...(wsEndpoint !== undefined && { connectWsEndpoint: wsEndpoint }),
  };

  const spawnedAt = Date.now();
  const args = [cli, 'test', '--config', wrapper, ...(request.tests ? ['--test-list', testList] : [])];
  const child = spawn(process.execPath, args, {
    cwd: path.dirname(wrapper),
    env: {
      ...process.env,
      [RUN_ENV_VAR]: JSON.stringify(description),
      [RUN_MARK_VAR]: tmpDir,
      TMPDIR: tmpDir,
      FORCE_COLOR: '0',
      // The team's config may read CI to pick retries or reporters; the service decides those.
      CI: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    // Its own process group, so a stop reaches its workers too.
    detached: true,
  });

  // The header values go to the browser, nowhere else: traces record request
  // headers, error texts and output may echo them.
  const scrubber = new Scrubber(request.environments.flatMap((env) => Object.values(env.headers).map((v) => v.reveal())));
  const attempts = new AttemptLog(request.artifactRoot ?? request.outputDir);
  const tally = new AttemptTally();
  const timings: { -readonly [K in keyof RunnerTimings]: RunnerTimings[K] } = {};
  let begunAt: number | undefined;
  const results: FlowResult[] = [];
  const runnerErrors: string[] = [];
  const publishErrors: string[] = [];
  // Results with artifacts are published (stored, hence served) while the run
  // goes on, so each is scrubbed before it is published, in arrival order.
  // That, rather than the API refusing artifacts of running runs, also holds
  // when the service dies mid-run: every file a stored result names is clean.
  let published = Promise.resolve();
  const publish = async (raw: FlowResult) => {
    const result = await scrubResult(scrubber, raw, request.outputDir).catch((err: unknown) => {
      publishErrors.push(`the artifacts of "${raw.flow}" on ${raw.environment} are withheld: ${describeError(err)}`);
      return { ...scrubFlowTexts(scrubber, raw), artifacts: [] };
    });
    results.push(result);
    try {
      request.onResult?.(result);
    } catch (err) {
      publishErrors.push(`recording the result of "${raw.flow}" on ${raw.environment} failed: ${describeError(err)}`);
    }
  };
  let endStatus: string | undefined;
  const stdout = tail(child.stdout);
  const stderr = tail(child.stderr);
  const reports = readline.createInterface({ input: child.stdio[REPORT_FD] as NodeJS.ReadableStream });
  const reportsDone = new Promise<void>((resolve) => reports.once('close', resolve));
  reports.on('line', (line) => {
    let message: ReporterMessage;
    try {
      message = JSON.parse(line) as ReporterMessage;
    } catch {
      runnerErrors.push(`unreadable report line: ${line.slice(0, 200)}`);
      return;
    }
    if (message.type === 'test') {
      const kind = attemptKind(message);
      if (kind) {
        tally.add(message.environment, kind);
        try {
          request.onAttempt?.({ environment: message.environment, flow: message.flow, test: message.test, kind });
        } catch (err) {
          publishErrors.push(`handling an attempt of "${message.flow}" on ${message.environment} failed: ${describeError(err)}`);
        }
      }
      if (message.browserMs !== undefined) timings.browserLaunchMs ??= Math.round(message.browserMs);
      const result = attempts.add(message);
      if (result) published = published.then(() => publish(result));
    } else if (message.type === 'begin') {
      begunAt = Date.now();
      timings.runnerStartMs = begunAt - spawnedAt;
    } else if (message.type === 'testBegin') {
      if (begunAt !== undefined) timings.workerStartMs ??= Date.now() - begunAt;
    } else if (message.type === 'error') runnerErrors.push(message.message);
    else if (message.type === 'end') endStatus = message.status;
  });

  let stopped: RunnerOutcome | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (why: RunnerOutcome) => {
    if (stopped || child.exitCode !== null) return;
    stopped = why;
    logger.info({ reason: why }, 'stopping runner');
    signalGroup(child.pid, 'SIGINT');
    killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), deps.graceMs);
  };
  const deadline = setTimeout(() => stop({ kind: 'deadline', seconds: Math.round(request.deadlineMs / 1000) }), request.deadlineMs);
  const onAbort = () => stop({ kind: 'cancelled', reason: describeError(request.signal.reason ?? 'cancelled') });
  if (request.signal.aborted) onAbort();
  else request.signal.addEventListener('abort', onAbort, { once: true });

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.once('error', (err) => resolve({ code: null, signal: null, spawnError: err }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  await reportsDone;
  await published;
  clearTimeout(deadline);
  clearTimeout(killTimer);
  request.signal.removeEventListener('abort', onAbort);

  const leftovers = await killMarkedProcessesAndWait(tmpDir, LEFTOVER_EXIT_WAIT_MS);
  if (leftovers > 0) logger.warn({ leftovers }, 'killed processes the runner left behind');
  // Files no result names (earlier attempts' traces) are never served, but
  // nothing with a secret stays on disk either.
  await scrubber.folder(request.outputDir).catch((err: unknown) => {
    logger.error({ err }, 'could not scrub the run artifacts; removing them');
    rmSync(request.outputDir, { recursive: true, force: true });
  });
  try {
    cleanUp(wrapper, tmpDir, request.outputDir);
  } catch (err) {
    // The results stand; what could not be removed goes at the next start's sweep.
    logger.warn({ err: describeError(err), tmpDir }, 'could not remove the run temp folder');
  }

  const errors = runnerErrors.map((e) => scrubber.text(e));
  const diagnostics = [...errors, ...publishErrors.map((e) => scrubber.text(e))];
  const errTail = scrubber.text(stderr().trim());
  if (errTail) diagnostics.push(`runner stderr (last ${OUTPUT_TAIL_BYTES} bytes):\n${errTail}`);
  const outTail = scrubber.text(stdout().trim());
  if (outTail) diagnostics.push(`runner stdout (last ${OUTPUT_TAIL_BYTES} bytes):\n${outTail}`);

  const outcome = stopped ?? classifyExit(exit, endStatus, errors, errTail);
  logger.debug({ exit: { code: exit.code, signal: exit.signal }, endStatus, outcome }, 'runner exited');
  return { outcome, results, diagnostics, attempts: tally.counts(), timings };
}

/**
 * Playwright's test-list format: the spec path as the reporter saw it, then
 * the titles, `›`-separated. A title that itself holds `›` (or a line break)
 * cannot be named, so its whole file is listed: a few extra flows, never a
 * missing one.
 */
function testListSource(tests: readonly TestRef[]): string {
  const lines = new Set<string>();
  for (const test of tests) {
    const file = test.file;
    const titles = test.titles.some((t) => t.includes('›') || t.includes('\n')) ? [] : test.titles;
    lines.add([file, ...titles].join(' › '));
  }
  return `${[...lines].join('\n')}\n`;
}

/** A result with its artifacts scrubbed on disk and its error text scrubbed. */
async function scrubResult(scrubber: Scrubber, result: FlowResult, outputDir: string): Promise<FlowResult> {
  for (const artifact of result.artifacts) {
    await scrubber.file(path.join(outputDir, ...artifact.path.split('/'))).catch((err: NodeJS.ErrnoException) => {
      // Gone already: the API answers 404 for it, nothing to leak.
      if (err.code !== 'ENOENT') throw err;
    });
  }
  return scrubFlowTexts(scrubber, result);
}

function scrubFlowTexts(scrubber: Scrubber, result: FlowResult): FlowResult {
  return {
    ...result,
    ...(result.error !== undefined && { error: scrubber.text(result.error) }),
    ...(result.fault !== undefined && { fault: scrubber.text(result.fault) }),
  };
}

/**
 * Playwright exits 1 when tests fail, which is the flows' business, not a
 * fault. A fault is a run that did not finish on its own terms: no end
 * report, an interrupted or timed-out end, errors outside any test.
 */
function classifyExit(
  exit: { code: number | null; signal: NodeJS.Signals | null; spawnError?: Error },
  endStatus: string | undefined,
  runnerErrors: string[],
  stderr: string,
): RunnerOutcome {
  if (exit.spawnError) return { kind: 'fault', reason: `could not start the Playwright runner: ${exit.spawnError.message}` };
  if (runnerErrors.length > 0) return { kind: 'fault', reason: `the suite reported errors outside any flow: ${firstLine(runnerErrors[0]!)}` };
  if (endStatus === undefined) {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const hint = firstLine(stderr.split('\n').find((l) => /error/i.test(l)) ?? stderr);
    return { kind: 'fault', reason: `the Playwright runner ${how} before finishing${hint ? `: ${hint}` : ''}` };
  }
  if (endStatus === 'interrupted' || endStatus === 'timedout') {
    return { kind: 'fault', reason: `the Playwright runner ended ${endStatus}` };
  }
  return { kind: 'completed' };
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

function tail(stream: NodeJS.ReadableStream | null): () => string {
  let kept = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    kept = (kept + chunk).slice(-OUTPUT_TAIL_BYTES);
  });
  // A cut first line may start halfway through a secret, which no scrubbing would recognise.
  return () => (kept.length < OUTPUT_TAIL_BYTES ? kept : kept.slice(kept.indexOf('\n') + 1));
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 300);
}

const WRAPPER_PREFIX = '.smoke-run-';

/**
 * Several services may share one suite folder (a demo beside a test run);
 * each removes only the leftovers its own earlier incarnation wrote, which
 * carry the name of its temp root.
 */
function instanceTag(tmpRoot: string): string {
  return path.basename(tmpRoot);
}

function wrapperPath(suite: SuiteConfig, tmpDir: string, runId: string): string {
  if (suite.kind === 'directory') return path.join(tmpDir, `${WRAPPER_PREFIX}${runId}.config.mjs`);
  const ext = path.extname(suite.path) || '.js';
  return path.join(path.dirname(suite.path), `${WRAPPER_PREFIX}${runId}.config${ext}`);
}

function removeStaleWrappers(suite: SuiteConfig, tag: string): void {
  if (suite.kind !== 'config') return;
  const dir = path.dirname(suite.path);
  const prefix = `${WRAPPER_PREFIX}${tag}-`;
  try {
    for (const name of readdirSync(dir)) if (name.startsWith(prefix)) rmSync(path.join(dir, name), { force: true });
  } catch {
    // The suite folder is missing: the first run will say so.
  }
}

function cleanUp(wrapper: string, tmpDir: string, outputDir: string): void {
  rmSync(wrapper, { force: true });
  // Retried: a browser that just died may still be flushing its profile (ENOTEMPTY).
  rmSync(tmpDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  removeIfEmpty(path.dirname(tmpDir));
  // Playwright's bookkeeping for --last-failed; means nothing to the service.
  rmSync(path.join(outputDir, '.last-run.json'), { force: true });
  removeIfEmpty(outputDir);
}

function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  } catch {
    // Never created, or another run is using it.
  }
}

/** The team's own @playwright/test when it has one: two copies in one run refuse to load. */
function resolvePlaywrightCli(suite: SuiteConfig): string {
  const from = suite.kind === 'directory' ? suite.path : path.dirname(suite.path);
  try {
    return createRequire(path.join(from, 'package.json')).resolve('@playwright/test/cli');
  } catch {
    return createRequire(import.meta.url).resolve('@playwright/test/cli');
  }
}

/** A module next to this one, in whatever form this one runs (TypeScript under tsx, JavaScript when built). */
function siblingModule(name: string): string {
  const self = fileURLToPath(import.meta.url);
  return path.join(path.dirname(self), `${name}${path.extname(self)}`);
}
