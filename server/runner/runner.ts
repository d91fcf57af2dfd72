import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { EnvironmentConfig, SuiteConfig } from '../config/config.ts';
import { describeError } from '../errors.ts';
import type { AttemptCounts, AttemptKind, FlowResult, RunnerOutcome } from '../verdict/types.ts';
import { AttemptLog, attemptKind, AttemptTally } from './attempts.ts';
import { isInside, settleBlob } from './blob.ts';
import { launchOptionsFor, type BrowserChoice } from './browser.ts';
import { killMarkedProcesses, killMarkedProcessesAndWait, RUN_MARK_VAR } from './processes.ts';
import { DESCRIPTION_FD, REPORT_FD, type ReporterMessage, type RunDescription, type TestRef } from './protocol.ts';
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
  /** Where Playwright's blob report of this invocation goes (see blob.ts), kept whole and scrubbed; none when absent. */
  readonly blobFile?: string;
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
  /**
   * Keep one runner process started ahead of the next run (`runs.warmRunner`):
   * Node, Playwright and the team's config already loaded, waiting for its
   * run description. Only whole-suite invocations use it; a baseline check of
   * named flows starts its own.
   */
  readonly startAhead?: boolean;
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

/** The real runner, which may keep a runner process started ahead of the next run. */
export interface PlaywrightRunner extends Runner {
  /** Stops the process started ahead, if any. Call after the last run has ended. */
  close(): Promise<void>;
}

/** A runner process spawned, its temp folder and generated config beside it. */
interface Started {
  readonly child: ChildProcess;
  readonly tmpDir: string;
  readonly wrapper: string;
  /** Resolves once it has exited and its output is read (or could not be spawned at all). */
  readonly exited: Promise<Exit>;
  /** True once it has exited or failed to spawn. */
  gone(): boolean;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly spawnError?: Error;
}

/** The mark (and temp folder) under which runners started ahead of their run live, one subfolder each. */
export function aheadMark(tmpRoot: string): string {
  return path.join(tmpRoot, 'ahead');
}

/** Runs the real Playwright Test runner as a child process, one invocation per run. */
export function createRunner(deps: RunnerDeps): PlaywrightRunner {
  const cli = resolvePlaywrightCli(deps.suite);
  const reporterPath = siblingModule('stream-reporter');
  let ahead: Started | undefined;
  let aheadCount = 0;
  let closed = false;

  /** Starts the next run's process now, unless one is waiting already; a failure only means the next run starts its own. */
  function startAhead(): void {
    if (!deps.startAhead || closed || ahead) return;
    try {
      aheadCount += 1;
      const started = start(deps, cli, `ahead-${aheadCount}`, path.join(aheadMark(deps.tmpRoot), String(aheadCount)));
      ahead = started;
      // It died waiting (the team's config threw, someone killed it): the next run starts its own and says why.
      const forget = () => {
        if (ahead !== started) return;
        ahead = undefined;
        discard(started);
      };
      started.child.once('exit', forget).once('error', forget);
    } catch {
      // A read-only suite folder or a full disk: the run that needs it reports it.
    }
  }

  /** The process started ahead, if it is still waiting. */
  function takeAhead(): Started | undefined {
    const taken = ahead;
    ahead = undefined;
    return taken && !taken.gone() ? taken : undefined;
  }

  return {
    async run(request) {
      const started = request.tests === undefined ? takeAhead() : undefined;
      try {
        return await runOnce(deps, cli, reporterPath, request, started);
      } finally {
        // After the run, not during it: starting Node and Playwright costs a core the run's browsers need.
        startAhead();
      }
    },
    async close() {
      closed = true;
      const waiting = takeAhead();
      if (waiting) await abandon(waiting);
    },
    sweep() {
      const killed = killMarkedProcesses(deps.tmpRoot);
      try {
        // Retried: a browser killed just now may still be flushing its profile (ENOTEMPTY).
        rmSync(deps.tmpRoot, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      } catch {
        // Left for the next start: a stale temp folder must not stop this one.
      }
      removeStaleWrappers(deps.suite, instanceTag(deps.tmpRoot));
      startAhead();
      return killed;
    },
  };
}

/**
 * Prepares an invocation's temp folder and generated config and spawns the
 * runner on them. The runner loads the team's config, then waits for its run
 * description on a pipe (see wrapper-config.ts), so it can be spawned before
 * its run is known. Throws, leaving nothing behind, when it cannot prepare.
 */
function start(deps: RunnerDeps, cli: string, id: string, tmpDir: string, tests?: readonly TestRef[]): Started {
  const wrapper = wrapperPath(deps.suite, tmpDir, `${instanceTag(deps.tmpRoot)}-${id}`);
  const testList = path.join(tmpDir, 'tests.txt');
  try {
    mkdirSync(tmpDir, { recursive: true });
    writeFileSync(wrapper, wrapperConfigSource(deps.suite.kind === 'config' ? deps.suite.path : undefined));
    if (tests) writeFileSync(testList, testListSource(tests));
  } catch (err) {
    // Nothing started yet: leave nothing behind either (a read-only suite folder, a full disk).
    try {
      discard({ tmpDir, wrapper });
    } catch {
      // The next start's sweep removes it; the cause worth reporting is the one above.
    }
    throw new Error(`could not prepare the run (temp folder ${tmpDir}, generated config ${wrapper})`, { cause: err });
  }
  const args = [cli, 'test', '--config', wrapper, ...(tests ? ['--test-list', testList] : [])];
  const child = spawn(process.execPath, args, {
    cwd: path.dirname(wrapper),
    env: {
      ...withoutBlobOverrides(process.env),
      [RUN_MARK_VAR]: tmpDir,
      TMPDIR: tmpDir,
      FORCE_COLOR: '0',
      // The team's config may read CI to pick retries or reporters; the service decides those.
      CI: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    // Its own process group, so a stop reaches its workers too.
    detached: true,
  });
  let gone = false;
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (err) => {
      gone = true;
      resolve({ code: null, signal: null, spawnError: err });
    });
    child.once('exit', () => (gone = true));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, tmpDir, wrapper, exited, gone: () => gone };
}

/** Writes the run description to a started runner; false when it can no longer read it (it has exited). */
function handOver(started: Started, description: RunDescription): Promise<boolean> {
  const pipe = started.child.stdio[DESCRIPTION_FD] as Writable | null;
  if (!pipe || started.gone()) return Promise.resolve(false);
  return new Promise((resolve) => {
    pipe.once('error', () => resolve(false));
    pipe.end(JSON.stringify(description), (err?: Error | null) => resolve(!err));
  });
}

/** Kills a started runner that will get no run, and removes what it was given. */
async function abandon(started: Started): Promise<void> {
  signalGroup(started.child.pid, 'SIGKILL');
  await killMarkedProcessesAndWait(started.tmpDir, LEFTOVER_EXIT_WAIT_MS);
  discard(started);
}

/** Removes an invocation's generated config and temp folder. */
function discard(started: Pick<Started, 'tmpDir' | 'wrapper'>): void {
  rmSync(started.wrapper, { force: true });
  // Retried: a browser that just died may still be flushing its profile (ENOTEMPTY).
  rmSync(started.tmpDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

async function runOnce(deps: RunnerDeps, cli: string, reporterPath: string, request: RunRequest, ahead: Started | undefined): Promise<RunReport> {
  const { runId, logger } = request;
  const wsEndpoint = await deps.warmBrowser?.endpoint().catch((err: unknown) => {
    logger.warn({ err: describeError(err) }, 'the warm browser is unavailable: this run launches its own');
    return undefined;
  });
  try {
    mkdirSync(request.outputDir, { recursive: true });
  } catch (err) {
    if (ahead) await abandon(ahead);
    throw new Error(`could not prepare the run (output folder ${request.outputDir})`, { cause: err });
  }
  let started: Started;
  try {
    started = ahead ?? start(deps, cli, runId, path.join(deps.tmpRoot, runId), request.tests);
  } catch (err) {
    removeIfEmpty(request.outputDir);
    throw err;
  }

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
    ...(request.blobFile !== undefined && { blobFile: request.blobFile }),
    globalTimeoutMs: request.deadlineMs + GLOBAL_TIMEOUT_SLACK_MS,
    launchOptions: launchOptionsFor(deps.browser),
    ...(deps.suite.kind === 'directory' && { testDir: deps.suite.path }),
    ...(wsEndpoint !== undefined && { connectWsEndpoint: wsEndpoint }),
  };

  // From here the run is the runner's: what it spent starting ahead is not the run's time.
  const spawnedAt = Date.now();
  if (!(await handOver(started, description)) && ahead) {
    // The one started ahead died just now, before its death was noticed: start afresh, as without it.
    logger.info({ pid: started.child.pid }, 'the runner started ahead had exited; starting a new one');
    await abandon(started);
    try {
      started = start(deps, cli, runId, path.join(deps.tmpRoot, runId), request.tests);
    } catch (err) {
      removeIfEmpty(request.outputDir);
      throw err;
    }
    await handOver(started, description);
  } else if (ahead) logger.debug({ pid: started.child.pid }, 'using the runner started ahead');
  const { child, tmpDir, wrapper } = started;

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
    const result = await scrubResult(scrubber, raw, request.artifactRoot ?? request.outputDir).catch((err: unknown) => {
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
      // Once the run is being stopped, an attempt that ends unpassed was cut short, whatever its error says.
      const seen = attemptKind(message);
      const kind = seen && seen !== 'passed' && stopped ? 'interrupted' : seen;
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

  const exit = await started.exited;
  await reportsDone;
  await published;
  clearTimeout(deadline);
  clearTimeout(killTimer);
  request.signal.removeEventListener('abort', onAbort);

  const leftovers = await killMarkedProcessesAndWait(tmpDir, LEFTOVER_EXIT_WAIT_MS);
  if (leftovers > 0) logger.warn({ leftovers }, 'killed processes the runner left behind');
  if (request.blobFile) await settleBlob(request.blobFile, scrubber, logger, isInside(request.outputDir, request.blobFile));
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
async function scrubResult(scrubber: Scrubber, result: FlowResult, artifactRoot: string): Promise<FlowResult> {
  for (const artifact of result.artifacts) {
    await scrubber.file(path.join(artifactRoot, ...artifact.path.split('/'))).catch((err: NodeJS.ErrnoException) => {
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
  exit: Exit,
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

/** The environment without Playwright's blob variables, which would override where the run's blob goes. */
function withoutBlobOverrides(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('PLAYWRIGHT_BLOB_')));
}

/** The team's own @playwright/test when it has one: two copies in one run refuse to load. */
export function resolvePlaywrightCli(suite: SuiteConfig): string {
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
