import net from 'node:net';
import path from 'node:path';
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestError, TestResult } from '@playwright/test/reporter';
import { REPORT_FD, type ReporterMessage } from './protocol.ts';

/** Longest error text sent per attempt: a stack trace with a call log can run to megabytes. */
const MAX_ERROR_CHARS = 4_000;
/** How often the reporter checks that the service that started it is still alive. */
const PARENT_CHECK_MS = 1_000;
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

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

  onBegin(_config: FullConfig, suite: Suite): void {
    this.#send({ type: 'begin', tests: suite.allTests().length });
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    const project = test.parent.project();
    const environment = String(project?.metadata?.smokeEnvironment ?? project?.name ?? '');
    const userProject = project?.metadata?.smokeUserProject as string | undefined;
    const testDir = project?.testDir ?? process.cwd();
    const file = path.relative(testDir, test.location.file).split(path.sep).join('/');
    // titlePath(): ['', project, file, ...describes, title]
    const titles = test.titlePath().slice(3);
    const flow = [userProject ? `[${userProject}] ${file}` : file, ...titles].join(' › ');
    const failedAttempt = result.status !== 'passed' && result.status !== 'skipped';
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
      attachments: failedAttempt
        ? result.attachments
            .filter((a): a is typeof a & { path: string } => typeof a.path === 'string')
            .map((a) => ({ name: a.name, contentType: a.contentType, path: a.path }))
        : [],
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

function formatErrors(errors: readonly TestError[]): string {
  const text = errors
    .map((e) => (e.message ?? e.value ?? 'unknown error').replace(ANSI, ''))
    .join('\n\n')
    .trim();
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}\n…(truncated)` : text;
}
