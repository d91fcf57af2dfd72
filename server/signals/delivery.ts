import { signedHeaders } from './signing.ts';
import { statusClassOf, type StatusClass } from './status-class.ts';

export interface Receiver {
  readonly url: string;
  readonly key: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/** What one POST to a receiver came to. */
export type AttemptOutcome =
  | { readonly kind: 'delivered'; readonly statusCode: number; readonly statusClass: StatusClass; readonly latencyMs: number }
  /** Worth trying again: a timeout, a connection error, 408, 429 or 5xx. */
  | {
      readonly kind: 'retry';
      readonly statusCode?: number;
      readonly statusClass: StatusClass;
      readonly latencyMs: number;
      readonly error: string;
      /** From the receiver's Retry-After, when it sent one. */
      readonly retryAfterMs?: number;
    }
  /** The receiver refused it for good (any other 3xx or 4xx): sending it again would not help. */
  | { readonly kind: 'rejected'; readonly statusCode: number; readonly statusClass: StatusClass; readonly latencyMs: number; readonly error: string };

/** Most of an error body worth keeping: receivers sometimes answer with a whole HTML page. */
const ERROR_BODY_CHARS = 300;

/** Sends one signed attempt. Never throws: every way it can end is an outcome. */
export async function attemptDelivery(receiver: Receiver, id: string, body: string, timeoutMs: number, now: Date): Promise<AttemptOutcome> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(receiver.url, {
      method: 'POST',
      redirect: 'manual',
      signal: timeout,
      headers: {
        'user-agent': 'smoke-webhooks/1',
        ...receiver.headers,
        'content-type': 'application/json',
        ...signedHeaders(receiver.key, id, body, now),
      },
      body,
    });
    const text = (await response.text().catch(() => '')).slice(0, ERROR_BODY_CHARS);
    const latencyMs = performance.now() - started;
    const statusCode = response.status;
    const statusClass = statusClassOf(statusCode);
    if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered', statusCode, statusClass, latencyMs };
    const error = `HTTP ${statusCode}${text ? `: ${text.replace(/\s+/g, ' ').trim()}` : ''}`;
    // A status outside 200–599 is a broken peer, retried like one that did not answer.
    if (statusCode === 408 || statusCode === 429 || statusClass === '5xx' || statusClass === 'network') {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now);
      return { kind: 'retry', statusCode, statusClass, latencyMs, error, ...(retryAfterMs !== undefined && { retryAfterMs }) };
    }
    return { kind: 'rejected', statusCode, statusClass, latencyMs, error: statusCode < 400 ? `${error} (redirects are not followed: configure the final URL)` : error };
  } catch (err) {
    const latencyMs = performance.now() - started;
    if (timeout.aborted) return { kind: 'retry', statusClass: 'timeout', latencyMs, error: `no answer within ${timeoutMs} ms` };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'retry', statusClass: 'network', latencyMs, error: cause?.code ?? cause?.message ?? (err as Error).message };
  }
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime());
}
