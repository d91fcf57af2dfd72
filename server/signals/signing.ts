import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the key is
 * the base64 part of a `whsec_…` secret; the signed content is
 * `<webhook-id>.<webhook-timestamp>.<body>`; the header carries
 * `v1,<base64 HMAC-SHA256>`.
 */
export const SECRET_PREFIX = 'whsec_';

export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error(`a webhook secret must start with ${SECRET_PREFIX}`);
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  if (key.length < 16) throw new Error('a webhook secret must hold at least 16 bytes of base64 after whsec_');
  return key;
}

export function sign(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${digest}`;
}

export interface SignedHeaders {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
}

/** The three headers of one delivery attempt: the id stays, the timestamp is the attempt's own. */
export function signedHeaders(key: Buffer, id: string, body: string, now: Date): SignedHeaders {
  const timestamp = Math.floor(now.getTime() / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(key, id, timestamp, body) };
}

/** Constant-time check of one `v1,…` signature; for tests and the README's receiver snippet. */
export function verifySignature(key: Buffer, id: string, timestampSeconds: number, body: string, header: string): boolean {
  const expected = Buffer.from(sign(key, id, timestampSeconds, body));
  return header
    .split(' ')
    .map((candidate) => Buffer.from(candidate))
    .some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected));
}
