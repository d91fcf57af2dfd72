/**
 * Where each page lives, under the path prefix of `server.publicUrl`
 * (`https://ci.example.com/smoke` serves the pages under `/smoke/…`). Links in
 * pages are root-relative with that prefix, so they work behind a proxy
 * whatever host name the browser used.
 */
export interface PagePaths {
  /** '' or a path without a trailing slash, e.g. '/smoke'. */
  readonly prefix: string;
  home(): string;
  deployment(id: string): string;
  run(id: string): string;
  schedules(): string;
  /** The run's Playwright HTML report (a folder: the trailing slash matters for its relative links). */
  report(runId: string): string;
  /** One artifact of a run, by its path relative to the run's artifact folder. */
  artifact(runId: string, artifactPath: string): string;
  /** Playwright's trace viewer, opening the given trace (a root-relative URL of an artifact). */
  trace(traceUrl: string): string;
  login(next?: string): string;
  asset(name: string): string;
}

/** The path part of `server.publicUrl`, without a trailing slash; '' when unset or at the root. */
export function pathPrefix(publicUrl: string | undefined): string {
  if (!publicUrl) return '';
  return new URL(publicUrl).pathname.replace(/\/+$/, '');
}

const segments = (p: string) => p.split('/').map(encodeURIComponent).join('/');

export function pagePaths(prefix: string): PagePaths {
  return {
    prefix,
    home: () => `${prefix}/`,
    deployment: (id) => `${prefix}/deployments/${encodeURIComponent(id)}`,
    run: (id) => `${prefix}/runs/${encodeURIComponent(id)}`,
    schedules: () => `${prefix}/schedules`,
    report: (runId) => `${prefix}/runs/${encodeURIComponent(runId)}/report/`,
    artifact: (runId, artifactPath) => `${prefix}/runs/${encodeURIComponent(runId)}/artifacts/${segments(artifactPath)}`,
    trace: (traceUrl) => `${prefix}/trace/index.html?trace=${encodeURIComponent(traceUrl)}`,
    login: (next) => `${prefix}/login${next ? `?next=${encodeURIComponent(next)}` : ''}`,
    asset: (name) => `${prefix}/assets/${name}`,
  };
}
