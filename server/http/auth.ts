import { timingSafeEqual, createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Secret } from '../values/secret.ts';
import { errorBody } from './errors.ts';

/** Requires `Authorization: Bearer <token>`; compares digests so timing says nothing about the token. */
export function bearerAuth(token: Secret): RequestHandler {
  const expected = digest(token.reveal());
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match && timingSafeEqual(digest(match[1]!.trim()), expected)) {
      next();
      return;
    }
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="smoke"')
      .json(errorBody('unauthorized', match ? 'the bearer token is wrong' : 'this API needs an Authorization: Bearer <token> header', 'authorization'));
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
