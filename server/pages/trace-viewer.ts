import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router, type Response } from 'express';
import type { RouteDoc } from '../http/route-doc.ts';

/**
 * Playwright's trace viewer, as `playwright show-trace` serves it, minus the
 * one thing that server adds: `/trace/file?path=` for any local file. Here it
 * only gets `?trace=<URL>` of our own artifact route, and the policy below
 * keeps its service worker to same-origin fetches, so it cannot be pointed
 * at another site or at the disk.
 */
export function traceViewerRoutes(options: { folder?: string } = {}): Router {
  const folder = options.folder ?? traceViewerFolder();
  const router = Router();
  if (!folder || !existsSync(path.join(folder, 'index.html'))) {
    router.use('/trace', (_req, res) => {
      res.status(404).type('text/plain').send('The Playwright trace viewer is not installed next to smoke (playwright-core is missing).');
    });
    return router;
  }
  const policies = viewerPolicies();
  // Relative, so the redirect stays under a path prefix a proxy stripped.
  router.get('/trace', (_req, res) => res.redirect(301, 'trace/'));
  router.use(
    '/trace',
    express.static(folder, {
      dotfiles: 'deny',
      index: ['index.html'],
      redirect: false,
      fallthrough: true,
      setHeaders: (res, file) => policies.apply(res, file),
    }),
  );
  return router;
}

/** The viewer shipped with the Playwright that runs the flows, so it reads the traces that version writes. */
function traceViewerFolder(): string | undefined {
  const require = createRequire(import.meta.url);
  const candidates = [
    () => createRequire(createRequire(require.resolve('@playwright/test')).resolve('playwright/package.json')).resolve('playwright-core/package.json'),
    () => require.resolve('playwright-core/package.json'),
  ];
  for (const candidate of candidates) {
    try {
      return path.join(path.dirname(candidate()), 'lib', 'vite', 'traceViewer');
    } catch {
      // Not installed that way; try the next.
    }
  }
  return undefined;
}

/**
 * Content-Security-Policy for Playwright's own apps (the trace viewer and the
 * HTML report): looser than the pages' — inline scripts by hash (the report
 * is one HTML file of them), React's inline styles, data: and blob: images,
 * a same-origin service worker and the data: frame the viewer draws into —
 * but still nothing from another origin, so a trace cannot phone home.
 */
function viewerPolicy(scriptHashes: readonly string[]): string {
  return [
    "default-src 'self'",
    `script-src 'self'${scriptHashes.map((h) => ` '${h}'`).join('')}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "media-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "frame-src 'self' data: blob:",
    "frame-ancestors 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

/**
 * For a file a flow wrote (an attachment, a trace): opened on its own it is
 * a document with no script and an origin of its own, so an HTML attachment
 * cannot act as smoke with the visitor's cookie.
 */
export const UNTRUSTED_FILE_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";

/** Sets the viewer policy on a response, with the inline-script hashes of the HTML file it serves (cached by mtime and size). */
export function viewerPolicies(): { apply(res: Response, file: string): void } {
  const cache = new Map<string, { key: string; hashes: string[] }>();
  return {
    apply(res, file) {
      let hashes: string[] = [];
      if (file.endsWith('.html')) {
        const stat = statSync(file);
        const key = `${stat.mtimeMs}:${stat.size}`;
        let entry = cache.get(file);
        if (entry?.key !== key) {
          entry = { key, hashes: inlineScriptHashes(readFileSync(file, 'utf8')) };
          cache.set(file, entry);
        }
        hashes = entry.hashes;
      }
      res.set('Content-Security-Policy', viewerPolicy(hashes));
    },
  };
}

/**
 * `sha256-…` of each inline `<script>` in a document. A script's text ends at
 * the first `</script`, as the HTML parser reads it, so a `<script>` inside
 * a bundle's strings is not mistaken for an element.
 */
export function inlineScriptHashes(document: string): string[] {
  const hashes: string[] = [];
  const open = /<script\b([^>]*)>/gi;
  const close = /<\/script/gi;
  for (let match = open.exec(document); match; match = open.exec(document)) {
    close.lastIndex = open.lastIndex;
    const end = close.exec(document)?.index;
    if (end === undefined) break;
    if (!/\bsrc\s*=/i.test(match[1]!)) hashes.push(`sha256-${createHash('sha256').update(document.slice(open.lastIndex, end)).digest('base64')}`);
    open.lastIndex = end;
  }
  return hashes;
}

export const traceViewerDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/trace',
    summary: "Redirects to the trace viewer's folder, `/trace/`",
    responses: { 301: { description: 'to trace/' } },
    auth: 'page',
  },
  {
    method: 'get',
    path: '/trace/*file',
    summary: "Playwright's trace viewer (static files); open `/trace/index.html?trace=<root-relative artifact URL>`",
    responses: {
      200: { description: 'a file of the viewer', contentType: 'text/html' },
      404: { description: 'no such file' },
    },
    auth: 'page',
  },
];
