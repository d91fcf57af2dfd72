import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Router, type NextFunction, type RequestHandler, type Response } from 'express';
import { NotFoundError } from '../errors.ts';
import type { RouteDoc } from '../http/route-doc.ts';
import { pathParam } from '../http/validate.ts';
import { reportFolder, type Reports, type ReportState } from '../runner/html-report.ts';
import type { RunWithResults } from '../verification/records.ts';
import type { Store } from '../store/store.ts';
import { errorPage, pageErrors } from './error-page.ts';
import type { PagePaths } from './paths.ts';
import { UNTRUSTED_FILE_POLICY, viewerPolicies } from './trace-viewer.ts';

/**
 * Sends one artifact of a run, for the API and the pages alike. Only a file a
 * flow result names is served: the run's folder holds whatever Playwright
 * wrote, and the path a client gives is only a key into that list.
 */
export function sendArtifact(res: Response, next: NextFunction, artifactsDir: string, run: RunWithResults, wanted: string): void {
  const known = run.results.flatMap((r) => r.artifacts).find((a) => a.path === wanted);
  if (!known) throw new NotFoundError('artifact', wanted);
  res.sendFile(
    known.path,
    {
      root: path.join(artifactsDir, run.id),
      dotfiles: 'deny',
      headers: { 'Content-Type': known.contentType, 'Content-Security-Policy': UNTRUSTED_FILE_POLICY, 'X-Content-Type-Options': 'nosniff' },
    },
    (err) => {
      if (err && !res.headersSent) next(new NotFoundError('artifact', wanted));
    },
  );
}

export interface RunFileDeps {
  readonly store: Pick<Store, 'getRun'>;
  /** `storage.artifacts`. */
  readonly artifactsDir: string;
  readonly paths: PagePaths;
  /** Builds a finished run's report on first ask; without it, only a report already on disk is served. */
  readonly reports?: Pick<Reports, 'ensure'>;
}

/** `/runs/:id/artifacts/…` and `/runs/:id/report/…` for the pages, behind the page auth check. */
export function runFileRoutes(deps: RunFileDeps): Router {
  const { store, artifactsDir, paths } = deps;
  const reports = deps.reports ?? onDisk(artifactsDir);
  const policies = viewerPolicies();
  const router = Router();
  router.param('id', pathParam('id'));

  router.get('/runs/:id/artifacts/*artifact', async (req, res, next) => {
    const run = await store.getRun(req.params.id);
    if (!run) throw new NotFoundError('run', req.params.id);
    sendArtifact(res, next, artifactsDir, run, (req.params as unknown as { artifact: string[] }).artifact.join('/'));
  });

  // One handler for the folder and its files: routing does not tell `/report` from `/report/`, the path does.
  const report: RequestHandler<{ id: string; file?: string[] }> = async (req, res, next) => {
    const segments = req.params.file ?? [];
    // Relative, so it keeps a path prefix a proxy stripped; the report's own links need the slash.
    if (segments.length === 0 && !req.path.endsWith('/')) return res.redirect(301, `${encodeURIComponent(req.params.id)}/report/`);
    const run = await store.getRun(req.params.id);
    if (!run) throw new NotFoundError('run', req.params.id);
    const state = await reports.ensure(run.id, run.status !== 'queued' && run.status !== 'running');
    if (state.kind !== 'ready') return notReady(res, state, paths);
    // Decoded segments: one may hold '/' or '..' from %2F or %2E; none may leave the folder.
    if (segments.some((s) => s === '' || s === '.' || s === '..' || /[/\\\0]/.test(s))) throw new NotFoundError('report file', segments.join('/'));
    const relative = segments.length === 0 ? 'index.html' : segments.join('/');
    const file = path.join(state.folder, relative);
    if (!isFile(file)) throw new NotFoundError('report file', relative);
    // The report and its trace viewer are Playwright's apps; what a flow attached (data/) is anyone's file.
    if (relative === 'index.html' || relative.startsWith('trace/')) policies.apply(res, file);
    else res.set('Content-Security-Policy', UNTRUSTED_FILE_POLICY);
    res.sendFile(relative, { root: state.folder, dotfiles: 'deny' }, (err) => {
      if (err && !res.headersSent) next(new NotFoundError('report file', relative));
    });
  };
  router.get('/runs/:id/report', report);
  router.get('/runs/:id/report/*file', report);

  router.use(['/runs/:id/artifacts', '/runs/:id/report'], pageErrors(paths));
  return router;
}

function notReady(res: Response, state: Exclude<ReportState, { kind: 'ready' }>, paths: PagePaths): void {
  const message =
    state.kind === 'pending' ? 'The report is written when the run ends; this page will have it then.' : `This run has no Playwright report: ${state.reason}.`;
  res.status(404).set('Cache-Control', 'no-store').type('html').send(errorPage(404, 'No report (yet)', message, paths));
}

/** Without the report builder: a report already written is served, none is built. */
function onDisk(artifactsDir: string): Pick<Reports, 'ensure'> {
  return {
    async ensure(runId, runFinished) {
      const folder = reportFolder(artifactsDir, runId);
      if (existsSync(path.join(folder, 'index.html'))) return { kind: 'ready', folder };
      return runFinished ? { kind: 'none', reason: 'it wrote no results' } : { kind: 'pending' };
    },
  };
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export const runFileDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/runs/:id/artifacts/*artifact',
    summary: 'One artifact of a run (a screenshot, a trace) for the pages; only files a flow result names',
    responses: {
      200: { description: 'the file, with the content type its flow result gives', contentType: 'application/octet-stream' },
      404: { description: 'no such run or artifact' },
    },
    auth: 'page',
  },
  {
    method: 'get',
    path: '/runs/:id/report',
    summary: "The run's Playwright HTML report: `/runs/:id/report/` is its index.html; without the slash, a redirect to it",
    responses: {
      200: { description: "the report's index.html", contentType: 'text/html' },
      301: { description: 'to /runs/:id/report/' },
      404: { description: 'no such run, or no report (yet)', contentType: 'text/html' },
    },
    auth: 'page',
  },
  {
    method: 'get',
    path: '/runs/:id/report/*file',
    summary: "The run's Playwright HTML report (built when first asked for once the run ended), traces included",
    responses: {
      200: { description: 'a file of the report', contentType: 'text/html' },
      404: { description: 'no such run, no report (yet), or no such file in it', contentType: 'text/html' },
    },
    auth: 'page',
  },
];
