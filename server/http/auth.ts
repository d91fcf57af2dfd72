import { timingSafeEqual, createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Secret } from '../values/secret.ts';
import { errorBody } from './errors.ts';
import type { Sessions } from './session.ts';

/** How a request proved it may see pages: `res.locals.auth`, read by the pages for their sign-out button. */
export type PageAuthMethod = 'bearer' | 'cookie' | 'open';

/** Checks a presented token against the API token; compares digests so timing says nothing about the token. */
export function tokenChecker(token: Secret): (presented: string) => boolean {
  const expected = digest(token.reveal());
  return (presented) => timingSafeEqual(digest(presented), expected);
}

/**
 * Requires `Authorization: Bearer <token>`. With `sessions`, a signed-in
 * browser's cookie also opens GET and HEAD (JSON links from a page, the
 * OpenAPI document); never a write, so a cookie cannot be ridden into a change.
 */
export function bearerAuth(token: Secret, sessions?: Sessions): RequestHandler {
  const matches = tokenChecker(token);
  return (req, res, next) => {
    const presented = bearerOf(req);
    if (presented !== undefined ? matches(presented) : sessions && isRead(req) && sessions.fromRequest(req)) {
      next();
      return;
    }
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="smoke"')
      .json(
        errorBody('unauthorized', presented !== undefined ? 'the bearer token is wrong' : 'this API needs an Authorization: Bearer <token> header', 'authorization'),
      );
  };
}

export interface PageAuthOptions {
  /** `server.apiToken`; without it every page is open. */
  readonly token?: Secret;
  readonly sessions?: Sessions;
  /** The page prefix ('' or '/smoke'), for the login redirect. */
  readonly prefix: string;
}

/**
 * Pages, the trace viewer, reports and artifacts: the bearer header or the
 * session cookie. A browser without either is sent to the login form and
 * back; any other client gets the API's 401.
 */
export function pageAuth(options: PageAuthOptions): RequestHandler {
  const { token, sessions, prefix } = options;
  if (!token || !sessions) {
    return (_req, res, next) => {
      res.locals.auth = 'open' satisfies PageAuthMethod;
      next();
    };
  }
  const matches = tokenChecker(token);
  return (req, res, next) => {
    const presented = bearerOf(req);
    if (presented !== undefined && matches(presented)) {
      res.locals.auth = 'bearer' satisfies PageAuthMethod;
      next();
      return;
    }
    if (presented === undefined && sessions.fromRequest(req)) {
      res.locals.auth = 'cookie' satisfies PageAuthMethod;
      next();
      return;
    }
    // Pages are per visitor; no cache may keep a redirect or a 401 for someone else either.
    res.set('Cache-Control', 'no-store');
    if (presented === undefined && isRead(req) && wantsHtml(req)) {
      res.redirect(303, `${prefix}/login?next=${encodeURIComponent(seenPath(req.originalUrl, prefix))}`);
      return;
    }
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="smoke"')
      .json(errorBody('unauthorized', presented !== undefined ? 'the bearer token is wrong' : 'sign in at /login, or send an Authorization: Bearer <token> header', 'authorization'));
  };
}

/** The path the browser saw: pages are mounted at the root too, for proxies that strip the prefix. */
function seenPath(url: string, prefix: string): string {
  if (!prefix || url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`)) return url;
  return prefix + url;
}

function bearerOf(req: Request): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
  return match ? match[1]!.trim() : undefined;
}

const isRead = (req: Request) => req.method === 'GET' || req.method === 'HEAD';

/** A browser navigating asks for text/html by name; fetch() and curl send * / * and get the 401. */
const wantsHtml = (req: Request) => /\btext\/html\b/i.test(req.get('accept') ?? '');

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
