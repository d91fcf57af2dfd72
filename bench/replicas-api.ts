import { poll } from '../demo/demo-stack.ts';

/**
 * The few calls of smoke's HTTP API the replicas benchmark makes, each
 * abortable (Ctrl-C, the benchmark's deadline, the end of a window).
 */

export class BenchError extends Error {
  override name = 'BenchError';
}

/** Longest `?wait=` of one request, seconds; a verification outlasting it is waited for again. */
const WAIT_SECONDS = 60;

/** What the benchmark reads of `GET /api/v1/deployments/:id`. */
export interface DeploymentAnswer {
  readonly id: string;
  readonly status: string;
  readonly verdict: string | null;
  readonly reasons?: readonly string[];
  readonly runs: readonly { readonly id: string; readonly status: string; readonly replica: string | null; readonly note: string | null }[];
}

export interface RunAnswer {
  readonly id: string;
  readonly status: string;
  readonly replica: string | null;
  readonly startedAt: string | null;
}

export async function call<T>(base: string, method: string, route: string, signal: AbortSignal, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${route}`, {
    method,
    signal,
    ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as T };
  } catch (error) {
    throw new BenchError(`${method} ${base}${route} answered ${response.status} with no JSON: ${text.slice(0, 300)}`, { cause: error });
  }
}

/** Posts a deploy (202, or 200 when `waitSeconds` saw it finish) and returns smoke's answer. */
export async function postDeploy(base: string, notice: { environment: string; version: string }, signal: AbortSignal, waitSeconds = 0): Promise<DeploymentAnswer> {
  const route = `/api/v1/deployments${waitSeconds > 0 ? `?wait=${waitSeconds}` : ''}`;
  const { status, body } = await call<DeploymentAnswer>(base, 'POST', route, signal, { ...notice, service: 'shop' });
  if (status !== 202 && status !== 200) throw new BenchError(`POST ${base}${route} for ${notice.environment} answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

export async function getDeployment(base: string, id: string, signal: AbortSignal, waitSeconds = 0): Promise<DeploymentAnswer> {
  const route = `/api/v1/deployments/${id}${waitSeconds > 0 ? `?wait=${waitSeconds}` : ''}`;
  const { status, body } = await call<DeploymentAnswer>(base, 'GET', route, signal);
  if (status !== 200) throw new BenchError(`GET ${base}${route} answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

export async function getRun(base: string, id: string, signal: AbortSignal): Promise<RunAnswer> {
  const { status, body } = await call<RunAnswer>(base, 'GET', `/api/v1/runs/${id}`, signal);
  if (status !== 200) throw new BenchError(`GET ${base}/api/v1/runs/${id} answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

/** The deployment once done, asked of `base` (any replica) with `?wait=`, again and again until `timeoutMs`. */
export async function verdictOf(base: string, id: string, signal: AbortSignal, timeoutMs: number): Promise<DeploymentAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    const answer = await getDeployment(base, id, signal, Math.max(1, Math.min(WAIT_SECONDS, left)));
    if (answer.status === 'done') return answer;
    if (Date.now() >= deadline) throw new BenchError(`deployment ${id} was still ${answer.status} after ${timeoutMs / 1000} s`);
  }
}

/** Polls until `probe` gives a value; a timeout is an error naming `what`. */
export async function until<T>(what: string, timeoutMs: number, signal: AbortSignal, probe: () => Promise<T | undefined>): Promise<T> {
  const value = await poll(timeoutMs, signal, probe);
  if (value === undefined) throw new BenchError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
  return value;
}

/** Why a verdict is not the expected one, for a message. */
export function describeVerdict(answer: DeploymentAnswer): string {
  return `${answer.verdict ?? 'no verdict'} (${answer.reasons?.join('; ') || 'no reasons'}; runs ${answer.runs.map((r) => `${r.status}${r.note ? `: ${r.note}` : ''}`).join(', ')})`;
}
