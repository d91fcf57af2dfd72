import path from 'node:path';
import type { Artifact, AttemptCounts, AttemptKind, FlowOutcome, FlowResult } from '../verdict/types.ts';
import { infrastructureFault } from './faults.ts';
import type { TestAttemptMessage } from './protocol.ts';

/** Longest error text kept for a tainted flow, which quotes more than one attempt. */
const MAX_TAINTED_ERROR_CHARS = 8_000;

/**
 * Why this attempt says nothing about the page, or undefined when it failed
 * on the page (or did not fail). The reporter's verdict comes first: it saw
 * the attempt's structure (steps, fixtures, how the worker ended), not only
 * its text.
 */
export function attemptFault(attempt: TestAttemptMessage): string | undefined {
  if (attempt.status === 'passed' || attempt.status === 'skipped') return undefined;
  if (attempt.fault !== undefined) return attempt.fault;
  if (attempt.status === 'interrupted') return 'the run was interrupted before the flow finished';
  return attempt.error === undefined ? undefined : infrastructureFault(attempt.error);
}

/** How an attempt ended, for counting browser work; undefined for a skipped one, which ran no browser. */
export function attemptKind(attempt: TestAttemptMessage): AttemptKind | undefined {
  switch (attempt.status) {
    case 'passed':
      return 'passed';
    case 'skipped':
      return undefined;
    case 'interrupted':
      return 'interrupted';
    default:
      return attemptFault(attempt) === undefined ? 'failed' : 'error';
  }
}

/** Counts attempts per environment and kind. */
export class AttemptTally {
  readonly #counts = new Map<string, Record<AttemptKind, number>>();

  add(environment: string, kind: AttemptKind, n = 1): void {
    let counts = this.#counts.get(environment);
    if (!counts) this.#counts.set(environment, (counts = { passed: 0, failed: 0, error: 0, interrupted: 0 }));
    counts[kind] += n;
  }

  addAll(other: AttemptCounts): void {
    for (const [environment, counts] of Object.entries(other)) {
      for (const [kind, n] of Object.entries(counts) as [AttemptKind, number][]) this.add(environment, kind, n);
    }
  }

  counts(): AttemptCounts {
    return Object.fromEntries([...this.#counts].map(([env, counts]) => [env, { ...counts }]));
  }
}

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
    // One attempt the browser or runner broke taints the flow: its other
    // failures may be that fault's after-effects, so none of it is evidence.
    const faulty = [...attempts].reverse().find((a) => attemptFault(a) !== undefined);
    const outcome = outcomeOf(last, faulty !== undefined);
    const fault = outcome === 'error' && faulty ? attemptFault(faulty) : undefined;
    const error = fault !== undefined && faulty ? taintedError(faulty, fault, attempts) : lastFailure?.error;
    return {
      environment: last.environment,
      flow: last.flow,
      file: last.file,
      line: last.line,
      outcome,
      durationMs: attempts.reduce((sum, a) => sum + a.durationMs, 0),
      retries: last.attempt,
      ...(error !== undefined && { error }),
      ...(fault !== undefined && { fault }),
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

function outcomeOf(last: TestAttemptMessage, tainted: boolean): FlowOutcome {
  // Playwright counts an interrupted attempt as skipped; for us the flow did not run.
  if (last.status === 'interrupted') return 'error';
  switch (last.outcome) {
    case 'expected':
      return last.status === 'skipped' ? 'skipped' : 'passed';
    case 'flaky':
      return 'flaky';
    case 'skipped':
      return 'skipped';
    default:
      return tainted ? 'error' : 'failed';
  }
}

/**
 * The fault's own error first, then every other attempt's error that says
 * something else, so a human sees what the page did too.
 */
function taintedError(faulty: TestAttemptMessage, fault: string, attempts: readonly TestAttemptMessage[]): string {
  const head = faulty.error ?? `no error message (${fault})`;
  const shown = new Set([headline(head)]);
  const parts = [head];
  for (const attempt of attempts) {
    if (attempt === faulty || attempt.error === undefined || shown.has(headline(attempt.error))) continue;
    shown.add(headline(attempt.error));
    const why = attemptFault(attempt);
    parts.push(`Attempt ${attempt.attempt + 1} ${why === undefined ? 'failed on the page' : `also died (${why})`}:\n${attempt.error}`);
  }
  const text = parts.join('\n\n');
  return text.length > MAX_TAINTED_ERROR_CHARS ? `${text.slice(0, MAX_TAINTED_ERROR_CHARS)}\n…(truncated)` : text;
}

/** An error without its call log, which differs from attempt to attempt for the same failure. */
function headline(error: string): string {
  return error.split(/\n\s*Call log:/)[0]!.trim();
}
