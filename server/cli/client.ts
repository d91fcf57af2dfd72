import { setTimeout as sleep } from 'node:timers/promises';
import type { VerifyOptions } from './options.ts';

/**
 * Longest single `?wait=` of one request, seconds: under the 300 s after which
 * Node's fetch gives up waiting for response headers, and under the API's 900.
 */
export const MAX_POLL_SECONDS = 240;
/** Extra time a request gets beyond the wait it asked for: the answer still has to travel. */
const REQUEST_SLACK_MS = 15_000;
/** Pause before asking again after the service could not be reached mid-wait (a restart resumes the run). */
const RETRY_DELAY_MS = 2_000;
/**
 * Answers to a poll that say "not now" rather than "no": a replica shutting
 * down, its store briefly unreachable (503), a proxy between replicas (502,
 * 504). The verification goes on meanwhile, so polling does too.
 */
const TRANSIENT_STATUSES = new Set([502, 503, 504]);

/** The deployment as the API presents it; the CLI reads a few fields and prints the rest as it came. */
export interface DeploymentView {
  readonly id: string;
  readonly status: 'queued' | 'running' | 'done';
  readonly verdict: 'pass' | 'fail' | 'inconclusive' | null;
  readonly [field: string]: unknown;
}

/** How asking smoke ended, apart from any verdict. */
export type Outcome =
  | { readonly kind: 'done'; readonly deployment: DeploymentView }
  | { readonly kind: 'timeout'; readonly deployment: DeploymentView }
  | { readonly kind: 'rejected'; readonly status: number; readonly message: string }
  | { readonly kind: 'unreachable'; readonly message: string };

/**
 * Submits the deploy and long-polls until it is done or `timeoutSeconds` ran
 * out. Submitting happens once; polling survives the service going away for
 * a moment, since a verification resumes when smoke restarts.
 */
export async function verifyDeploy(options: VerifyOptions, fetchImpl: typeof fetch = fetch, now: () => number = Date.now): Promise<Outcome> {
  const deadline = now() + options.timeoutSeconds * 1000;
  const waitFor = () => Math.min(MAX_POLL_SECONDS, Math.floor((deadline - now()) / 1000));
  const headers = { 'content-type': 'application/json', ...(options.token && { authorization: `Bearer ${options.token}` }) };
  const body = JSON.stringify({
    environment: options.environment,
    version: options.version,
    ...(options.service !== undefined && { service: options.service }),
    ...(options.deploymentId !== undefined && { deploymentId: options.deploymentId }),
  });

  let answer = await request(fetchImpl, `${options.url}/api/v1/deployments?wait=${Math.max(0, waitFor())}`, { method: 'POST', headers, body }, waitFor());
  if (answer.kind !== 'ok') return answer;
  let deployment = answer.deployment;
  while (deployment.status !== 'done') {
    const wait = waitFor();
    if (wait < 1) return { kind: 'timeout', deployment };
    answer = await request(fetchImpl, `${options.url}/api/v1/deployments/${encodeURIComponent(deployment.id)}?wait=${wait}`, { headers }, wait);
    if (answer.kind === 'ok') deployment = answer.deployment;
    else if (answer.kind === 'rejected' && !TRANSIENT_STATUSES.has(answer.status)) return answer;
    else await sleep(Math.min(RETRY_DELAY_MS, Math.max(0, deadline - now())));
  }
  return { kind: 'done', deployment };
}

type Answer = { readonly kind: 'ok'; readonly deployment: DeploymentView } | Exclude<Outcome, { kind: 'done' | 'timeout' }>;

async function request(fetchImpl: typeof fetch, url: string, init: RequestInit, waitSeconds: number): Promise<Answer> {
  let response: Response;
  let text: string;
  try {
    response = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(Math.max(0, waitSeconds) * 1000 + REQUEST_SLACK_MS) });
    text = await response.text();
  } catch (err) {
    return { kind: 'unreachable', message: `cannot reach smoke at ${new URL(url).origin}: ${causeOf(err)}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { message?: string } } | undefined)?.error;
    return { kind: 'rejected', status: response.status, message: error?.message ?? `HTTP ${response.status} ${text.slice(0, 200)}` };
  }
  const deployment = parsed as DeploymentView | undefined;
  if (!deployment || typeof deployment.id !== 'string' || typeof deployment.status !== 'string') {
    return { kind: 'rejected', status: response.status, message: `${url} did not answer with a deployment: is this smoke?` };
  }
  return { kind: 'ok', deployment };
}

/** fetch hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`. */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if ((err as Error).name === 'TimeoutError') return 'no answer in time';
  return cause?.message ?? (err as Error).message ?? String(err);
}
