import { pagePaths, pathPrefix } from './pages/paths.ts';

/**
 * Absolute links to what smoke serves, built in this one place so the API's
 * answers, the rollback webhook, the gates and the CLI point at the same URLs.
 * `base` is `server.publicUrl` (it may carry a path, e.g.
 * `https://ci.example.com/smoke`: pages and API both live under it) or, when
 * that is unset, the address the request came in on.
 */
export interface Links {
  /** The JSON API, for programs. */
  readonly api: {
    deployment(id: string): string;
    run(id: string): string;
    artifact(runId: string, artifactPath: string): string;
    schedule(name: string): string;
    signal(id: string): string;
  };
  /** The pages, for people: what a message tells them to open. */
  readonly page: {
    deployment(id: string): string;
    run(id: string): string;
    /** The run's Playwright HTML report (present once the run wrote it). */
    report(runId: string): string;
    /** A trace of the run, opened in Playwright's trace viewer that smoke serves. */
    trace(runId: string, tracePath: string): string;
  };
}

const segments = (p: string) => p.split('/').map(encodeURIComponent).join('/');

export function linksFrom(base: string): Links {
  const root = base.replace(/\/+$/, '');
  const origin = originOf(root);
  // Page paths carry the prefix; put the origin in front for an absolute URL.
  const pages = pagePaths(pathPrefixOf(root));
  return {
    api: {
      deployment: (id) => `${root}/api/v1/deployments/${encodeURIComponent(id)}`,
      run: (id) => `${root}/api/v1/runs/${encodeURIComponent(id)}`,
      artifact: (runId, artifactPath) => `${root}/api/v1/runs/${encodeURIComponent(runId)}/artifacts/${segments(artifactPath)}`,
      schedule: (name) => `${root}/api/v1/schedules/${encodeURIComponent(name)}`,
      signal: (id) => `${root}/api/v1/signals/${encodeURIComponent(id)}`,
    },
    page: {
      deployment: (id) => origin + pages.deployment(id),
      run: (id) => origin + pages.run(id),
      report: (runId) => origin + pages.report(runId),
      // The viewer fetches the trace from its own origin: the trace's URL stays root-relative.
      trace: (runId, tracePath) => origin + pages.trace(pages.artifact(runId, tracePath)),
    },
  };
}

function originOf(root: string): string {
  try {
    return new URL(root).origin;
  } catch {
    return '';
  }
}

function pathPrefixOf(root: string): string {
  try {
    return pathPrefix(root);
  } catch {
    // Not an absolute URL (no host known yet): treat it as the prefix itself.
    return root;
  }
}
