import type { Request } from 'express';
import { linksFrom, type Links } from '../links.ts';
import type { DeploymentRecord, RunRecord, RunWithResults } from '../verification/records.ts';
import type { AttemptCounts, FlowResult, Verdict } from '../verdict/types.ts';

/** Builds absolute links: from `server.publicUrl` when set, else from the request's own host. */
export type LinkBase = (req: Request) => string;

export function linkBase(publicUrl: string | undefined): LinkBase {
  return (req) => publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/**
 * Every view carries both kinds of link: `link`/`links.self` into this API for
 * programs, `page`/`links.page` to the page a person opens.
 */
export function deploymentView(base: string, deployment: DeploymentRecord, latestRun: RunWithResults | undefined, runs: readonly RunRecord[]) {
  const links = linksFrom(base);
  return {
    id: deployment.id,
    deploymentId: deployment.idempotencyKey ?? null,
    service: deployment.service,
    environment: deployment.environment,
    baseline: deployment.baseline ?? null,
    version: deployment.version,
    status: deployment.status,
    ...verdictView(deployment.verdict),
    supersededBy: deployment.supersededBy ?? null,
    createdAt: deployment.createdAt,
    startedAt: deployment.startedAt ?? null,
    finishedAt: deployment.finishedAt ?? null,
    run: latestRun ? runView(base, latestRun) : null,
    runs: runs.map((r) => ({
      id: r.id,
      status: r.status,
      note: r.note ?? null,
      replica: r.replica ?? null,
      link: links.api.run(r.id),
      page: links.page.run(r.id),
    })),
    links: {
      self: links.api.deployment(deployment.id),
      page: links.page.deployment(deployment.id),
      ...(latestRun && { run: links.api.run(latestRun.id) }),
    },
  };
}

export function runSummaryView(base: string, run: RunRecord) {
  const links = linksFrom(base);
  return {
    id: run.id,
    deploymentId: run.deploymentId ?? null,
    trigger: run.trigger,
    schedule: run.schedule ?? null,
    target: run.target,
    environments: run.environments,
    status: run.status,
    verdict: run.verdict?.kind ?? null,
    note: run.note ?? null,
    createdAt: run.createdAt,
    startedAt: run.startedAt ?? null,
    finishedAt: run.finishedAt ?? null,
    /** `server.instanceId` of the replica that ran it; null until it starts (and for runs from before replicas were recorded). */
    replica: run.replica ?? null,
    link: links.api.run(run.id),
    page: links.page.run(run.id),
  };
}

export function runView(base: string, run: RunWithResults) {
  const links = linksFrom(base);
  const environments: Record<string, { reachability: unknown; flows: unknown[] }> = {};
  for (const name of run.environments) {
    environments[name] = {
      reachability: run.reachability?.[name] ?? null,
      flows: run.results.filter((r) => r.environment === name).map((r) => flowView(links, run.id, r)),
    };
  }
  return {
    ...runSummaryView(base, run),
    ...verdictView(run.verdict),
    runner: run.outcome ?? null,
    environments,
    attempts: run.attempts ? attemptsView(run.attempts) : null,
    timings: run.timings ?? null,
    diagnostics: run.diagnostics,
    // The report answers 404 until the run has written it.
    links: { self: links.api.run(run.id), page: links.page.run(run.id), report: links.page.report(run.id) },
  };
}

/** Browser attempts, in total and by environment and how each ended. */
function attemptsView(attempts: AttemptCounts) {
  const total = Object.values(attempts).reduce((sum, counts) => sum + Object.values(counts).reduce((a, b) => a + b, 0), 0);
  return { total, environments: attempts };
}

function flowView(links: Links, runId: string, result: FlowResult) {
  return {
    flow: result.flow,
    file: result.file,
    line: result.line ?? null,
    outcome: result.outcome,
    durationMs: result.durationMs,
    retries: result.retries,
    error: result.error ?? null,
    /** Set when the browser or runner broke under the flow: the service's fault, not the deploy's. */
    fault: result.fault ?? null,
    artifacts: result.artifacts.map((a) => ({
      name: a.name,
      contentType: a.contentType,
      url: links.api.artifact(runId, a.path),
      ...(a.name === 'trace' && { viewer: links.page.trace(runId, a.path) }),
    })),
  };
}

function verdictView(verdict: Verdict | undefined) {
  return {
    verdict: verdict?.kind ?? null,
    reasons: verdict?.reasons ?? [],
    ...(verdict?.kind === 'fail' && { failed: verdict.failed }),
    ...(verdict?.kind === 'pass' && { flaky: verdict.flaky }),
    ...(verdict?.kind === 'inconclusive' && { cause: verdict.cause }),
  };
}
