import type { ErrorRequestHandler, RequestHandler } from 'express';
import { STATUS_CODES } from 'node:http';
import { describeError, IdempotencyConflict, NotFoundError, RequestError, ShuttingDown, UnknownEnvironment } from '../errors.ts';
import { asStoreUnavailable } from '../store/faults.ts';

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

export function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: { code, message, ...(field !== undefined && { field }) } };
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}`));
};

/** Body-parser errors carry a `type`; map the ones a client can cause to what they mean. */
const PARSER_ERRORS: Record<string, { status: number; code: string; message: (err: { limit?: number }) => string }> = {
  'entity.parse.failed': { status: 400, code: 'malformed_json', message: () => 'the request body is not valid JSON' },
  'entity.too.large': { status: 413, code: 'body_too_large', message: (e) => `the request body is larger than ${e.limit} bytes` },
  'encoding.unsupported': { status: 415, code: 'unsupported_encoding', message: () => 'unsupported content encoding' },
  'charset.unsupported': { status: 415, code: 'unsupported_charset', message: () => 'the body must be UTF-8' },
  'request.aborted': { status: 400, code: 'aborted', message: () => 'the request was aborted' },
};

/** Seconds a client is told to wait before retrying when the store is unavailable: the verifier retries on a similar pace. */
export const STORE_RETRY_AFTER_SECONDS = 15;

interface DomainAnswer {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly retryAfterSeconds?: number;
}

/** What the domain's refusals mean over HTTP; the domain itself knows no status codes. */
function domainAnswer(err: unknown): { answer: DomainAnswer; message: string } | undefined {
  if (err instanceof UnknownEnvironment) return { answer: { status: 400, code: 'unknown_environment', field: err.field }, message: err.message };
  if (err instanceof IdempotencyConflict) return { answer: { status: 409, code: 'conflict', field: err.field }, message: err.message };
  if (err instanceof NotFoundError) return { answer: { status: 404, code: 'not_found' }, message: err.message };
  if (err instanceof ShuttingDown) return { answer: { status: 503, code: 'shutting_down' }, message: err.message };
  const store = asStoreUnavailable(err);
  if (store) return { answer: { status: 503, code: 'store_unavailable', retryAfterSeconds: STORE_RETRY_AFTER_SECONDS }, message: store.message };
  return undefined;
}

/** The one place errors become responses; Express 5 sends rejected handlers here. */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (err instanceof RequestError) {
    res.status(err.status).json(errorBody(err.code, err.message, err.field));
    return;
  }
  const domain = domainAnswer(err);
  if (domain) {
    const { answer, message } = domain;
    if (answer.status >= 500) req.log?.warn({ err: describeError(err) }, 'request refused: the service cannot do it now');
    if (res.headersSent) return;
    if (answer.retryAfterSeconds !== undefined) res.set('Retry-After', String(answer.retryAfterSeconds));
    res.status(answer.status).json(errorBody(answer.code, message, answer.field));
    return;
  }
  const parser = typeof err?.type === 'string' ? PARSER_ERRORS[err.type] : undefined;
  if (parser) {
    res.status(parser.status).json(errorBody(parser.code, parser.message(err)));
    return;
  }
  const client = clientFault(err);
  if (client) {
    res.status(client.status).json(client.body);
    return;
  }
  req.log?.error({ err: describeError(err) }, 'request failed');
  if (res.headersSent) return;
  res.status(500).json(errorBody('internal', 'the service failed to handle the request; see its logs'));
};

/**
 * http-errors, body-parser (a corrupt gzip body) and Express's param decoding
 * (a bad percent-encoding, as a URIError) mark a client's mistake with a 4xx
 * `status`: keep it, rather than answer 500 for what the client got wrong.
 */
function clientFault(err: unknown): { status: number; body: ErrorBody } | undefined {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
  // Only those two sources: another error carrying a status (an upstream's answer) is still ours to own.
  if (typeof e.expose !== 'boolean' && !(err instanceof URIError)) return undefined;
  const status = Number(e.status ?? e.statusCode);
  if (!Number.isInteger(status) || status < 400 || status > 499) return undefined;
  if (err instanceof URIError) return { status, body: errorBody('malformed_path', `the path is not valid percent-encoding: ${err.message}`, 'path') };
  const reason = STATUS_CODES[status] ?? 'Bad Request';
  // http-errors sets `expose` on messages that are safe to show the client.
  const detail = e.expose === true && typeof e.message === 'string' ? `: ${e.message}` : '';
  return { status, body: errorBody(reason.toLowerCase().replace(/[^a-z0-9]+/g, '_'), `${reason}${detail}`) };
}
