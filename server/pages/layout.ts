import { html, type SafeHtml } from './html.ts';
import type { PagePaths } from './paths.ts';

export interface PageOptions {
  readonly title: string;
  readonly paths: PagePaths;
  readonly body: SafeHtml;
  /** Shows the sign-out button: the visitor came in with the session cookie. */
  readonly signedIn?: boolean;
  /** URL of the fragment `live.js` polls while the page's subject is still running. */
  readonly live?: string;
}

/**
 * A complete HTML document around a page's body. No inline script or style:
 * pages are served with `default-src 'self'`, so everything comes from /assets.
 */
export function page(options: PageOptions): string {
  const { title, paths, body, signedIn, live } = options;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · smoke</title>
<link rel="stylesheet" href="${paths.asset('smoke.css')}">
${live !== undefined && html`<script src="${paths.asset('live.js')}" defer></script>`}
</head>
<body${live !== undefined && html` data-live="${live}"`}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="${paths.home()}">smoke</a>
<nav aria-label="Main">
<ul>
<li><a href="${paths.home()}">Deployments</a></li>
<li><a href="${paths.schedules()}">Schedules</a></li>
</ul>
</nav>
${signedIn && html`<form class="signout" method="post" action="${paths.prefix}/logout"><button type="submit">Sign out</button></form>`}
</header>
<main id="main">
${body}
</main>
</body>
</html>
`.toString();
}
