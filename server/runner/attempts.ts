import path from 'node:path';
import type { Artifact, FlowOutcome, FlowResult } from '../verdict/types.ts';
import type { TestAttemptMessage } from './protocol.ts';

/**
 * Errors that say the browser or the runner broke rather than the page under
 * test: the flow could not be run, which is the service's problem to fix and
 * never evidence against a deploy.
 */
const INFRASTRUCTURE_ERRORS = [
  /browserType\.launch/i,
  /Executable doesn't exist/i,
  /Browser closed unexpectedly/i,
  /Target crashed/i,
  /worker process exited unexpectedly/i,
  /Failed to launch/i,
];

/** Folds the attempts of one flow in one environment into its result, once the last attempt is in. */
export class AttemptLog {
  readonly #attempts = new Map<string, TestAttemptMessage[]>();

  constructor(private readonly outputDir: string) {}

  /** Records an attempt; returns the flow's result when it was the final one. */
  add(message: TestAttemptMessage): FlowResult | undefined {
    const key = `${message.environment}\u0000${message.flow}`;
    const attempts = [...(this.#attempts.get(key) ?? []), message];
    this.#attempts.set(key, attempts);
    if (!message.final) return undefined;
    this.#attempts.delete(key);
    return this.#fold(attempts, message);
  }

  #fold(attempts: TestAttemptMessage[], last: TestAttemptMessage): FlowResult {
    const lastFailure = [...attempts].reverse().find((a) => a.error !== undefined || a.attachments.length > 0);
    const error = lastFailure?.error;
    return {
      environment: last.environment,
      flow: last.flow,
      file: last.file,
      line: last.line,
      outcome: outcomeOf(last, error),
      durationMs: attempts.reduce((sum, a) => sum + a.durationMs, 0),
      retries: last.attempt,
      ...(error !== undefined && { error }),
      artifacts: (lastFailure?.attachments ?? []).flatMap((a) => this.#artifact(a)),
    };
  }

  #artifact(attachment: TestAttemptMessage['attachments'][number]): Artifact[] {
    const relative = path.relative(this.outputDir, attachment.path);
    // Only what Playwright wrote into this run's folder is served; anything else could be any file.
    if (relative.startsWith('..') || path.isAbsolute(relative)) return [];
    return [{ name: attachment.name, contentType: attachment.contentType, path: relative.split(path.sep).join('/') }];
  }
}

function outcomeOf(last: TestAttemptMessage, error: string | undefined): FlowOutcome {
  if (last.status === 'interrupted') return 'error';
  switch (last.outcome) {
    case 'expected':
      return last.status === 'skipped' ? 'skipped' : 'passed';
    case 'flaky':
      return 'flaky';
    case 'skipped':
      return 'skipped';
    default:
      return error !== undefined && INFRASTRUCTURE_ERRORS.some((re) => re.test(error)) ? 'error' : 'failed';
  }
}
