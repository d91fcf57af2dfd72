import net from 'node:net';
import path from 'node:path';
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestError, TestResult, TestStep } from '@playwright/test/reporter';
import { BROWSER_FIXTURES, infrastructureFault, stripAnsi } from './faults.ts';
import { REPORT_FD, type ReporterMessage } from './protocol.ts';

/** Longest error text sent per attempt: a stack trace with a call log can run to megabytes. */
const MAX_ERROR_CHARS = 4_000;
/** How often the reporter checks that the service that started it is still alive. */
const PARENT_CHECK_MS = 1_000;

/**
 * Loaded by the Playwright runner that the service spawns (never by the
 * service itself). Streams every test attempt back as it ends, so the service
 * records results while the run goes on; and stops the run when the service
 * has gone away (killed with -9), so no browser outlives it.
 */
export default class StreamReporter implements Reporter {
  readonly #out = new net.Socket({ fd: REPORT_FD, readable: false, writable: true });
  readonly #parent = process.ppid;
  readonly #watch: NodeJS.Timeout;
  #stopping = false;
  /** Where Playwright's `--test-list` paths start: the config's top-level testDir, else its folder. */
  #rootDir = process.cwd();

  constructor() {
    this.#out.on('error', () => this.#stop());
    this.#watch = setInterval(() => {
      if (process.ppid !== this.#parent) this.#stop();
    }, PARENT_CHECK_MS);
    this.#watch.unref();
  }

  printsToStdio(): boolean {
    return false;
  }

  onBegin(config: FullConfig, suite: Suite): void {
    this.#rootDir = config.rootDir;
    this.#send({ type: 'begin', tests: suite.allTests().length });
  }

  onTestBegin(test: TestCase): void {
    this.#send({ type: 'testBegin', environment: environmentOf(test) });
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    const project = test.parent.project();
    const environment = environmentOf(test);
    const userProject = project?.metadata?.smokeUserProject as string | undefined;
    const testDir = project?.testDir ?? process.cwd();
    const file = path.relative(testDir, test.location.file).split(path.sep).join('/');
    // titlePath(): ['', project, file, ...describes, title]
    const titles = test.titlePath().slice(3);
    const flow = [userProject ? `[${userProject}] ${file}` : file, ...titles].join(' › ');
    const failedAttempt = result.status !== 'passed' && result.status !== 'skipped';
    const fault = failedAttempt ? resultFault(result) : undefined;
    const browserStep = findStep(result.steps, (step) => step.category === 'fixture' && step.title === 'Fixture "browser"');
    const final =
      result.status === test.expectedStatus ||
      result.status === 'skipped' ||
      result.status === 'interrupted' ||
      result.retry >= test.retries;
    this.#send({
      type: 'test',
      environment,
      flow,
      file,
      line: test.location.line,
      attempt: result.retry,
      status: result.status,
      durationMs: result.duration,
      final,
      ...(final && { outcome: test.outcome() }),
      ...(failedAttempt && { error: formatErrors(result.errors) }),
      ...(fault !== undefined && { fault }),
      attachments: failedAttempt
        ? result.attachments
            .filter((a): a is typeof a & { path: string } => typeof a.path === 'string')
            .map((a) => ({ name: a.name, contentType: a.contentType, path: a.path }))
        : [],
      test: { file: path.relative(this.#rootDir, test.location.file).split(path.sep).join('/'), titles },
      ...(browserStep && { browserMs: browserStep.duration }),
    });
  }

  onError(error: TestError): void {
    this.#send({ type: 'error', message: formatErrors([error]) });
  }

  async onEnd(result: FullResult): Promise<void> {
    this.#send({ type: 'end', status: result.status });
    clearInterval(this.#watch);
    await new Promise<void>((resolve) => this.#out.end(resolve));
  }

  #send(message: ReporterMessage): void {
    if (!this.#out.destroyed) this.#out.write(`${JSON.stringify(message)}\n`);
  }

  /** The service is gone: interrupt the run the way Ctrl-C would, so workers close their browsers. */
  #stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#watch);
    process.kill(process.pid, 'SIGINT');
  }
}

function environmentOf(test: TestCase): string {
  const project = test.parent.project();
  return String(project?.metadata?.smokeEnvironment ?? project?.name ?? '');
}

function formatErrors(errors: readonly TestError[]): string {
  const text = errors
    .map((e) => textOf(e) || 'unknown error')
    .join('\n\n')
    .trim();
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}\n…(truncated)` : text;
}

const BROWSER_FIXTURE_STEP = new RegExp(`^Fixture "(${BROWSER_FIXTURES.join('|')})"$`);

/**
 * Why a failed attempt is the browser's or the runner's fault rather than the
 * page's, from what only the runner sees: how the attempt ended, where its
 * errors came from, which step failed. Then from the full error texts, before
 * they are cut short for sending.
 */
export function resultFault(result: Pick<TestResult, 'status' | 'errors' | 'steps'>): string | undefined {
  if (result.status === 'interrupted') return 'the run was interrupted before the flow finished';
  // The runner fails an attempt with a bare message, no stack, only for its
  // own reasons (the worker exited, the worker lost the test): nothing the
  // flow ran threw it.
  const runnerMade = result.errors.find((e) => e.message !== undefined && e.stack === undefined && e.value === undefined && e.location === undefined);
  if (runnerMade) return infrastructureFault(textOf(runnerMade)) ?? `the test runner ended the attempt: ${firstLine(textOf(runnerMade))}`;
  // Launching the browser or opening its context or page failed or hung: the test body never had a page to judge.
  const fixture = failedStep(result.steps, (step) => step.category === 'fixture' && BROWSER_FIXTURE_STEP.test(step.title));
  if (fixture?.error) return `the ${fixture.title.toLowerCase()} failed: ${firstLine(textOf(fixture.error))}`;
  for (const error of result.errors.flatMap(withCauses)) {
    const fault = infrastructureFault(textOf(error));
    if (fault !== undefined) return fault;
  }
  return undefined;
}

function textOf(error: TestError): string {
  return stripAnsi(error.message ?? error.value ?? '');
}

/** Bounded, for a reason that is read in a list. */
function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 200);
}

function failedStep(steps: readonly TestStep[], matches: (step: TestStep) => boolean): TestStep | undefined {
  return findStep(steps, (step) => step.error !== undefined && matches(step));
}

function findStep(steps: readonly TestStep[], matches: (step: TestStep) => boolean): TestStep | undefined {
  for (const step of steps) {
    if (matches(step)) return step;
    const inner = findStep(step.steps, matches);
    if (inner) return inner;
  }
  return undefined;
}

function withCauses(error: TestError): TestError[] {
  return error.cause ? [error, ...withCauses(error.cause)] : [error];
}
