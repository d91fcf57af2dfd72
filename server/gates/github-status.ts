import type { DeploymentRecord } from '../verification/records.ts';
import type { Verdict } from '../verdict/types.ts';

/*
 * What smoke tells GitHub about a deployment it verifies, whichever kind of
 * status carries it (`github-status-kinds.ts` builds each kind's request),
 * and what one attempt at posting came to. Sending, retrying and remembering
 * are `github-statuses.ts`'s.
 */

/** The states smoke posts; GitHub accepts each both for a commit status and a deployment status. */
export type StatusState = 'pending' | 'success' | 'failure' | 'error';

export const STATUS_STATES = Object.keys({ pending: 1, success: 1, failure: 1, error: 1 } satisfies Record<StatusState, 1>) as StatusState[];

/** GitHub refuses longer descriptions with a 422. */
export const MAX_DESCRIPTION_CHARS = 140;

export interface StatusUpdate {
  readonly state: StatusState;
  readonly description: string;
}

/** Shortens a full commit id as GitHub shows it; any other version stays as it is. */
const shortVersion = (version: string) => (/^[0-9a-f]{40}$/i.test(version) ? version.slice(0, 7) : version);

/** What GitHub shows while the verification runs. */
export function pendingStatus(deployment: Pick<DeploymentRecord, 'version' | 'environment'>): StatusUpdate {
  return { state: 'pending', description: clip(`smoke is verifying ${shortVersion(deployment.version)} on ${deployment.environment}`) };
}

/** A verdict as GitHub shows it: `failure` only when the deploy broke; smoke's own doubt is an `error`. */
export function verdictStatus(verdict: Verdict): StatusUpdate {
  const first = verdict.reasons[0];
  switch (verdict.kind) {
    case 'pass':
      return { state: 'success', description: clip(`Passed: ${first ?? 'every critical flow passed'}`) };
    case 'fail':
      return { state: 'failure', description: clip(`Failed: ${first ?? 'a critical flow failed'}`) };
    case 'inconclusive':
      return { state: 'error', description: clip(`Inconclusive: ${first ?? 'no verdict could be given'}`) };
  }
}

/** The status a deployment's state calls for now: pending until it is done, then its verdict. */
export function deploymentStatus(deployment: DeploymentRecord): StatusUpdate {
  if (deployment.status !== 'done') return pendingStatus(deployment);
  if (deployment.verdict) return verdictStatus(deployment.verdict);
  return {
    state: 'error',
    description: clip(
      deployment.supersededBy
        ? `Superseded by a newer deploy to ${deployment.environment}: not judged`
        : `Ended without a verdict on ${deployment.environment}`,
    ),
  };
}

/** Cuts to GitHub's limit in characters (not UTF-16 units), marking the cut. */
export function clip(text: string, max = MAX_DESCRIPTION_CHARS): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

export interface StatusRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The headers GitHub documents for its REST API, with the token. */
export function apiHeaders(token: string): Readonly<Record<string, string>> {
  return {
    accept: 'application/vnd.github+json',
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    'user-agent': 'smoke-github-status/1',
    'x-github-api-version': '2022-11-28',
  };
}

/** What one POST came to. */
export type PostOutcome =
  | { readonly kind: 'posted'; readonly statusCode: number }
  /** A network error, a timeout, a 5xx or a rate limit: worth trying again, no sooner than `retryAfterMs` when GitHub said. */
  | { readonly kind: 'retry'; readonly statusCode?: number; readonly error: string; readonly retryAfterMs?: number }
  /** GitHub refused it for good (a bad token, no access, an unknown commit): sending it again would not help. The kind adds what a 403, 404 or 422 means for it. */
  | { readonly kind: 'rejected'; readonly statusCode: number; readonly error: string };

/** Most of an error body worth keeping. */
const ERROR_BODY_CHARS = 300;
/** GitHub's advice when a secondary rate limit names no time: wait at least a minute. */
export const SECONDARY_LIMIT_WAIT_MS = 60_000;

/** Sends one attempt; `halt` cuts it short (shutdown). Never throws: every way it can end is an outcome. */
export async function postStatus(request: StatusRequest, timeoutMs: number, nowMs: number, halt?: AbortSignal): Promise<PostOutcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = halt ? AbortSignal.any([timeout, halt]) : timeout;
  try {
    const response = await fetch(request.url, { method: 'POST', redirect: 'manual', signal, headers: request.headers, body: request.body });
    const text = (await response.text().catch(() => '')).slice(0, ERROR_BODY_CHARS);
    const statusCode = response.status;
    if (statusCode >= 200 && statusCode < 300) return { kind: 'posted', statusCode };
    const error = `HTTP ${statusCode}${text ? `: ${text.replace(/\s+/g, ' ').trim()}` : ''}`;
    const limited = rateLimitWait(statusCode, response.headers, text, nowMs);
    if (limited !== undefined) return { kind: 'retry', statusCode, error, retryAfterMs: limited };
    if (statusCode >= 500 || statusCode === 408) return { kind: 'retry', statusCode, error };
    return { kind: 'rejected', statusCode, error: `${error}${hint(statusCode)}` };
  } catch (err) {
    if (timeout.aborted) return { kind: 'retry', error: `no answer within ${timeoutMs} ms` };
    if (halt?.aborted) return { kind: 'retry', error: 'stopped before GitHub answered' };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'retry', error: cause?.code ?? cause?.message ?? (err as Error).message };
  }
}

/**
 * How long GitHub asks to wait, when the answer is a rate limit: a 429, or a
 * 403 that says so (GitHub answers rate limits with either). Per GitHub's
 * guidance: `retry-after` seconds when sent, else until `x-ratelimit-reset`
 * (epoch seconds) when `x-ratelimit-remaining` is 0, else at least a minute.
 * Undefined: not a rate limit.
 */
export function rateLimitWait(statusCode: number, headers: Headers, body: string, nowMs: number): number | undefined {
  const remaining = headers.get('x-ratelimit-remaining');
  const retryAfter = headers.get('retry-after');
  const limited = statusCode === 429 || (statusCode === 403 && (remaining === '0' || retryAfter !== null || /rate limit/i.test(body)));
  if (!limited) return undefined;
  if (retryAfter !== null && /^\s*\d+\s*$/.test(retryAfter)) return Number(retryAfter) * 1000;
  const reset = headers.get('x-ratelimit-reset');
  if (remaining === '0' && reset !== null && /^\s*\d+\s*$/.test(reset)) return Math.max(0, Number(reset) * 1000 - nowMs);
  return SECONDARY_LIMIT_WAIT_MS;
}

function hint(statusCode: number): string {
  // Following a 301/302 would turn the POST into a GET, which "succeeds" without posting anything.
  if (statusCode >= 300 && statusCode < 400) return ' (the repository moved or was renamed: redirects are not followed for a POST)';
  if (statusCode === 401) return ' (gates.github.token is invalid or expired)';
  return '';
}
