import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { Secret } from '../values/secret.ts';

/** The page session cookie's name. */
export const SESSION_COOKIE = 'smoke_session';

/** How long a sign-in lasts: a working day, then the token is asked for again. */
export const SESSION_LIFETIME_SECONDS = 12 * 60 * 60;

const VERSION = 'v1';

/**
 * Stateless sessions: the cookie is `v1.<expires>.<mac>`, an HMAC over its
 * expiry with a key derived from the API token. Any replica with the same
 * token checks it without a session table, and changing the token signs
 * everyone out. Nothing in it says who signed in: there is one token.
 */
export interface Sessions {
  /** A fresh cookie value, valid for `SESSION_LIFETIME_SECONDS` from now. */
  issue(): string;
  /** Whether a cookie value was issued with this token and has not expired. */
  valid(value: string | undefined): boolean;
  /** The `Set-Cookie` header that signs the browser in. */
  signIn(): string;
  /** The `Set-Cookie` header that signs the browser out. */
  signOut(): string;
  /** Whether the request carries a valid session cookie. */
  fromRequest(req: Pick<Request, 'get'>): boolean;
}

export interface SessionOptions {
  readonly token: Secret;
  /** The cookie's Path: the page prefix, or '/'. */
  readonly path: string;
  /** Sets `Secure`: true when `server.publicUrl` is https. */
  readonly secure: boolean;
  /** Milliseconds since the epoch; injected by tests. */
  readonly now?: () => number;
  readonly lifetimeSeconds?: number;
}

export function createSessions(options: SessionOptions): Sessions {
  const now = options.now ?? Date.now;
  const lifetime = options.lifetimeSeconds ?? SESSION_LIFETIME_SECONDS;
  // A key of its own, so a cookie is never a MAC anyone could reuse as the token or its digest.
  const key = createHmac('sha256', options.token.reveal()).update('smoke page session key').digest();
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest();
  const attributes = (maxAge: number) =>
    [`Path=${options.path}`, 'HttpOnly', 'SameSite=Strict', ...(options.secure ? ['Secure'] : []), `Max-Age=${maxAge}`].join('; ');

  const sessions: Sessions = {
    issue() {
      const payload = `${VERSION}.${Math.floor(now() / 1000) + lifetime}`;
      return `${payload}.${mac(payload).toString('base64url')}`;
    },
    valid(value) {
      const match = value === undefined ? null : /^(v1\.(\d{1,12}))\.([A-Za-z0-9_-]{43})$/.exec(value);
      if (!match) return false;
      const given = Buffer.from(match[3]!, 'base64url');
      const expected = mac(match[1]!);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
      return Number(match[2]) * 1000 > now();
    },
    signIn: () => `${SESSION_COOKIE}=${sessions.issue()}; ${attributes(lifetime)}`,
    signOut: () => `${SESSION_COOKIE}=; ${attributes(0)}`,
    // A browser may hold two (one per path, after a prefix change): any valid one will do.
    fromRequest: (req) => readCookies(req.get('cookie'), SESSION_COOKIE).some((value) => sessions.valid(value)),
  };
  return sessions;
}

/** Every value a `Cookie` header gives the named cookie, in the order the browser sent them. */
export function readCookies(header: string | undefined, name: string): string[] {
  if (!header) return [];
  return header
    .split(';')
    .map((part) => part.split('='))
    .filter(([key, value]) => value !== undefined && key!.trim() === name)
    .map(([, value]) => value!.trim());
}
