import type { Duplex } from 'node:stream';
import { errorBody } from './errors.ts';

/**
 * Node's HTTP parser refuses some requests before the app sees them (a
 * Content-Length that disagrees with the body, a raw control byte in the
 * path, headers too large). Its own answer is a bare status line; this one
 * is the API's JSON error like every other refusal. Wired to the server's
 * `clientError` event, so it must never throw.
 */
export function answerClientError(err: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Duplex): void {
  // The peer went away or never sent a request: nothing to answer.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request_timeout', 'the request was not received in time']
        : [400, 'Bad Request', 'malformed_request', `the request is not valid HTTP (${err.code ?? 'parse error'})`];
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
