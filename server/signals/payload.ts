import { linksFrom } from '../links.ts';
import type { DeploymentRecord, RunWithResults } from '../verification/records.ts';
import type { Verdict } from '../verdict/types.ts';
import type { SignalEvent } from './config.ts';

/** The event a verdict leads to. */
export function eventFor(verdict: Verdict): SignalEvent {
  switch (verdict.kind) {
    case 'fail':
      return 'deployment.rollback_requested';
    case 'pass':
      return 'deployment.verified';
    case 'inconclusive':
      return 'deployment.inconclusive';
  }
}

/**
 * The body of a signal, built once when it enters the outbox and sent
 * byte-for-byte on every attempt (the signature covers it). Links are
 * absolute, from `server.publicUrl`, so an on-call engineer can open them
 * from wherever the receiver shows them: `links.page` is the one to show a
 * person (the deployment's page: verdict, screenshots, traces); the API links
 * stay for programs.
 */
export function buildPayload(event: SignalEvent, deployment: DeploymentRecord, run: RunWithResults | undefined, base: string, now: Date): string {
  const verdict = deployment.verdict;
  const links = linksFrom(base);
  const failedFlows =
    verdict?.kind === 'fail'
      ? verdict.failed.map((failed) => {
          const result = run?.results.find((r) => r.flow === failed.flow && r.environment === failed.environment);
          const screenshot = result?.artifacts.find((a) => a.name === 'screenshot');
          const trace = result?.artifacts.find((a) => a.name === 'trace');
          return {
            flow: failed.flow,
            environment: failed.environment,
            error: failed.error ?? null,
            screenshot: screenshot && run ? links.api.artifact(run.id, screenshot.path) : null,
            trace: trace && run ? links.api.artifact(run.id, trace.path) : null,
            traceViewer: trace && run ? links.page.trace(run.id, trace.path) : null,
          };
        })
      : [];
  return JSON.stringify({
    type: event,
    timestamp: now.toISOString(),
    data: {
      deploymentId: deployment.id,
      idempotencyKey: deployment.idempotencyKey ?? null,
      service: deployment.service,
      environment: deployment.environment,
      baseline: deployment.baseline ?? null,
      version: deployment.version,
      verdict: verdict?.kind ?? null,
      reasons: verdict?.reasons ?? [],
      ...(verdict?.kind === 'inconclusive' && { cause: verdict.cause }),
      ...(verdict?.kind === 'pass' && { flakyFlows: verdict.flaky }),
      failedFlows,
      links: {
        page: links.page.deployment(deployment.id),
        deployment: links.api.deployment(deployment.id),
        run: run ? links.api.run(run.id) : null,
      },
    },
  });
}
