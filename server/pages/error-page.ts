import type { ErrorRequestHandler } from 'express';
import { STATUS_CODES } from 'node:http';
import { describeError, NotFoundError, RequestError } from '../errors.ts';
import { STORE_RETRY_AFTER_SECONDS } from '../http/errors.ts';
import { asStoreUnavailable } from '../store/faults.ts';
import { html } from './html.ts';
import { page } from './layout.ts';
import type { PagePaths } from './paths.ts';

export function errorPage(status: number, heading: string, message: string, paths: PagePaths): string {
  const body = html`<h1>${heading}</h1>
<p class="error-message">${message}</p>
<p><a href="${paths.home()}">Back to the deployments</a></p>`;
  return page({ title: `${status} ${heading}`, paths, body });
}

/**
 * Errors of the page routes as pages, not the API's JSON: a person followed a
 * link. The messages are the domain's own, escaped like any other value.
 */
export function pageErrors(paths: PagePaths): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const answer = (status: number, heading: string, message: string) => {
      res.status(status).type('html').set('Cache-Control', 'no-store').send(errorPage(status, heading, message, paths));
    };
    if (err instanceof NotFoundError) return answer(404, 'Not found', `No ${err.what} ${err.id}.`);
    if (err instanceof RequestError) return answer(err.status, STATUS_CODES[err.status] ?? 'Bad request', err.message);
    const store = asStoreUnavailable(err);
    if (store) {
      req.log?.warn({ err: describeError(err) }, 'page refused: the store cannot answer');
      res.set('Retry-After', String(STORE_RETRY_AFTER_SECONDS));
      return answer(503, 'Unavailable', `${store.message}. Try again shortly.`);
    }
    req.log?.error({ err: describeError(err) }, 'page failed');
    return answer(500, 'Something broke', "smoke failed to show this page; see its logs.");
  };
}
