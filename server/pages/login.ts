import express, { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { tokenChecker } from '../http/auth.ts';
import type { RouteDoc } from '../http/route-doc.ts';
import type { Sessions } from '../http/session.ts';
import type { Secret } from '../values/secret.ts';
import { html } from './html.ts';
import { page } from './layout.ts';
import type { PagePaths } from './paths.ts';

/** A login form is two short fields; anything bigger is not one. */
export const LOGIN_BODY_LIMIT_BYTES = 8 * 1024;

const loginForm = z.object({
  token: z.string({ error: 'is required' }).min(1, { error: 'is required' }).max(1024, { error: 'must be at most 1024 characters' }),
  next: z.string().max(2048, { error: 'must be at most 2048 characters' }).optional(),
});

export interface LoginDeps {
  /** `server.apiToken`; without it there is nothing to sign in to and /login goes home. */
  readonly token?: Secret;
  readonly sessions?: Sessions;
  readonly paths: PagePaths;
  /** `server.publicUrl`: the origin a form post may come from besides the request's own host. */
  readonly publicUrl?: string;
  readonly logger: Logger;
}

/** GET/POST /login, POST /logout, and the check the login page uses to resume a session (see resume.js). */
export function loginRoutes(deps: LoginDeps): Router {
  const { token, sessions, paths, logger } = deps;
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: LOGIN_BODY_LIMIT_BYTES, parameterLimit: 10 });

  if (!token || !sessions) {
    router.all(['/login', '/logout'], (_req, res) => res.redirect(303, paths.home()));
    return router;
  }
  const matches = tokenChecker(token);

  router.get('/login', (req, res) => {
    const next = safeNext(typeof req.query.next === 'string' ? req.query.next : undefined, paths.prefix);
    if (sessions.fromRequest(req)) {
      res.redirect(303, next);
      return;
    }
    render(res, 200, paths, next);
  });

  router.post('/login', refuseCrossSite(deps.publicUrl), form, (req, res) => {
    const parsed = loginForm.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      render(res, 400, paths, safeNext(undefined, paths.prefix), `${issue.path.join('.') || 'form'} ${issue.message}`);
      return;
    }
    const next = safeNext(parsed.data.next, paths.prefix);
    if (!matches(parsed.data.token)) {
      // Never the attempt itself: a near miss is most of a token.
      logger.warn({ ip: req.socket.remoteAddress }, 'page sign-in refused: wrong token');
      render(res, 401, paths, next, 'That token is not the one this service was configured with.');
      return;
    }
    res.set('Set-Cookie', sessions.signIn()).redirect(303, next);
  });

  router.post('/logout', refuseCrossSite(deps.publicUrl), (_req, res) => {
    res.set('Set-Cookie', sessions.signOut()).redirect(303, paths.login());
  });

  // A link followed from a chat arrives without the SameSite=Strict cookie; the page asks again from its own site.
  router.get('/login/session', (req, res) => {
    res.set('Cache-Control', 'no-store').status(sessions.fromRequest(req) ? 204 : 401).end();
  });
  router.get('/login/resume.js', (_req, res) => {
    res.type('text/javascript').set('Cache-Control', 'no-cache').send(RESUME_SCRIPT);
  });

  return router;
}

const RESUME_SCRIPT = `// Signed in already, but the link came from another site, so the SameSite=Strict cookie stayed home: go on.
(function () {
  var form = document.querySelector('form[data-session]');
  if (!form || !window.fetch) return;
  fetch(form.getAttribute('data-session'), { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
    if (r.status === 204) location.replace(form.getAttribute('data-next'));
  }, function () {});
})();
`;

function render(res: Response, status: number, paths: PagePaths, next: string, error?: string): void {
  const body = html`<section class="login" aria-labelledby="login-title">
<h1 id="login-title">Sign in to smoke</h1>
${error !== undefined && html`<p class="error" role="alert">${error}</p>`}
<form method="post" action="${paths.prefix}/login" data-session="${paths.prefix}/login/session" data-next="${next}">
<input type="hidden" name="next" value="${next}">
<p><label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus></p>
<p><button type="submit">Sign in</button></p>
</form>
<p class="hint">The token is the service's <code>server.apiToken</code>. Signing in keeps you in for 12 hours in this browser.</p>
<script src="${paths.prefix}/login/resume.js" defer></script>
</section>`;
  res.status(status).set('Cache-Control', 'no-store').type('html').send(page({ title: 'Sign in', paths, body }));
}

/**
 * Where a sign-in may send the browser: a path on this site under the
 * prefix, never `//host` or `/\host` (browsers read both as another host)
 * nor a scheme; anything else goes home.
 */
export function safeNext(next: string | undefined, prefix: string): string {
  const home = `${prefix}/`;
  if (!next || !next.startsWith('/') || /[\\\x00-\x1f\x7f]/.test(next) || next.startsWith('//')) return home;
  let url: URL;
  try {
    url = new URL(next, 'http://smoke.invalid');
  } catch {
    return home;
  }
  if (url.origin !== 'http://smoke.invalid') return home;
  if (prefix && url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) return home;
  if (url.pathname === `${prefix}/login`) return home;
  return `${url.pathname}${url.search}${url.hash}`;
}

/**
 * CSRF for the two forms: the cookie is SameSite=Strict, and a browser's
 * post names its origin, which must be this host or `server.publicUrl`.
 */
function refuseCrossSite(publicUrl: string | undefined) {
  const publicOrigin = publicUrl ? new URL(publicUrl).origin : undefined;
  return (req: Request, res: Response, next: () => void) => {
    const origin = req.get('origin');
    const site = req.get('sec-fetch-site');
    if ((origin === undefined || sameOrigin(origin, req, publicOrigin)) && site !== 'cross-site' && site !== 'same-site') {
      next();
      return;
    }
    req.log?.warn({ origin, site }, 'form post from another site refused');
    res.status(403).set('Cache-Control', 'no-store').type('text/plain').send('This form can only be posted from smoke itself.');
  };
}

function sameOrigin(origin: string, req: Request, publicOrigin: string | undefined): boolean {
  if (origin === publicOrigin) return true;
  try {
    return new URL(origin).host === req.get('host');
  } catch {
    // 'null' (a sandboxed frame, a privacy redirect) or garbage: not ours.
    return false;
  }
}

export const loginDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/login',
    summary: 'The sign-in form (redirects home when no API token is configured)',
    query: z.object({ next: z.string().max(2048).optional() }),
    responses: { 200: { description: 'the form', contentType: 'text/html' }, 303: { description: 'already signed in, or no token configured' } },
    auth: 'none',
  },
  {
    method: 'post',
    path: '/login',
    summary: 'Signs a browser in: sets the HttpOnly, SameSite=Strict session cookie and redirects to `next`',
    form: loginForm,
    responses: {
      303: { description: 'signed in; redirect to `next` (a local path) or home' },
      400: { description: 'the form is incomplete', contentType: 'text/html' },
      401: { description: 'the token is wrong', contentType: 'text/html' },
      403: { description: 'posted from another site', contentType: 'text/plain' },
    },
    auth: 'none',
  },
  {
    method: 'post',
    path: '/logout',
    summary: 'Clears the session cookie and redirects to the sign-in form',
    responses: { 303: { description: 'signed out' }, 403: { description: 'posted from another site', contentType: 'text/plain' } },
    auth: 'none',
  },
  {
    method: 'get',
    path: '/login/session',
    summary: 'Whether this browser is signed in (the login page resumes a session a cross-site link could not carry)',
    responses: { 204: { description: 'signed in' }, 401: { description: 'not signed in' } },
    auth: 'none',
  },
  {
    method: 'get',
    path: '/login/resume.js',
    summary: 'The login page’s script: goes on to `next` when the browser is signed in already',
    responses: { 200: { description: 'the script', contentType: 'text/javascript' } },
    auth: 'none',
  },
];
