import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { RequestError } from '../errors.ts';

/** Runs `fn` and returns the RequestError it throws; fails the test when it throws nothing else. */
export function refusal(fn: () => unknown): RequestError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RequestError, String(err));
    return err;
  }
  assert.fail('expected a RequestError');
}

export interface RawRequest {
  readonly method: string;
  /** Sent as written: fetch would normalise or refuse a bad percent-encoding, a `..` or a raw byte. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** One request over a fresh connection with node:http, headers and body exactly as given. */
export function rawRequest(base: string, req: RawRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: hostname, port, method: req.method, path: req.path, headers: { ...req.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

export interface Refused {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly message?: RegExp;
}

/** Asserts the answer is the API's JSON error: status, `error.code`, a message, and `error.field` when one is expected. */
export function assertRefused(res: RawResponse, expected: Refused, method = 'GET'): void {
  assert.equal(res.status, expected.status, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/, `not JSON: ${res.text}`);
  if (method === 'HEAD') return;
  const body = JSON.parse(res.text) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
  assert.equal(body.error?.code, expected.code, res.text);
  assert.equal(typeof body.error?.message, 'string');
  assert.equal(body.error?.field, expected.field, res.text);
  if (expected.message) assert.match(String(body.error?.message), expected.message);
}
