import type { DeploymentView, Outcome } from './client.ts';

/** `smoke verify`'s exit codes: a pipeline rolls back on 1 only. */
export const EXIT = { pass: 0, fail: 1, other: 2 } as const;

export function exitCodeOf(outcome: Outcome): number {
  if (outcome.kind !== 'done') return EXIT.other;
  if (outcome.deployment.verdict === 'pass') return EXIT.pass;
  if (outcome.deployment.verdict === 'fail') return EXIT.fail;
  return EXIT.other;
}

interface FlowView {
  readonly flow: string;
  readonly outcome: string;
  /** `viewer`: a trace opened in the trace viewer smoke serves (smoke 0.2 on). */
  readonly artifacts?: readonly { readonly name: string; readonly url: string; readonly viewer?: string }[];
}

/** What a person reads in the pipeline log: the verdict, why, and where to look. */
export function describeOutcome(outcome: Outcome, timeoutSeconds: number): string {
  if (outcome.kind === 'unreachable') return `smoke verify: ${outcome.message}\n`;
  if (outcome.kind === 'rejected') return `smoke verify: smoke refused the request (HTTP ${outcome.status}): ${outcome.message}\n`;
  const d = outcome.deployment;
  const lines: string[] = [];
  const subject = `${String(d.service)} ${String(d.version)} on ${String(d.environment)}${d.baseline ? ` (baseline ${String(d.baseline)})` : ''}`;
  if (outcome.kind === 'timeout') {
    lines.push(`TIMEOUT  ${subject}: no verdict after ${timeoutSeconds} s (still ${d.status}); the verification goes on`);
  } else if (d.verdict === null) {
    lines.push(`SUPERSEDED  ${subject}: a newer deploy (${String(d.supersededBy ?? 'unknown')}) replaced this verification`);
  } else {
    lines.push(`${d.verdict.toUpperCase()}  ${subject}`);
  }
  for (const reason of (d.reasons as string[] | undefined) ?? []) lines.push(`  - ${reason}`);
  for (const flow of failedFlows(d)) {
    for (const artifact of flow.artifacts ?? []) lines.push(`    ${artifact.name} of "${flow.flow}": ${artifact.viewer ?? artifact.url}`);
  }
  const links = (d.links ?? {}) as { self?: string; run?: string; page?: string };
  // The page is what a person opens; an older smoke without pages gets its API links printed instead.
  if (links.page) lines.push(`details: ${links.page}`);
  else {
    if (links.run) lines.push(`run: ${links.run}`);
    if (links.self) lines.push(`deployment: ${links.self}`);
  }
  return `${lines.join('\n')}\n`;
}

function failedFlows(d: DeploymentView): FlowView[] {
  const environments = ((d.run as { environments?: Record<string, { flows?: FlowView[] }> } | null)?.environments ?? {}) as Record<string, { flows?: FlowView[] }>;
  const target = environments[String(d.environment)];
  return (target?.flows ?? []).filter((f) => f.outcome === 'failed');
}
