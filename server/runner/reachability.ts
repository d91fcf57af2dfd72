import type { Reachability } from '../verdict/types.ts';

/**
 * Whether an environment answers HTTP at all. Any status counts as reachable:
 * a 500 on the home page is for the flows to judge; only no answer (refused,
 * DNS, TLS, timeout) means the environment cannot be reached.
 */
export async function checkReachable(
  baseURL: string,
  headers: Record<string, string>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Reachability> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(baseURL, {
      method: 'GET',
      headers,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    await response.body?.cancel();
    return { reachable: true, status: response.status };
  } catch (err) {
    if (timeout.aborted) return { reachable: false, error: `no answer within ${timeoutMs} ms` };
    return { reachable: false, error: networkError(err) };
  }
}

function networkError(err: unknown): string {
  // fetch() wraps the socket error: "fetch failed" caused by "connect ECONNREFUSED …".
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return err instanceof Error ? err.message : String(err);
}
