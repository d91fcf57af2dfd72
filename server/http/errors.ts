import type { ErrorRequestHandler, RequestHandler } from 'express';
import { describeError, RequestError } from '../errors.ts';

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

/** The one place errors become responses; Express 5 sends rejected handlers here. */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (err instanceof RequestError) {
    res.status(err.status).json(errorBody(err.code, err.message, err.field));
    return;
  }
  const parser = typeof err?.type === 'string' ? PARSER_ERRORS[err.type] : undefined;
  if (parser) {
    res.status(parser.status).json(errorBody(parser.code, parser.message(err)));
    return;
  }
  req.log?.error({ err: describeError(err) }, 'request failed');
  if (res.headersSent) return;
  res.status(500).json(errorBody('internal', 'the service failed to handle the request; see its logs'));
};
